"""The surfaces: every way McDewey is reached, each calling only the service and the answerer.

`server` (one ASGI app) mounts `api` (REST), `mcp_tools` + `mcp_resources` (MCP at /mcp), `web` (the
library pages) and `chat` (Chainlit, rendered by `chat_render`); `cli` is the `mcdewey` command.
`links` is how each of them spells a chunk's URLs, so a citation opens the same page from every
surface.
"""
