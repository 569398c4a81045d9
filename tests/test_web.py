"""The server-rendered pages over real HTTP (no JavaScript involved anywhere)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from markupsafe import Markup

from assistant.surfaces.links import chunk_anchor, chunk_record
from assistant.surfaces.web import highlight, query_terms, snippet

HTML = {"accept": "text/html"}


def page(server_url: str, path: str, status: int = 200, **params: Any) -> str:
    response = httpx.get(f"{server_url}{path}", params=params, headers=HTML, timeout=60)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'none'" in response.headers["content-security-policy"]
    return response.text


def api_search(server_url: str, q: str, **params: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{server_url}/api/search", params={"q": q, **params}, timeout=60).json()


def test_home_lists_the_library(server_url: str) -> None:
    html = page(server_url, "/")
    assert "McDewey — Multi-vendor documentation library · semantic search · MCP endpoint at /mcp" in html
    for text in ("Acme Networks", "McDewey project", 'id="product-acme"', 'id="product-mcdewey"',
                 "Acme Router 2.0 Administration", "McDewey Quick Reference", f"{server_url}/mcp",
                 'href="/chat"', 'action="/search"', 'name="product"', 'name="version"'):
        assert text in html, text
    assert re.search(r"\d+ pages · \d+ chunks", html)


def test_search_page_marks_terms(server_url: str) -> None:
    html = page(server_url, "/search", q="UmssMtaBadMail folder")
    assert "<mark>UmssMtaBadMail</mark>" in html
    hit = api_search(server_url, "UmssMtaBadMail folder")[0]
    assert f'href="/chunks/{quote(hit["chunk_id"], safe="")}"' in html
    assert "Acme Router" in html


def test_search_page_filters_and_bad_filter(server_url: str) -> None:
    html = page(server_url, "/search", q="routing table", product="acme", version="1.6")
    assert "acme 1.6" in html and "acme 2.0" not in html
    assert '<option value="1.6" selected>' in html
    bad = page(server_url, "/search", 400, q="routing", product="nosuchproduct")
    assert "unknown product" in bad and "nosuchproduct" in bad


def test_search_page_without_query_is_a_form(server_url: str) -> None:
    html = page(server_url, "/search")
    assert 'name="q"' in html and "results" not in html.split("</form>")[1]


def test_query_terms_are_escaped_when_marked() -> None:
    marked = highlight('a <b>"UmssMtaBadMail"</b> & more', query_terms("UmssMtaBadMail <b>"))
    assert isinstance(marked, Markup)
    assert "<mark>UmssMtaBadMail</mark>" in marked
    assert "<b>" not in marked.replace("<mark>", "").replace("</mark>", "")
    assert "&lt;" in marked and "&amp;" in marked
    assert snippet("x " * 400 + "needle here", ["needle"]).startswith("…")


def test_chunk_page(server_url: str) -> None:
    hit = api_search(server_url, "quick reference", product="mcdewey", doc="quick-reference")[0]
    html = page(server_url, f"/chunks/{quote(hit['chunk_id'], safe='')}")
    assert f"page {hit['page']}" in html
    assert f"source {hit['source']}" in html
    assert f"chunk_id {hit['chunk_id']}" in html
    assert "↗ View in doc context" in html
    context = hit["url"].removeprefix(server_url).replace("&", "&amp;")
    assert f'href="{context}"' in html
    assert f'href="/files/{hit["source"]}#page={hit["page"]}"' in html


def test_unknown_chunk_page_is_404_html(server_url: str) -> None:
    html = page(server_url, "/chunks/acme::2.0::admin-guide::admin::999", 404)
    assert "no chunk" in html


def test_doc_context_page_for_the_pdf(server_url: str, service: Any) -> None:
    source = "mcdewey/1.0/quick-reference/quick-reference.pdf"
    stored = [c for c in service.index.catalog.file_chunks(source) if c.chunk.page and c.chunk.page > 1]
    chunk = stored[0].chunk
    html = page(server_url, f"/docs/{source}", page=chunk.page, chunk=chunk.chunk_id)
    anchor = chunk_anchor(chunk.chunk_id)
    match = re.search(rf'<article id="{anchor}" class="([^"]+)"', html)
    assert match and "highlighted" in match.group(1).split()
    assert f'id="page-{chunk.page}"' in html
    assert re.search(rf"Page {chunk.page}( \(printed [^)]+\))?</h2>", html)
    assert f'href="/files/{source}#page={chunk.page}"' in html
    assert f'href="/docs/{source}?page={chunk.page - 1}"' in html  # previous page
    # the target chunk sits under its own page's header
    section = html.split(f'id="page-{chunk.page}"')[1].split("</section>")[0]
    assert anchor in section



def test_doc_context_shows_a_page_whose_text_starts_in_the_chunk_before(server_url: str, service: Any) -> None:
    """Issue 13: the quick reference's first chunk runs onto page 2; page 2 shows that text, and a
    citation of a sentence on page 2 links to page 2 with the chunk's anchor under it."""
    source = "mcdewey/1.0/quick-reference/quick-reference.pdf"
    spanning = next(s.chunk for s in service.index.catalog.file_chunks(source) if len(s.chunk.page_starts) > 1)
    second = spanning.page_starts[1].page
    html = page(server_url, f"/docs/{source}", page=second)
    section = html.split(f'id="page-{second}"')[1].split("</section>")[0]
    assert "No text on this page" not in section
    assert str(Markup.escape(spanning.page_text(second)[:60])) in section
    sentence = spanning.page_text(second).split("\n")[-1][:80]
    cited = spanning.cited_at(sentence)
    assert cited.page == second
    url = chunk_record(cited, server_url).url
    html = httpx.get(url.split("#")[0], headers=HTML, timeout=60).text
    anchor = url.split("#")[1]
    section = html.split(f'id="page-{second}"')[1].split("</section>")[0]
    # the anchor sits on the cited sentence, marked inside the highlighted chunk (issue 22)
    assert re.search(rf'<article class="chunk highlighted"[^>]*>(?:(?!</article>).)*<mark class="cited" id="{anchor}">',
                     section, re.S)
    assert html.count(f'id="{anchor}"') == 1 and html.count(f'data-chunk-id="{spanning.chunk_id}"') == 2

def test_doc_context_drops_repeated_overlap(server_url: str, service: Any) -> None:
    source = "mcdewey/1.0/user-guide/user-guide.md"
    stored = service.index.catalog.file_chunks(source)
    following = next((s for s in stored[1:] if s.overlap_chars > 20), None)
    if following is None:
        pytest.skip("no chunk of the guide starts with overlap text")
    html = page(server_url, f"/docs/{source}", page=following.chunk.page)
    overlap = following.chunk.text[: following.overlap_chars].strip()
    block = html.split(f'id="{chunk_anchor(following.chunk.chunk_id)}"')[1].split("</article>")[0]
    rest = following.chunk.text[following.overlap_chars:].strip()
    assert str(Markup.escape(rest[:40])) in block
    assert not block.split('class="chunk-text">')[1].startswith(str(Markup.escape(overlap[:40])))


def test_doc_context_for_html_shows_the_whole_file(server_url: str, service: Any) -> None:
    source = "acme/2.0/admin-guide/admin.html"
    ids = service.index.catalog.chunk_ids(source)
    html = page(server_url, f"/docs/{source}", chunk=ids[-1])
    for cid in ids:
        assert f'id="{chunk_anchor(cid)}"' in html
    assert "Page 1" not in html


def test_hostile_script_text_is_escaped(server_url: str) -> None:
    query = "Warning text shown verbatim script alert"
    hits = api_search(server_url, query, product="acme", version="2.0")
    hostile = next(h for h in hits if '<script>alert("xss")</script>' in h["text"])
    pages = {
        "doc": page(server_url, "/docs/acme/2.0/admin-guide/admin.html"),
        "chunk": page(server_url, f"/chunks/{quote(hostile['chunk_id'], safe='')}"),
    }
    for name, html in pages.items():
        assert "&lt;script&gt;alert(" in html, name
    pages["search"] = page(server_url, "/search", q=query)
    for name, html in pages.items():
        assert "<script" not in html.lower(), name
        assert "SCRIPT-SHOULD-NOT-BE-INDEXED" not in html, name


def test_files_serves_pdf_inline(server_url: str) -> None:
    response = httpx.get(f"{server_url}/files/mcdewey/1.0/quick-reference/quick-reference.pdf", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.content.startswith(b"%PDF")


def test_files_serves_html_with_its_assets_and_no_scripts(server_url: str) -> None:
    response = httpx.get(f"{server_url}/files/acme/2.0/admin-guide/admin.html", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert "script-src 'none'" in response.headers["content-security-policy"]
    css = httpx.get(f"{server_url}/files/acme/2.0/admin-guide/style.css", timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_static_stylesheet(server_url: str) -> None:
    response = httpx.get(f"{server_url}/static/style.css", timeout=30)
    assert response.status_code == 200 and ".chunk:target" in response.text


CHAT_STUB = """
import chainlit as cl


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content="stub").send()
"""

MOUNT_CHECK = """
import sys
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.surfaces.server import mount_chat

app = FastAPI()
assert mount_chat(app, Path("no-such-chat.py")) is False
assert mount_chat(app, Path(sys.argv[1])) is True
with TestClient(app) as client:
    page = client.get("/chat/")
    assert page.status_code == 200 and "<html" in page.text.lower(), page.status_code
assert mount_chat(FastAPI(), Path(sys.argv[1])) is False  # Chainlit's app is one per process
print("mounted")
"""


def test_mount_chat_in_its_own_process(tmp_path: Any) -> None:
    """Chainlit keeps one app per process (and writes its files in its app root): test it in a child."""
    stub = tmp_path / "chat.py"
    stub.write_text(CHAT_STUB, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", MOUNT_CHECK, str(stub)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0 and "mounted" in done.stdout, done.stderr[-2000:]
