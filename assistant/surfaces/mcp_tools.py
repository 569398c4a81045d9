"""The MCP server (official SDK, FastMCP over streamable HTTP): four tools over LibraryService, and the
library and its chunks as resources (`mcp_resources`).

The tools return the same records as REST (`assistant.surfaces.links.chunk_record`), as structured content.
A service error (empty query, unknown filter, unknown chunk) becomes a tool error — a result with
isError and the reason — so an agent can correct its call; nothing is silently widened.

Each tool builds its CallToolResult itself (`Annotated[CallToolResult, <type>]`): the advertised output
schema and the result are the same as FastMCP would make, but the result is checked with the pydantic
model instead of the SDK's per-call jsonschema validation, which cost more than the search itself
(~25 ms a call; a third of the server's CPU under 50 concurrent clients).

Every tool has a title and annotations (spec 2025-06-18 / 2025-11-25): all four only read the library,
so readOnlyHint and idempotentHint are true, destructiveHint and openWorldHint false (the library is a
closed set of documents, nothing outside it is reached).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, TypedDict, TypeVar
from urllib.parse import urlparse

import anyio
import pydantic_core
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from assistant.errors import McDeweyError
from assistant.service import MAX_CONTEXT, LibraryListing, LibraryService
from assistant.settings import Settings
from assistant.surfaces.links import ChunkRecord, chunk_record, chunk_records
from assistant.surfaces.mcp_resources import register_resources
from assistant.surfaces.search_lane import searching

T = TypeVar("T")

INSTRUCTIONS = """McDewey is a library of vendor documentation (several vendors, products and versions).
Use search_docs to find passages; answer only from what it returns and cite each passage with its
doc_title, version, page (page_label if printed differently) and url. Use list_library to learn the
exact product and version names before filtering. Use get_context to read around a passage.
The library listing is also the resource mcdewey://library, and each chunk mcdewey://chunks/{chunk_id}."""

CITE = (
    "Cite a passage as: doc_title, version, p. <page> (printed <page_label> when it differs), "
    "and its url (the passage in its document's context; file_url opens the original file at that page)."
)

SEARCH_DOC = f"""Search the documentation library (hybrid: semantic + exact terms) and return the best
passages, best first. Each result is a chunk record: chunk_id, text, vendor, product, version, doc,
doc_title, source (file path), page / page_end / page_label (null for unpaged formats such as HTML),
heading (section trail), score (0–1 fused rank score), similarity, url and file_url.
Filters take exact names from list_library; an unknown product/version/doc is an error, not a wider
search. When no filter is given and the query names one product (and version), the search is narrowed
to it. top_k: 1–50, default 8. {CITE}"""

GET_CHUNK_DOC = f"""Return one chunk record by its chunk_id (as returned by search_docs), with its full
text, page, heading trail, url and file_url. Unknown ids are an error. {CITE}"""

GET_CONTEXT_DOC = f"""Return the chunk with `before` preceding and `after` following chunks of the same
file (0–{MAX_CONTEXT} each), in document order, to read a passage in context. Each item is a chunk
record. {CITE}"""

LIST_DOC = """List the library: vendors → products → versions → documents, each document with its
doc slug, title, number of files, pages and chunks, and its entry file. Use the product, version and doc
names exactly as listed for the filters of search_docs."""

TITLES = {
    "search_docs": "Search the documentation",
    "get_chunk": "Get a passage by id",
    "get_context": "Read a passage in context",
    "list_library": "List the library",
}


class ToolLabels(TypedDict):
    title: str
    annotations: ToolAnnotations


def read_only(name: str) -> ToolLabels:
    """`title=` and `annotations=` of a tool that only reads the library."""
    title = TITLES[name]
    return ToolLabels(title=title, annotations=ToolAnnotations(
        title=title, readOnlyHint=True, idempotentHint=True, destructiveHint=False, openWorldHint=False))


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _host_for_header(host: str) -> str:
    """An IPv6 literal appears bracketed in a Host header."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def allowed_hosts(settings: Settings) -> list[str]:
    """Host names FastMCP's DNS-rebinding check accepts: loopback, the bound host, the public URL.

    A wildcard bind (0.0.0.0) is reached by the machine's own names too; other names need
    MCDEWEY_PUBLIC_URL.
    """
    names = [*LOOPBACK_HOSTS]
    if settings.host in WILDCARD_HOSTS:
        names += [socket.gethostname(), socket.getfqdn()]
    else:
        names.append(_host_for_header(settings.host))
    if settings.public_url:
        public = urlparse(settings.public_url).hostname
        if public:
            names.append(_host_for_header(public))
    unique = list(dict.fromkeys(n for n in names if n))
    return [pattern for n in unique for pattern in (n, f"{n}:*")]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    hosts = allowed_hosts(settings)
    bare = [h for h in hosts if not h.endswith(":*")]
    origins = [f"{scheme}://{h}{port}" for h in bare for scheme in ("http", "https") for port in ("", ":*")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def _result(value: BaseModel | Sequence[BaseModel]) -> CallToolResult:
    """What FastMCP returns for a model (or a list of them, wrapped as {"result": [...]}): the
    structured content, and each model as JSON text for clients that read only text."""
    items = [value] if isinstance(value, BaseModel) else list(value)
    content = [TextContent(type="text", text=pydantic_core.to_json(m, fallback=str, indent=2).decode()) for m in items]
    if isinstance(value, BaseModel):
        return CallToolResult(content=content, structuredContent=value.model_dump(mode="json", by_alias=True))
    return CallToolResult(content=content, structuredContent={
        "result": [m.model_dump(mode="json", by_alias=True) for m in items]})


async def _call(fn: Callable[[], T], lane: Callable[[Callable[[], T]], Awaitable[T]] | None = None) -> T:
    """Run a blocking service call off the event loop (a search in the search lane); its errors become
    tool errors with the reason."""
    try:
        return await (lane(fn) if lane else anyio.to_thread.run_sync(fn))
    except McDeweyError as exc:
        raise ToolError(str(exc)) from exc


def build_mcp(settings: Settings, service: LibraryService) -> FastMCP:
    """A FastMCP server whose tools call `service`; links in records use `settings.base_url()`."""
    mcp = FastMCP(
        name="McDewey",
        instructions=INSTRUCTIONS,
        website_url=settings.base_url(),
        host=settings.host,
        port=settings.port,
        streamable_http_path="/mcp",
        log_level="WARNING",
        transport_security=transport_security(settings),
        # No server-side sessions (MCP 2026-07-28 is stateless for this reason): any replica behind any
        # balancer answers any request, and `initialize` keeps nothing, so a flood of them holds no
        # memory and locks no client out. Each answer is one JSON body, which proxies pass unbuffered.
        stateless_http=True,
        json_response=True,
    )
    base = settings.base_url()

    @mcp.tool(description=SEARCH_DOC, **read_only("search_docs"))
    async def search_docs(
        query: Annotated[str, Field(description="The question or exact terms to look for")],
        top_k: Annotated[int, Field(description="Number of passages, 1–50")] = 8,
        product: Annotated[str | None, Field(description="Exact product name from list_library")] = None,
        version: Annotated[str | None, Field(description="Exact version name from list_library")] = None,
        doc: Annotated[str | None, Field(description="Exact document slug from list_library")] = None,
    ) -> Annotated[CallToolResult, list[ChunkRecord]]:
        chunks = await _call(lambda: service.search(query, top_k, product, version, doc), searching)
        return _result(chunk_records(chunks, base))

    @mcp.tool(description=GET_CHUNK_DOC, **read_only("get_chunk"))
    async def get_chunk(
        chunk_id: Annotated[str, Field(description="product::version::doc::file::N, from search_docs")],
    ) -> Annotated[CallToolResult, ChunkRecord]:
        return _result(chunk_record(await _call(lambda: service.get_chunk(chunk_id)), base))

    @mcp.tool(description=GET_CONTEXT_DOC, **read_only("get_context"))
    async def get_context(
        chunk_id: Annotated[str, Field(description="product::version::doc::file::N, from search_docs")],
        before: Annotated[int, Field(description=f"Chunks before it, 0–{MAX_CONTEXT}")] = 1,
        after: Annotated[int, Field(description=f"Chunks after it, 0–{MAX_CONTEXT}")] = 1,
    ) -> Annotated[CallToolResult, list[ChunkRecord]]:
        return _result(chunk_records(await _call(lambda: service.get_context(chunk_id, before, after)), base))

    @mcp.tool(description=LIST_DOC, **read_only("list_library"))
    async def list_library() -> Annotated[CallToolResult, LibraryListing]:
        return _result(await _call(service.list_library))

    register_resources(mcp, service, base)
    return mcp
