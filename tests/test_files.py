"""Originals at /files (HEAD as GET; Markdown as a page anchored at its pages) and the site's icon."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_server import StartServer
from markupsafe import escape

from assistant.surfaces.files import shown_pages

ROOT = Path(__file__).resolve().parents[1]
GUIDE = "mcdewey/1.0/user-guide/user-guide.md"
MARKER = re.compile(r"^\s*<!--\s*page\b\s*:?\s*(\d+)\s*-->\s*$", re.MULTILINE | re.IGNORECASE)
SAME_HEADERS = ("content-type", "content-length", "content-disposition", "content-security-policy",
                "x-content-type-options", "etag", "last-modified", "cache-control")


# --- HEAD -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/files/mcdewey/1.0/quick-reference/quick-reference.pdf",
    "/files/acme/2.0/admin-guide/admin.html",
    "/files/acme/2.0/admin-guide/style.css",
    "/files/acme/2.0/release-notes/notes.txt",
    f"/files/{GUIDE}",
    f"/files/{GUIDE}?raw=1",
    "/favicon.ico",
])
def test_head_answers_as_get_without_a_body(server_url: str, path: str) -> None:
    got = httpx.get(f"{server_url}{path}", timeout=30)
    head = httpx.head(f"{server_url}{path}", timeout=30)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(got.content) > 0
    for name in SAME_HEADERS:
        assert head.headers.get(name) == got.headers.get(name), name


@pytest.mark.parametrize("path", ["/files/acme/2.0/nothing-here.pdf", "/files/acme/.hidden", "/files/..%2f..%2fetc"])
def test_head_of_a_missing_file_is_404(server_url: str, path: str) -> None:
    assert httpx.head(f"{server_url}{path}", timeout=30).status_code == 404


# --- the icon -------------------------------------------------------------------------------------
def test_favicon_is_served_and_linked_from_every_page(server_url: str) -> None:
    from PIL import Image

    icon = httpx.get(f"{server_url}/favicon.ico", timeout=30)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert Image.open(io.BytesIO(icon.content)).info["sizes"] >= {(16, 16), (32, 32), (48, 48)}
    svg = httpx.get(f"{server_url}/static/favicon.svg", timeout=30)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    hit = httpx.get(f"{server_url}/api/search", params={"q": "indexing"}, timeout=60).json()[0]
    pages = (("/", 200), ("/search?q=routing", 200), (f"/chunks/{hit['chunk_id']}", 200),
             (f"/docs/{hit['source']}", 200), (f"/files/{GUIDE}", 200),
             ("/chunks/acme::2.0::admin-guide::admin::999", 404))
    for path, status in pages:
        page = httpx.get(f"{server_url}{path}", headers={"accept": "text/html"}, timeout=60)
        assert page.status_code == status, path
        head = page.text.split("</head>")[0]
        assert '<link rel="icon" href="/favicon.ico"' in head, path
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in head, path


def test_the_chat_uses_the_same_icon() -> None:
    """Chainlit serves public/favicon.* as the chat's icon (and the assistant's avatar)."""
    static = ROOT / "assistant" / "surfaces" / "static" / "favicon.svg"
    assert (ROOT / "public" / "favicon.svg").read_bytes() == static.read_bytes()


# --- Markdown originals ---------------------------------------------------------------------------
def test_markdown_original_is_a_page_with_an_anchor_at_each_page(server_url: str, library: Path) -> None:
    response = httpx.get(f"{server_url}/files/{GUIDE}", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    markers = [int(n) for n in MARKER.findall((library / GUIDE).read_text(encoding="utf-8"))]
    assert len(markers) >= 5
    assert [int(n) for n in re.findall(r'id="page=(\d+)"', html)] == markers
    for n in markers:  # the anchor is the marker line itself, escaped
        assert f'id="page={n}" data-page="{n}">{escape(f"<!-- page {n} -->")}</span>' in html
    assert f'href="/files/{GUIDE}?raw=1"' in html and f'href="/docs/{GUIDE}"' in html
    assert "McDewey User Guide" in html.split("</h1>")[0]


def test_raw_markdown_is_the_file_itself(server_url: str, library: Path) -> None:
    response = httpx.get(f"{server_url}/files/{GUIDE}", params={"raw": "1"}, timeout=30)
    assert response.status_code == 200 and response.content == (library / GUIDE).read_bytes()
    assert not response.headers["content-type"].startswith("text/html")


def test_markdown_records_open_the_original_at_their_page(server_url: str) -> None:
    hits = httpx.get(f"{server_url}/api/search", params={"q": "indexing incremental", "doc": "user-guide"},
                     timeout=60).json()
    hit = next(h for h in hits if h["source"] == GUIDE and h["page"])
    assert hit["file_url"] == f"{server_url}/files/{GUIDE}#page={hit['page']}"
    html = httpx.get(f"{server_url}/chunks/{hit['chunk_id']}", timeout=60).text
    assert f'href="/files/{GUIDE}#page={hit["page"]}">Original file at page {hit["page"]}</a>' in html


HOSTILE_MD = """---
title: Front matter
---
Before the first marker.
<!-- page 2 -->
# Guide <script>alert(1)</script>
text & more
\fafter a form feed
<!-- page 2 -->
page two again
<!-- page: 7 -->
last
"""


def test_markdown_pages_are_numbered_as_the_index_numbers_them() -> None:
    pages = shown_pages(HOSTILE_MD)
    assert [(p.page, p.anchor) for p in pages] == [
        (None, None), (2, "page=2"), (3, "page=3"), (2, None), (7, "page=7")]
    assert "".join(p.marker + p.text for p in pages).count("<script>") == 1  # escaped by the template


def small_served_library(start_server: StartServer, embedder: Any, root: Path) -> str:
    """`root/lib` indexed into `root/data` with the session's embedder, served; the server's URL."""
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from indexing.index import Index
    from indexing.ingest import Ingester

    index = Index(root / "data", embedder=embedder)
    report = Ingester(index).run(root / "lib")
    assert not report.failed, report.failed
    return start_server(LibraryService(Settings(library=root / "lib", data=root / "data", llm="none"), index))


def test_markdown_is_shown_escaped(start_server: StartServer, embedder: Any, tmp_path: Path) -> None:
    doc = tmp_path / "lib" / "odd" / "1.0" / "notes"
    doc.mkdir(parents=True)
    (doc / "notes.md").write_text(HOSTILE_MD, encoding="utf-8")
    url = small_served_library(start_server, embedder, tmp_path)
    html = httpx.get(f"{url}/files/odd/1.0/notes/notes.md", timeout=30).text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.findall(r'id="page=(\d+)"', html) == ["2", "3", "7"]


def test_only_indexed_files_and_their_documents_assets_are_served(
        start_server: StartServer, embedder: Any, tmp_path: Path) -> None:
    """/files serves what the index holds and the stylesheets, images and fonts beside an indexed
    document; not the library's other files (licence, manifest, metadata, a file never indexed)."""
    lib = tmp_path / "lib"
    manual = lib / "kea" / "3.0" / "guide"
    (manual / "img").mkdir(parents=True)
    (manual / "index.html").write_text("<html><head><title>Kea Guide</title><link rel=stylesheet href=style.css>"
                                       "</head><body><h1>Kea</h1><p>The kea parrot opens doors.</p></body></html>")
    (manual / "style.css").write_text("body { color: black }")
    (manual / "img" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (manual / "notes.docx").write_bytes(b"PK\x03\x04 private notes")
    (manual / "mcdewey.toml").write_text('vendor = "Kea Co"\n')
    (lib / "COPYRIGHT").write_text("all rights reserved")
    (lib / "MANIFEST.tsv").write_text("path\tvendor\n")
    (lib / "orphan" / "1.0" / "doc").mkdir(parents=True)
    (lib / "orphan" / "1.0" / "doc" / "look.css").write_text("a {}")  # no indexed document in that folder
    url = small_served_library(start_server, embedder, tmp_path)
    (manual / "later.txt").write_text("Written after the ingest.")  # not indexed (yet)
    served = ["kea/3.0/guide/index.html", "kea/3.0/guide/style.css", "kea/3.0/guide/img/logo.png"]
    refused = ["COPYRIGHT", "MANIFEST.tsv", "kea/3.0/guide/notes.docx", "kea/3.0/guide/mcdewey.toml",
               "kea/3.0/guide/later.txt", "orphan/1.0/doc/look.css"]
    for source in served:
        assert httpx.get(f"{url}/files/{source}", timeout=30).status_code == 200, source
    for source in refused:
        got = httpx.get(f"{url}/files/{source}", timeout=30)
        assert got.status_code == 404, f"{source}: {got.status_code}"
        assert "private notes" not in got.text and "rights reserved" not in got.text
