"""Writing the library: uploads, removal to a trash and restore, and the jobs that index each change.

The one home every surface calls to change the library (REST, MCP, the web page, the CLI); the read-only
`LibraryService` stays read-only. `LibraryAdmin` (`admin.py`) is the entry point.
"""
