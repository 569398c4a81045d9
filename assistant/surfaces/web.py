"""Server-rendered pages (Jinja2, autoescaped, no JavaScript) and the raw library files.

`/` the library and a search box, `/search` results with the query terms marked, `/chunks/{id}` one
passage, `/docs/{source}` a passage in its document's context, `/files/{source}` the original file.
Everything shown comes from LibraryService, like REST and MCP, so a page and an agent's record agree.
Document text is untrusted: it is always escaped, and raw HTML served from the library gets a
Content-Security-Policy that forbids scripts (`files`). `/files/...` and `/favicon.ico` answer HEAD too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from assistant.errors import BadRequest, McDeweyError, NothingIndexed
from assistant.service import LibraryListing, LibraryService, PageView
from assistant.settings import Settings
from assistant.surfaces.cited import mark_doc_sections, parse_at
from assistant.surfaces.files import FAVICON, file_response, library_file, markdown_pages
from assistant.surfaces.links import chunk_anchor, chunk_href, doc_href, file_href, is_markdown, is_pdf, opens_at_page
from assistant.surfaces.passage import chunk_body, wrap_matches
from assistant.surfaces.reflow import reflow_sections
from assistant.surfaces.search_lane import searching
from indexing.chunk import Chunk
from indexing.tokens import QUESTION_STOPWORDS

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Our own pages need no script at all; anything injected into them would not run.
PAGE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'; img-src 'self' data:; style-src 'self'"
)
SNIPPET_CHARS = 320


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(chunk_href=chunk_href, doc_href=doc_href, file_href=file_href, opens_at_page=opens_at_page)
    return env


ENV = _environment()


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})


def error_page(status: int, reason: str) -> HTMLResponse:
    return render("error.html", status=status, status_code=status, reason=reason)


# --- search snippets ------------------------------------------------------------------------------
def query_terms(query: str) -> list[str]:
    """Words of the query worth marking: no stopwords, no single letters, longest first."""
    words = re.findall(r"\w[\w.+-]*\w|\w", query)
    keep = [w for w in words if len(w) > 1 and w.lower() not in QUESTION_STOPWORDS]
    return sorted(dict.fromkeys(keep), key=lambda w: (-len(w), w.lower()))


def _terms_pattern(terms: list[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")\w*", re.IGNORECASE)


def highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with each query term wrapped in <mark> (escaping happens piece by piece)."""
    return wrap_matches(text, _terms_pattern(terms), "mark")


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> Markup:
    """A window of the chunk around the first query term, terms marked."""
    flat = " ".join(text.split())
    pattern = _terms_pattern(terms)
    found = pattern.search(flat) if pattern else None
    start = 0
    if found and found.start() > width // 3:
        start = found.start() - width // 3
        space = flat.find(" ", start, found.start())  # begin on a word boundary
        start = space + 1 if space >= 0 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    body = highlight(flat[start:end], terms)
    return Markup(("…" if start else "") + body + ("…" if end < len(flat) else ""))


# --- doc-context view -----------------------------------------------------------------------------
@dataclass
class DocItem:
    """One chunk's text on one page of the doc-context page, less what its predecessor already shows."""

    chunk: Chunk
    anchor: str | None  # on one part of the chunk only, as element ids are unique
    text: str
    target: bool
    heading: list[str]


@dataclass
class PageSection:
    page: int | None
    label: str | None
    items: list[DocItem] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.page is None:
            return ""
        printed = f" (printed {self.label})" if self.label and self.label != str(self.page) else ""
        return f"Page {self.page}{printed}"


def doc_sections(view: PageView, target: str | None, page: int | None = None) -> list[PageSection]:
    """The view's chunks grouped by page, each page with its own part of every chunk on it: a chunk
    running onto the next page shows under both (highlighted on both when it is the target). Its anchor,
    which citation links scroll to, goes on its part on `page` (the page the link asks for, the cited
    sentence's page), else on its first part."""
    parts = view.parts()
    on_page = {p.chunk.chunk_id for p in parts if page is not None and p.page == page}
    items: list[tuple[int | None, str | None, DocItem]] = []
    previous: Chunk | None = None
    for part in parts:
        c = part.chunk
        anchored = part.page == page if c.chunk_id in on_page else part.first
        heading: list[str] = []
        if part.first:
            heading = c.heading if previous is None or previous.heading != c.heading else []
            previous = c
        item = DocItem(c, chunk_anchor(c.chunk_id) if anchored else None, part.text, c.chunk_id == target, heading)
        items.append((part.page, part.label, item))
    if view.first_page is None or view.last_page is None:
        return [PageSection(None, None, [item for _, _, item in items])]
    sections = {p: PageSection(p, None) for p in range(view.first_page, view.last_page + 1)}
    for part_page, label, item in items:
        section = sections.get(part_page or view.first_page)
        if section is None:
            continue
        section.items.append(item)
        section.label = section.label or label
    return list(sections.values())


# --- the pages ------------------------------------------------------------------------------------
def _choices(listing: LibraryListing) -> tuple[list[str], list[str]]:
    products = sorted({p.product for v in listing.vendors for p in v.products})
    versions = sorted({ver.version for v in listing.vendors for p in v.products for ver in p.versions})
    return products, versions


def web_router(settings: Settings, service: LibraryService) -> APIRouter:
    """The HTML pages and /files, bound to one service. Routes are plain `def`: the threadpool runs them
    (the search page's search runs in the search lane, `search_lane`)."""
    router = APIRouter(include_in_schema=False)
    mcp_url = settings.base_url() + "/mcp"

    @router.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        listing = service.list_library()
        products, versions = _choices(listing)
        return render("index.html", listing=listing, products=products, versions=versions, mcp_url=mcp_url,
                      form={}, empty=None if listing.chunks else service.nothing_indexed())

    @router.get("/search", response_class=HTMLResponse)
    async def search(
        q: str = "",
        product: str = "",
        version: str = "",
        doc: str = "",
        top_k: Annotated[int | None, Query()] = None,
    ) -> HTMLResponse:
        products, versions = _choices(await run_in_threadpool(service.list_library))
        form = {"q": q, "product": product, "version": version, "doc": doc}
        context: dict[str, Any] = {"form": form, "products": products, "versions": versions, "results": None}
        if not q.strip():
            return render("search.html", **context)
        terms = query_terms(q)
        try:
            chunks = await searching(lambda: service.search(q, top_k, product or None, version or None, doc or None))
        except (BadRequest, NothingIndexed) as exc:
            return render("search.html", status=exc.status, error=str(exc), **context)
        context["results"] = [(c, snippet(c.text, terms)) for c in chunks]
        return render("search.html", **context)

    @router.get("/chunks/{chunk_id}", response_class=HTMLResponse)
    def chunk_page(chunk_id: str) -> HTMLResponse:
        chunk = service.get_chunk(chunk_id)
        pages = None
        if is_markdown(chunk.source):  # its inline code, found again in the source (the index strips it)
            try:
                pages = markdown_pages(library_file(service.library_root, chunk.source))
            except McDeweyError:
                pages = None  # the file is gone since the ingest: the text still shows
        return render("chunk.html", c=chunk, body=chunk_body(chunk, pages))

    @router.get("/docs/{source:path}", response_class=HTMLResponse)
    def doc_page(source: str, page: int | None = None, chunk: str | None = None, at: str | None = None) -> HTMLResponse:
        record = service.file_record(source)
        target: Chunk | None = None
        if chunk:
            try:
                target = service.get_chunk(chunk)
            except McDeweyError:
                target = None  # a stale link still shows the document
        if record.pages and page is None:
            page = target.page if target and target.source == source and target.page else 1
        view = service.page_view(source, page)
        sections = doc_sections(view, chunk, page)
        reflow_sections(sections, source)
        cited = parse_at(at, target) if target and target.source == source else None
        if target is not None and cited is not None:  # the cited sentence marked, the link opening at it
            mark_doc_sections(sections, target, cited)
        return render(
            "doc.html", record=record, view=view, page=page, target=chunk, sections=sections, pdf=is_pdf(source),
        )

    @router.api_route("/files/{source:path}", methods=["GET", "HEAD"])
    def files(source: str, raw: bool = False) -> Response:
        path = library_file(service.library_root, source)  # nothing outside the root, whatever the index says
        record = service.original(source)  # an indexed file, or an asset of an indexed document
        pages = markdown_pages(path) if is_markdown(source) and not raw else None
        if pages is None:
            return file_response(path, source)
        title = record.doc_title if record else None
        return render("original.html", source=source, title=title or Path(source).name, indexed=title is not None,
                      pages=pages)

    @router.api_route("/favicon.ico", methods=["GET", "HEAD"])
    def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})

    return router
