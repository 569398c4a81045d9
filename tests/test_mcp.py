"""MCP over streamable HTTP with the official client (and the MCP Inspector CLI, when npx exists)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fixtures_server import mcp_session
from mcp.types import CallToolResult, TextContent

from assistant.surfaces.admin_mcp import ADMIN_TOOLS

TOOLS = {"search_docs", "get_chunk", "get_context", "list_library"}
INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"  # the last release that runs on Node 20


def structured(result: CallToolResult) -> Any:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    content = result.structuredContent
    return content["result"] if set(content) == {"result"} else content


def error_text(result: CallToolResult) -> str:
    assert result.isError
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def rest(base_url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base_url}{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


async def test_lists_four_described_tools(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS | ADMIN_TOOLS  # the library management tools: tests/test_admin_mcp.py
    for tool in (tools[name] for name in TOOLS):
        assert tool.description and len(tool.description) > 80
        assert tool.outputSchema is not None
    for name in ("search_docs", "get_chunk", "get_context"):
        description = tools[name].description or ""
        assert "cite" in description.lower() and "url" in description and "page" in description
    assert set(tools["search_docs"].inputSchema["properties"]) == {"query", "top_k", "product", "version", "doc"}


async def test_search_docs_equals_rest_and_service(server_url: str, service: Any) -> None:
    query = "how is the routing table declared"
    async with mcp_session(server_url) as session:
        records = structured(await session.call_tool("search_docs", {"query": query, "top_k": 6}))
    assert records == rest(server_url, "/api/search", q=query, top_k=6)
    expected = service.search(query, 6)
    assert [r["chunk_id"] for r in records] == [c.chunk_id for c in expected]
    for record, chunk in zip(records, expected, strict=True):
        links = ("url", "file_url", "view_url")
        assert {k: v for k, v in record.items() if k not in links} == chunk.model_dump(mode="json")
        assert record["url"].startswith(f"{server_url}/docs/") and record["file_url"].startswith(f"{server_url}/files/")


async def test_search_docs_filters(server_url: str) -> None:
    async with mcp_session(server_url) as session:
        records = structured(await session.call_tool(
            "search_docs", {"query": "routing table", "product": "acme", "version": "1.6"}))
        exact = structured(await session.call_tool("search_docs", {"query": "UmssMtaBadMail", "top_k": 3}))
    assert records and {(r["product"], r["version"]) for r in records} == {("acme", "1.6")}
    assert exact[0]["product"] == "acme" and "UmssMtaBadMail" in exact[0]["text"]


async def test_get_chunk_get_context_list_library(server_url: str) -> None:
    hit = rest(server_url, "/api/search", q="UmssMtaBadMail")[0]
    cid = hit["chunk_id"]
    async with mcp_session(server_url) as session:
        chunk = structured(await session.call_tool("get_chunk", {"chunk_id": cid}))
        context = structured(await session.call_tool("get_context", {"chunk_id": cid, "before": 1, "after": 1}))
        listing = structured(await session.call_tool("list_library", {}))
    assert chunk == rest(server_url, f"/api/chunks/{quote(cid, safe='')}")
    assert chunk["url"] == hit["url"] and chunk["file_url"] == hit["file_url"]
    assert cid in [r["chunk_id"] for r in context]
    assert [r["ordinal"] for r in context] == list(range(context[0]["ordinal"], context[0]["ordinal"] + len(context)))
    assert context == rest(server_url, f"/api/chunks/{quote(cid, safe='')}/context")
    assert listing == rest(server_url, "/api/library")
    products = {p["product"] for v in listing["vendors"] for p in v["products"]}
    assert {"acme", "mcdewey"} <= products


@pytest.mark.parametrize(
    ("tool", "arguments", "reason"),
    [
        ("search_docs", {"query": "routing", "product": "nosuchproduct"}, "unknown product 'nosuchproduct'"),
        ("search_docs", {"query": "routing", "product": "acme", "version": "9.9"}, "unknown version '9.9'"),
        ("search_docs", {"query": "   "}, "query is empty"),
        ("search_docs", {"query": "routing", "top_k": 0}, "top_k must be between 1 and"),
        ("search_docs", {"query": "routing", "top_k": 10000}, "top_k must be between 1 and"),
        ("search_docs", {"top_k": 3}, "query"),
        ("get_chunk", {"chunk_id": "acme::2.0::admin-guide::admin::999"}, "no chunk"),
        ("get_chunk", {"chunk_id": "nonsense"}, "not a chunk id"),
        ("get_context", {"chunk_id": "acme::2.0::admin-guide::admin::0", "before": 99}, "before and after"),
    ],
)
async def test_errors_are_tool_errors_with_reason(
    server_url: str, tool: str, arguments: dict[str, Any], reason: str
) -> None:
    async with mcp_session(server_url) as session:
        result = await session.call_tool(tool, arguments)
        assert reason in error_text(result)
        # the session survives a bad call
        assert structured(await session.call_tool("list_library", {}))["chunks"] > 0


async def test_mcp_with_token(start_server: Any) -> None:
    url = start_server(api_token="mcp-token")
    async with mcp_session(url, token="mcp-token") as session:
        records = structured(await session.call_tool("search_docs", {"query": "UmssMtaBadMail", "top_k": 2}))
    assert records[0]["url"].startswith(f"{url}/docs/")
    with pytest.raises(Exception):  # noqa: B017 - the client surfaces the 401 in its own way
        async with mcp_session(url, token="wrong") as session:
            await session.list_tools()


def test_mcp_answers_without_redirect(server_url: str) -> None:
    response = httpx.post(
        f"{server_url}/mcp", timeout=30,
        headers={"accept": "application/json, text/event-stream", "content-type": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
    )
    assert response.status_code == 200, response.text
    assert "McDewey" in response.text


def test_mcp_rejects_foreign_host_header(server_url: str) -> None:
    response = httpx.post(
        f"{server_url}/mcp", timeout=30, json={},
        headers={"host": "evil.example", "accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 421


def test_inspector_cli_lists_tools(server_url: str) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed (the MCP Inspector CLI runs through npx)")
    command = [npx, "-y", INSPECTOR, "--cli", f"{server_url}/mcp", "--transport", "http", "--method", "tools/list"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("npx did not finish within 10 minutes (downloading the inspector from the npm registry?)")
    if done.returncode != 0 and ("ENOTFOUND" in done.stderr or "ETIMEDOUT" in done.stderr
                                 or "EAI_AGAIN" in done.stderr or "ECONNREFUSED registry" in done.stderr):
        pytest.skip(f"the npm registry is unreachable: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout)
    assert {t["name"] for t in listed["tools"]} == TOOLS | ADMIN_TOOLS
