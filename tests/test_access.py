"""Access: where the server binds, the startup warning, paths that try to leave the library, hostile
document text in every page, absurd MCP tool arguments, and request size limits.

Complements test_api.py (traversal basics, symlinks, the bearer token, 413 on declared and streamed
bodies) with the gaps: NUL bytes, double encoding and backslashes on /files, /docs and /chunks; markup
in titles, headings, vendors and file names; absurd values over MCP; every endpoint's body limit.
"""

from __future__ import annotations

import http.client
import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import httpx
import pytest
from fixtures_server import mcp_session, raw_get
from mcp.types import CallToolResult, TextContent

from assistant.settings import Settings
from assistant.surfaces import cli, server

# --- where the server binds -----------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """`mcdewey serve` up to the point where uvicorn would bind: what it would be asked to bind to."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server, "run_uvicorn", lambda app, sock, **kw: calls.append(kw))
    monkeypatch.setattr(server.listen, "bind", lambda host, port: socket.socket())  # no real port taken
    monkeypatch.setenv("MCDEWEY_CHAT", "false")
    monkeypatch.setenv("MCDEWEY_LIBRARY", str(tmp_path / "library"))
    monkeypatch.setenv("MCDEWEY_DATA", str(tmp_path / "data"))
    (tmp_path / "library").mkdir()
    return calls


def test_binds_loopback_unless_told_otherwise(served: list[dict[str, Any]]) -> None:
    assert Settings().host == "127.0.0.1"
    assert cli.main(["serve"]) == 0
    assert served[-1]["host"] == "127.0.0.1"
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert (served[-1]["host"], served[-1]["port"]) == ("0.0.0.0", 8123)


def test_serving_beyond_loopback_without_a_token_warns_at_startup(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "mcdewey.server" and r.levelno >= logging.WARNING]

    with caplog.at_level(logging.INFO, logger="mcdewey.server"):
        cli.main(["serve"])
        assert warnings() == []
        cli.main(["serve", "--host", "0.0.0.0"])
        assert len(warnings()) == 1 and "without MCDEWEY_API_TOKEN" in warnings()[0]
        caplog.clear()
        monkeypatch.setenv("MCDEWEY_API_TOKEN", "t0ken")
        cli.main(["serve", "--host", "0.0.0.0"])  # still said, never a silent publish: what the token guards
        assert len(warnings()) == 1 and "protected by MCDEWEY_API_TOKEN" in warnings()[0]
    assert len(served) == 3


# --- paths that try to leave the library ----------------------------------------------------------
CANARY = "CANARY-OUTSIDE-THE-LIBRARY-7f3a"


@pytest.fixture(scope="module")
def canary(service: Any) -> str:
    """A file just outside the library root, named like the probes below expect."""
    (Path(service.library_root).parent / "canary.txt").write_text(CANARY, encoding="utf-8")
    return CANARY


PROBES = [
    "%252e%252e/canary.txt",  # double encoding: decoded once it is '%2e%2e', never '..'
    "%252e%252e%252fcanary.txt",
    "acme/%252e%252e/%252e%252e/canary.txt",
    "..%255ccanary.txt",
    "%2e%2e/canary.txt",
    "acme/2.0/%2e%2e/%2e%2e/%2e%2e/canary.txt",
    "..%5ccanary.txt",  # backslashes
    "acme%5c..%5c..%5ccanary.txt",
    "acme\\..\\..\\canary.txt",
    "acme/2.0/admin-guide/admin.html%00",  # NUL bytes
    "%00../canary.txt",
    "acme/2.0/admin-guide/admin.html%00/../../../../canary.txt",
    "%c0%ae%c0%ae/canary.txt",  # overlong UTF-8 for '.'
    "%2f..%2fcanary.txt",
    "%2fetc%2fpasswd",
]


@pytest.mark.parametrize("prefix", ["/files/", "/docs/", "/chunks/", "/api/chunks/"])
@pytest.mark.parametrize("probe", PROBES)
def test_no_path_leaves_the_library(server_url: str, canary: str, prefix: str, probe: str) -> None:
    status, body = raw_get(server_url, prefix + probe)
    assert status in (400, 404), (status, body[:200])
    assert canary not in body and "root:x:0:0" not in body


def test_the_canary_is_reachable_by_a_path_the_probes_would_need(service: Any, canary: str) -> None:
    """The probes are aimed right: from the library root, '../canary.txt' is the canary."""
    assert (Path(service.library_root) / ".." / "canary.txt").read_text(encoding="utf-8") == canary


# --- hostile text in every page -------------------------------------------------------------------
HOSTILE_HTML = """<!DOCTYPE html><html><head>
<title>&lt;img src=x onerror=alert('title')&gt; Guide</title></head><body>
<h1>&lt;svg onload=alert('h1')&gt; Guide</h1>
<h2>&lt;iframe src=javascript:alert('h2')&gt;</h2>
<p>The kakapo-limit says &lt;script&gt;alert('text')&lt;/script&gt; and &quot;quotes&quot; &amp; ampersands.</p>
<p><a href="javascript:alert('href')">link</a></p>
</body></html>
"""
MARKUP = ["<img src=x", "<svg onload", "<iframe", "<script>alert", "<marquee", "<b onmouseover", 'href="javascript:']


@pytest.fixture(scope="module")
def hostile_url(start_server: Any, embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    from assistant.service import LibraryService
    from indexing.index import Index
    from indexing.ingest import Ingester

    root = tmp_path_factory.mktemp("markup") / "library"
    doc = root / "evil" / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "page<b onmouseover=alert('name')>.html").write_text(HOSTILE_HTML, encoding="utf-8")
    (root / "evil" / "mcdewey.toml").write_text('vendor = "<marquee>Evil Corp</marquee>"\n', encoding="utf-8")
    data = root.parent / "data"
    report = Ingester(Index(data, embedder=embedder)).run(root)
    assert report.added and not report.failed, report.failed
    service = LibraryService(Settings(library=root, data=data, llm="none"), Index(data, embedder=embedder))
    return str(start_server(service))


def html_page(url: str, path: str, **params: Any) -> tuple[int, str]:
    response = httpx.get(f"{url}{path}", params=params, headers={"accept": "text/html"}, timeout=60)
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'none'" in response.headers["content-security-policy"]
    return response.status_code, response.text


def test_document_markup_is_escaped_in_every_page(hostile_url: str) -> None:
    records = httpx.get(f"{hostile_url}/api/search", params={"q": "kakapo-limit"}, timeout=60).json()
    hit = records[0]
    assert "<img src=x" in hit["doc_title"] and "<script>alert('text')</script>" in hit["text"]  # text, as is
    pages = {
        "home": html_page(hostile_url, "/"),
        "search": html_page(hostile_url, "/search", q="kakapo-limit script alert"),
        "chunk": html_page(hostile_url, f"/chunks/{quote(hit['chunk_id'], safe='')}"),
        "doc": html_page(hostile_url, f"/docs/{quote(hit['source'], safe='/')}", chunk=hit["chunk_id"]),
    }
    for name, (status, html) in pages.items():
        assert status == 200, name
        for markup in MARKUP:
            assert markup not in html, (name, markup)
    assert "&lt;marquee&gt;Evil Corp" in pages["home"][1]
    assert "&lt;img src=x onerror=alert(" in pages["chunk"][1]
    assert "&lt;svg onload=alert(" in pages["doc"][1] or "&lt;iframe" in pages["doc"][1]
    assert "&lt;script&gt;alert(" in pages["doc"][1] and "&lt;script&gt;alert(" in pages["chunk"][1]
    assert "&lt;b onmouseover=" in pages["chunk"][1]  # the file name
    assert "kakapo-limit</mark>" in pages["search"][1] and "&lt;<mark>script</mark>&gt;" in pages["search"][1]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/docs/<script>alert(1)</script>.html", {}),
        ("/chunks/<script>alert(1)</script>", {}),
        ("/search", {"q": "<script>alert(1)</script>", "product": "<script>alert(1)</script>"}),
        ("/search", {"q": "x", "version": "<img src=x onerror=alert(1)>"}),
        ("/nowhere/<script>alert(1)</script>", {}),
    ],
)
def test_error_pages_escape_what_the_caller_sent(hostile_url: str, path: str, params: dict[str, str]) -> None:
    status, html = html_page(hostile_url, path, **params)
    assert status in (400, 404)
    assert "<script>alert" not in html and "<img src=x" not in html


# --- MCP tool arguments ---------------------------------------------------------------------------
async def call(base_url: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with mcp_session(base_url) as session:
        result = await session.call_tool(tool, arguments)
        listing = await session.call_tool("list_library", {})  # the session survives the bad call
        assert not listing.isError
        return result


@pytest.mark.parametrize(
    ("tool", "arguments", "reason"),
    [
        ("search_docs", {"query": "x" * 10_000}, "longer than 2000 characters"),
        ("search_docs", {"query": "routing", "top_k": -1}, "top_k must be between 1 and 50"),
        ("search_docs", {"query": "routing", "top_k": 10**12}, "top_k must be between 1 and 50"),
        ("search_docs", {"query": "routing", "top_k": 2.5}, "top_k"),
        ("search_docs", {"query": ["not", "a", "string"]}, "query"),
        ("search_docs", {"query": "   \n\t "}, "query is empty"),
        ("search_docs", {"query": "routing", "product": "../etc"}, "is not a valid product name"),
        ("search_docs", {"query": "routing", "product": "acme", "version": "2.0/../../1.6"}, "not a valid version"),
        ("search_docs", {"query": "routing", "doc": "admin-guide\x00"}, "not a valid doc name"),
        ("search_docs", {"query": "routing", "product": "p" * 10_000}, "not a valid product name"),
        ("search_docs", {"query": "routing", "product": "nosuchproduct"}, "unknown product"),
        ("get_chunk", {"chunk_id": "a::b::c::d::1" * 20_000}, "longer than 1000 characters"),
        ("get_chunk", {"chunk_id": "../../etc/passwd"}, "not a chunk id"),
        ("get_context", {"chunk_id": "acme::2.0::admin-guide::admin::0", "before": -1}, "between 0 and 20"),
        ("get_context", {"chunk_id": "acme::2.0::admin-guide::admin::0", "after": 10**9}, "between 0 and 20"),
    ],
)
async def test_absurd_mcp_arguments_are_tool_errors(
    server_url: str, tool: str, arguments: dict[str, Any], reason: str
) -> None:
    result = await call(server_url, tool, arguments)
    assert result.isError
    text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
    assert reason in text, text[:300]
    assert len(text) < 1000  # the reason never echoes a huge argument back


# --- request size limits --------------------------------------------------------------------------
ENDPOINTS = [
    ("POST", "/mcp"), ("GET", "/api/search?q=x"), ("GET", "/api/library"), ("GET", "/api/chunks/a::b::c::d::0"),
    ("GET", "/healthz"), ("GET", "/"), ("GET", "/search?q=x"), ("GET", "/docs/acme/2.0/admin-guide/admin.html"),
    ("GET", "/files/acme/2.0/admin-guide/admin.html"), ("GET", "/chunks/a::b::c::d::0"), ("POST", "/api/search"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_an_oversized_body(server_url: str, method: str, path: str) -> None:
    response = httpx.request(method, f"{server_url}{path}", content=b"{" + b" " * (2 << 20) + b"}", timeout=60,
                             headers={"content-type": "application/json", "accept": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/mcp", "/api/search?q=x"])
def test_a_body_that_lies_about_its_length_is_refused(server_url: str, path: str) -> None:
    status, _ = raw_request(server_url, "POST", path, b"x" * 100, {"Content-Length": "not-a-number"})
    assert status in (400, 413)


def raw_request(base_url: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    url = urlparse(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        conn.send(body)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_a_huge_query_string_is_refused_not_served(server_url: str) -> None:
    status, body = raw_get(server_url, "/api/search?q=" + "y" * 200_000)
    assert 400 <= status < 500
    assert "Traceback" not in body
