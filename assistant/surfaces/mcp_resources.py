"""MCP resources: the library listing and each chunk, as JSON, for clients that browse rather than call.

- `mcdewey://library`: the record the `list_library` tool returns.
- `mcdewey://chunks/{chunk_id}`: the record the `get_chunk` tool returns (chunk_id, text, page, url,
  file_url, ...). A chunk id (`product::version::doc::file::N`) may be written as is — `:` is allowed in
  a URI path and the id never holds `/` — or percent-encoded (`urllib.parse.quote(chunk_id, safe="")`,
  `%3A%3A` for `::`); the server always percent-decodes it, so an id holding `%`, `#`, `?`, a space or
  non-ASCII letters must be encoded.

A bad or unknown chunk id is a resource error: the SDK answers `resources/read` with a JSON-RPC error
whose message holds the reason (the official client raises `McpError`); the session goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ResourceError
from mcp.server.fastmcp.resources import Resource
from pydantic import BaseModel

from assistant.errors import McDeweyError
from assistant.service import LibraryService
from assistant.surfaces.links import chunk_record

T = TypeVar("T")

LIBRARY_URI = "mcdewey://library"
CHUNK_URI_TEMPLATE = "mcdewey://chunks/{chunk_id}"
JSON = "application/json"

LIBRARY_DOC = """The library as JSON: vendors → products → versions → documents, each document with its doc
slug, title, number of files, pages and chunks (the record the list_library tool returns)."""

CHUNK_DOC = """One chunk as JSON, by its chunk_id from search_docs (the record the get_chunk tool returns:
text, page, heading trail, url, file_url). Percent-encode the id (`%3A%3A` for `::`) when it holds
characters other than letters, digits, `._+-` and `::`; an unknown id is an error."""


def _json(model: BaseModel) -> str:
    """The same JSON a tool's structured content holds for `model`."""
    return model.model_dump_json(by_alias=True, indent=2)


async def _read(fn: Callable[[], T]) -> T:
    """Run a blocking service call off the event loop; its errors become resource errors with the reason."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except McDeweyError as exc:
        raise ResourceError(str(exc)) from exc


class _Refused(Resource):
    """A chunk that cannot be read, failing when it is read: an error raised while the SDK makes a resource
    from a template reaches the client with "Error creating resource from template: " written twice."""

    reason: str

    async def read(self) -> str:
        raise ResourceError(self.reason)


def register_resources(mcp: FastMCP, service: LibraryService, base: str) -> None:
    """Add the library resource and the chunk template to `mcp`; links in records use `base`."""

    @mcp.resource(LIBRARY_URI, name="library", title="The library", description=LIBRARY_DOC, mime_type=JSON)
    async def library() -> str:
        return _json(await _read(service.list_library))

    @mcp.resource(CHUNK_URI_TEMPLATE, name="chunk", title="A chunk by id", description=CHUNK_DOC, mime_type=JSON)
    async def chunk(chunk_id: str) -> str | Resource:
        wanted = unquote(chunk_id)
        try:
            return _json(chunk_record(await _read(lambda: service.get_chunk(wanted)), base))
        except ResourceError as exc:
            return _Refused(uri=f"mcdewey://chunks/{chunk_id}", reason=str(exc))
