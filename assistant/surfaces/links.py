"""Links to a chunk: the one place that turns a `Chunk` into the record MCP and REST hand out.

Every record carries `url` (the doc-context page, scrolled to the chunk) and `file_url` (the original
file, at the chunk's page for PDFs and Markdown), so an agent can cite a passage with a link a person
can open.
Pages build the same links with an empty base (root-relative), so the browser and agents agree.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from pydantic import Field

from indexing.chunk import Chunk, Quote

_NOT_ID_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class ChunkRecord(Chunk):
    """A chunk as MCP and REST return it: the Chunk fields plus links to cite it with."""

    url: str = Field(description="Absolute link to the chunk in its document's context (the page to cite)")
    file_url: str = Field(description="Absolute link to the original file (#page=N for PDFs and Markdown)")
    view_url: str = Field(
        description="Absolute link to what a citation shows: a PDF's printed page with the cited sentence "
        "(`quote`) marked, else the doc context scrolled to it and marked"
    )


def chunk_anchor(chunk_id: str) -> str:
    """The element id of a chunk on the doc-context page.

    Chunk ids hold ':' and '.', which are legal in HTML ids but awkward in CSS selectors and URL
    fragments; within one file the ids differ only in their ordinal, so this mapping stays unique.
    """
    return "chunk-" + _NOT_ID_SAFE.sub("-", chunk_id)


def quote_source(source: str) -> str:
    """A library path for a URL: each segment quoted, the slashes kept."""
    return quote(source, safe="/")


def is_pdf(source: str) -> bool:
    return source.lower().endswith(".pdf")


def is_markdown(source: str) -> bool:
    return source.lower().endswith((".md", ".markdown"))


def opens_at_page(source: str) -> bool:
    """Whether the original opens at `#page=N`: PDF viewers do, and so does McDewey's Markdown page."""
    return is_pdf(source) or is_markdown(source)


def page_anchor(page: int) -> str:
    """The fragment (and, on a Markdown original's page, the element id) of page `page`."""
    return f"page={page}"


FRAGMENT_WORDS = 4  # words each end of a text fragment gives: enough to be unique on a page of a manual


def text_fragment(sentence: str) -> str:
    """`:~:text=START,END` for `sentence` (a browser's scroll-to-text fragment: it opens the page at
    the passage and marks it), or "" for an empty one. '-', ',' and '&' are encoded, as the syntax asks."""
    words = sentence.split()
    if not words:
        return ""

    def enc(part: list[str]) -> str:
        return quote(" ".join(part), safe="").replace("-", "%2D")

    ends = [words] if len(words) <= 2 * FRAGMENT_WORDS else [words[:FRAGMENT_WORDS], words[-FRAGMENT_WORDS:]]
    return ":~:text=" + ",".join(enc(part) for part in ends)


def file_href(source: str, page: int | None = None, base: str = "", sentence: str = "") -> str:
    """The original file, at `#page=N` where it can open there (PDF, Markdown); a text or HTML original
    (and a Markdown one) also at `sentence`, by a text fragment (PDF viewers do not read them)."""
    href = f"{base}/files/{quote_source(source)}"
    fragment = page_anchor(page) if page is not None and opens_at_page(source) else ""
    if sentence and not is_pdf(source):
        fragment += text_fragment(sentence)
    return href + ("#" + fragment if fragment else "")


def quoted(chunk: Chunk) -> str:
    """The sentence a citation of `chunk` quotes ("" for a chunk cited without one)."""
    return chunk.text[chunk.quote.start : chunk.quote.end] if chunk.quote else ""


def quote_param(cited: Quote) -> str:
    """A cited sentence in a URL: `START-END`, its offsets in the chunk's text."""
    return f"{cited.start}-{cited.end}"


def _query(page: int | None, chunk_id: str | None, cited: Quote | None) -> str:
    params: dict[str, str] = {}
    if page is not None:
        params["page"] = str(page)
    if chunk_id is not None:
        params["chunk"] = chunk_id
        if cited is not None:
            params["at"] = quote_param(cited)
    return "?" + urlencode(params, quote_via=quote) if params else ""


def doc_href(
    source: str, page: int | None = None, chunk_id: str | None = None, base: str = "", cited: Quote | None = None
) -> str:
    """The doc-context page of `source` (at `page`), highlighting and scrolling to `chunk_id`; with
    `cited`, its sentence is marked and carries the chunk's anchor, so the page opens at the sentence."""
    href = f"{base}/docs/{quote_source(source)}" + _query(page, chunk_id, cited)
    if chunk_id is not None:
        href += "#" + chunk_anchor(chunk_id)
    return href


def page_href(
    source: str, page: int, chunk_id: str | None = None, base: str = "", cited: Quote | None = None
) -> str:
    """A PDF's page view: physical page `page` as printed, `chunk_id`'s lines and its sentence `cited` marked."""
    return f"{base}/pages/{quote_source(source)}" + _query(page, chunk_id, cited)


def page_image_href(
    source: str, page: int, base: str = "", chunk_id: str | None = None, cited: Quote | None = None
) -> str:
    """The PNG of a PDF's physical page `page`; with `chunk_id` (and `cited`), the marks drawn on it
    (the page view draws its own over the plain image; the chat's side panel shows this one)."""
    return f"{base}/page-images/{quote_source(source)}" + _query(page, chunk_id, cited)


def view_href(chunk: Chunk, base: str = "") -> str:
    """Where a citation opens: a PDF chunk's page with its sentence marked, else its doc context
    scrolled to the sentence. The page is the cited sentence's (see `Chunk.cited_at`)."""
    if is_pdf(chunk.source) and chunk.page is not None:
        return page_href(chunk.source, chunk.page, chunk.chunk_id, base, chunk.quote)
    return doc_href(chunk.source, chunk.page, chunk.chunk_id, base, chunk.quote)


def chunk_href(chunk_id: str, base: str = "") -> str:
    """The chunk's own page."""
    return f"{base}/chunks/{quote(chunk_id, safe='')}"


def chunk_record(chunk: Chunk, base_url: str) -> ChunkRecord:
    """The record every surface hands to agents: the chunk plus absolute `url` and `file_url`."""
    base = base_url.rstrip("/")
    return ChunkRecord(
        **chunk.model_dump(),
        url=doc_href(chunk.source, chunk.page, chunk.chunk_id, base, chunk.quote),
        file_url=file_href(chunk.source, chunk.page, base, quoted(chunk)),
        view_url=view_href(chunk, base),
    )


def chunk_records(chunks: list[Chunk], base_url: str) -> list[ChunkRecord]:
    return [chunk_record(c, base_url) for c in chunks]
