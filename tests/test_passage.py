"""The chunk page's passage: lines as the source lays them out, inline code kept, no repeated title."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from assistant.surfaces.files import shown_pages
from assistant.surfaces.passage import body_text, chunk_body, code_spans, line_breaks, reflow
from indexing.chunk import Chunk

GUIDE = "mcdewey/1.0/user-guide/user-guide.md"

SOURCE = """<!-- page 1 -->
## Installing

Run `make run` from a clone of the repository; it creates a virtual environment in
`.venv` and starts the server on port 8000.
The server answers at once.

Short line kept
as its author set it.

- a list item that is long enough to wrap onto the next line of the
  source file, and goes on here
- a second item

    indented code line one
    indented code line two

```sh
make test
make run
```
<!-- page 2 -->
Elsewhere `ingest` is code.
"""


def _chunk(text: str, heading: list[str], page: int | None = 1) -> Chunk:
    return Chunk(chunk_id="p::1::d::f::0", text=text, source="p/1/d/f.md", vendor="V", product="p", version="1",
                 doc="d", doc_title="Doc", heading=heading, page=page, page_end=page, ordinal=0)


# What the Markdown loader stores for the first page (inline code stripped, blocks joined by "\n").
STORED = """Installing
Run make run from a clone of the repository; it creates a virtual environment in
.venv and starts the server on port 8000.
The server answers at once.
Short line kept
as its author set it.
- a list item that is long enough to wrap onto the next line of the
source file, and goes on here
- a second item
indented code line one
indented code line two
make test
make run"""


def test_the_heading_is_not_repeated_as_the_first_line() -> None:
    assert body_text(_chunk(STORED, ["Guide", "Installing"])).startswith("Run make run")
    assert body_text(_chunk(STORED, ["Guide", "Elsewhere"])) == STORED  # not the trail's last heading
    assert body_text(_chunk("Installing", ["Installing"])) == "Installing"  # nothing else to show


def test_soft_wraps_join_and_paragraphs_part_as_in_the_source() -> None:
    pages = shown_pages(SOURCE)
    text = reflow(body_text(_chunk(STORED, ["Installing"])), *line_breaks(pages[:1]))
    assert text.split("\n") == [
        "Run make run from a clone of the repository; it creates a virtual environment in .venv and starts the "
        "server on port 8000. The server answers at once.",
        "",
        "Short line kept",
        "as its author set it.",
        "",
        "- a list item that is long enough to wrap onto the next line of the source file, and goes on here",
        "- a second item",
        "",
        "indented code line one",
        "indented code line two",
        "make test",
        "make run",
    ]


def test_inline_code_of_the_chunks_own_pages_is_marked() -> None:
    pages = shown_pages(SOURCE)
    assert code_spans(pages[:1]) == ["make run", ".venv"]
    html = str(chunk_body(_chunk(STORED + "\nno ingest here <b>", ["Installing"]), pages))
    assert "Run <code>make run</code> from" in html and "in <code>.venv</code> and" in html
    assert "<code>ingest</code>" not in html  # code on page 2 only
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert str(chunk_body(_chunk("Installing\nx <i>", ["Installing"]), None)) == "x &lt;i&gt;"


def test_chunk_page_of_a_markdown_guide(server_url: str, service: Any, library: Path) -> None:
    """A chunk of the demo guide (inline code, wrapped paragraphs) on its page."""
    source = (library / GUIDE).read_text(encoding="utf-8")
    stored = [s.chunk for s in service.index.catalog.file_chunks(GUIDE)]
    chunk = next(c for c in stored if c.heading and c.text.split("\n")[0] == c.heading[-1] and "`" in
                 source.split(f"<!-- page {c.page} -->")[1].split("<!-- page")[0] and c.text.count("\n") > 4)
    html = httpx.get(f"{server_url}/chunks/{quote(chunk.chunk_id, safe='')}", timeout=60).text
    body = html.split('<div class="chunk-text">')[1].split("</div>")[0]
    assert not body.startswith(chunk.heading[-1])
    page = source.split(f"<!-- page {chunk.page} -->")[1].split("<!-- page")[0]
    spans = [s for s in re.findall(r"`([^`\n]+)`", page) if s in chunk.text]
    assert spans and all(f"<code>{s}</code>" in body for s in spans)
    assert "\n\n" in body  # its paragraphs are apart
    assert body.count("\n") < chunk.text.count("\n")  # and their lines flow
