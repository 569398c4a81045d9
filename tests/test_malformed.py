"""Malformed bodies get a 4xx (on /mcp, a JSON-RPC error) with a reason a client can act on, never a 500.

Each case answered 500 (or was dropped) before issue 24: bytes that are not UTF-8 in an MCP body, 200,000
nested `[` in MCP params, a lone surrogate in `/api/ask` and in `search_docs`, a JSON-RPC id that is an
object. The server goes on serving after each.
"""

from __future__ import annotations

import json

import httpx
import pytest

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
NESTED = 200_000


def post_mcp(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/mcp", content=body, headers=MCP_HEADERS, timeout=60)


def rpc_error(got: httpx.Response) -> dict[str, object]:
    assert 400 <= got.status_code < 500, f"{got.status_code}: {got.text[:300]}"
    error = got.json()["error"]
    assert isinstance(error, dict)
    return error


def call(name: str, arguments: str) -> bytes:
    """A tools/call whose arguments are written as raw JSON text (escapes kept as sent)."""
    return ('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"' + name + '","arguments":'
            + arguments + "}}").encode()


def test_mcp_body_that_is_not_utf8(server_url: str) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"initialize\xff\xfe","params":{}}'
    error = rpc_error(post_mcp(server_url, body))
    assert error["code"] == -32700 and "not UTF-8" in str(error["message"]) and "0xff" in str(error["message"])


def test_mcp_params_nested_too_deeply(server_url: str) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + b"[" * NESTED + b"]" * NESTED + b"}"
    assert len(body) < 1 << 20  # under the body limit: the depth is what is refused
    error = rpc_error(post_mcp(server_url, body))
    assert error["code"] == -32700 and "nested too deeply" in str(error["message"])


@pytest.mark.parametrize("rpc_id", ['{"a":1}', "[1]", "true"])
def test_mcp_request_whose_id_is_not_a_string_or_number(server_url: str, rpc_id: str) -> None:
    body = ('{"jsonrpc":"2.0","id":' + rpc_id + ',"method":"tools/list"}').encode()
    error = rpc_error(post_mcp(server_url, body))
    assert error["code"] == -32600 and "id must be a string or a number" in str(error["message"])


def test_search_docs_with_a_lone_surrogate(server_url: str) -> None:
    error = rpc_error(post_mcp(server_url, call("search_docs", '{"query":"kinit \\ud800"}')))
    message = str(error["message"])
    assert "surrogate" in message and "kinit" in message and "TextEncodeInput" not in message


def test_ask_with_a_lone_surrogate(server_url: str) -> None:
    got = httpx.post(f"{server_url}/api/ask", content=b'{"question":"kinit \\ud800"}',
                     headers={"Content-Type": "application/json"}, timeout=60)
    assert got.status_code == 400, got.text
    assert "surrogate" in got.json()["detail"]


def test_well_formed_calls_still_work(server_url: str) -> None:
    """Characters outside the BMP (a surrogate pair, escaped) and plain bad JSON keep their own answers."""
    got = post_mcp(server_url, call("search_docs", '{"query":"channel \\ud83d\\ude00 table","top_k":2}'))
    assert got.status_code == 200 and not got.json()["result"].get("isError"), got.text[:300]
    bad = post_mcp(server_url, b'{"jsonrpc": "2.0", "id": 1,')
    assert bad.status_code == 400 and rpc_error(bad)["code"] == -32700
    assert httpx.post(f"{server_url}/api/ask", content=b"{", headers={"Content-Type": "application/json"},
                      timeout=60).status_code == 422
    assert json.loads(httpx.get(f"{server_url}/healthz", timeout=60).text)["status"] == "ok"
