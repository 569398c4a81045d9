"""What agents expect of an MCP server since spec 2025-06-18 / 2025-11-25, with the official client:
tool titles and annotations, output schemas, the library and its chunks as resources."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from fixtures_server import mcp_session
from mcp import McpError
from mcp.types import ReadResourceResult, TextResourceContents
from pydantic import AnyUrl
from test_mcp import TOOLS, rest, structured

from assistant.surfaces.admin_mcp import ADMIN_TOOLS, JOB_URI_TEMPLATE

LIBRARY_URI = "mcdewey://library"
CHUNK_TEMPLATE = "mcdewey://chunks/{chunk_id}"
CHUNK_ID = "acme::2.0::admin-guide::admin::0"


def json_of(result: ReadResourceResult, uri: str) -> Any:
    """The one JSON text content a resource read returns."""
    assert len(result.contents) == 1
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mimeType == "application/json" and str(content.uri) == uri
    return json.loads(content.text)


async def test_every_tool_has_title_annotations_and_output_schema(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools if t.name not in ADMIN_TOOLS}
        calls = {
            "search_docs": {"query": "routing table", "top_k": 3},
            "get_chunk": {"chunk_id": CHUNK_ID},
            "get_context": {"chunk_id": CHUNK_ID},
            "list_library": {},
        }
        results = {name: await session.call_tool(name, arguments) for name, arguments in calls.items()}
    assert set(tools) == TOOLS == set(calls)
    titles = set()
    for name, tool in tools.items():
        assert tool.title and tool.title != name
        titles.add(tool.title)
        hints = tool.annotations
        assert hints is not None, name
        assert hints.title == tool.title
        assert (hints.readOnlyHint, hints.idempotentHint, hints.destructiveHint, hints.openWorldHint) == (
            True, True, False, False)
        # the output schema is advertised and the structured content of a real call satisfies it
        assert tool.outputSchema is not None and tool.outputSchema["type"] == "object"
        assert not results[name].isError
        jsonschema.validate(results[name].structuredContent, tool.outputSchema)
    assert len(titles) == len(tools)
    assert {"chunk_id", "text", "url", "file_url"} <= set(tools["get_chunk"].outputSchema["properties"])  # type: ignore[index]
    assert set(tools["search_docs"].outputSchema["properties"]) == {"result"}  # type: ignore[index]


async def test_resources_list_shows_the_library(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        assert session.get_server_capabilities().resources is not None  # type: ignore[union-attr]
        resources = (await session.list_resources()).resources
    assert [str(r.uri) for r in resources] == [LIBRARY_URI]
    library = resources[0]
    assert library.name == "library" and library.title and library.mimeType == "application/json"
    assert library.description and "list_library" in library.description


async def test_resource_templates_list_shows_the_chunk_template(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        templates = (await session.list_resource_templates()).resourceTemplates
    assert [t.uriTemplate for t in templates] == [CHUNK_TEMPLATE, JOB_URI_TEMPLATE]  # jobs: test_admin_mcp
    chunk = templates[0]
    assert chunk.name == "chunk" and chunk.title and chunk.mimeType == "application/json"
    assert chunk.description and "get_chunk" in chunk.description and "%3A%3A" in chunk.description


async def test_read_library_resource_is_the_listing(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        listing = json_of(await session.read_resource(AnyUrl(LIBRARY_URI)), LIBRARY_URI)
        tool = structured(await session.call_tool("list_library", {}))
    assert listing == tool == rest(server_url, "/api/library")
    assert {"acme", "mcdewey"} <= {p["product"] for v in listing["vendors"] for p in v["products"]}


@pytest.mark.parametrize("encode", [False, True], ids=["as-is", "percent-encoded"])
async def test_read_chunk_resource_is_get_chunk(server_url: str, encode: bool) -> None:
    hit = rest(server_url, "/api/search", q="UmssMtaBadMail")[0]
    cid = hit["chunk_id"]
    assert "::" in cid
    uri = f"mcdewey://chunks/{quote(cid, safe='') if encode else cid}"
    async with mcp_session(server_url) as session:
        record = json_of(await session.read_resource(AnyUrl(uri)), uri)
        tool = structured(await session.call_tool("get_chunk", {"chunk_id": cid}))
    assert record == tool == rest(server_url, f"/api/chunks/{quote(cid, safe='')}")
    assert record["chunk_id"] == cid and "UmssMtaBadMail" in record["text"]
    assert (record["url"], record["file_url"]) == (hit["url"], hit["file_url"])


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("mcdewey://chunks/acme::2.0::admin-guide::admin::999", "no chunk"),
        ("mcdewey://chunks/acme%3A%3A2.0%3A%3Aadmin-guide%3A%3Aadmin%3A%3A999", "no chunk"),
        ("mcdewey://chunks/nonsense", "not a chunk id"),
        ("mcdewey://chunks/acme::2.0/admin-guide::admin::0", "Unknown resource"),
        ("mcdewey://nothing", "Unknown resource"),
    ],
)
async def test_bad_resource_is_an_error_not_a_crash(server_url: str, uri: str, reason: str) -> None:
    async with mcp_session(server_url) as session:
        with pytest.raises(McpError) as caught:
            await session.read_resource(AnyUrl(uri))
        assert reason in caught.value.error.message
        # the session goes on
        assert json_of(await session.read_resource(AnyUrl(LIBRARY_URI)), LIBRARY_URI)["chunks"] > 0
