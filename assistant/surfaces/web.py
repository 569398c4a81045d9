"""Server-rendered pages (Jinja2, autoescaped, no JavaScript) and the raw library files.

`/` the library and a search box, `/search` results with the query terms marked, `/chunks/{id}` one
passage, `/docs/{source}` a passage in its document's context, `/files/{source}` the original file.
Everything shown comes from LibraryService, like REST and MCP, so a page and an agent's record agree.
Document text is untrusted: it is always escaped, and raw HTML served from the library gets a
Content-Security-Policy that forbids scripts.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from assistant.errors import BadRequest, McDeweyError, NotFound
from assistant.service import LibraryListing, LibraryService, PageView, shown
from assistant.settings import Settings
from assistant.surfaces.links import chunk_anchor, chunk_href, doc_href, file_href, is_pdf
from indexing.chunk import Chunk
from indexing.tokens import QUESTION_STOPWORDS

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Our own pages need no script at all; anything injected into them would not run.
PAGE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'; img-src 'self' data:; style-src 'self'"
)
# Files from the library keep their own CSS and images (relative links) but never run scripts.
FILE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:"
)
SCRIPTABLE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml")
SNIPPET_CHARS = 320


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(chunk_href=chunk_href, doc_href=doc_href, file_href=file_href)
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
    pattern = _terms_pattern(terms)
    if pattern is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


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
    """One chunk on the doc-context page, with the text not yet shown by its predecessor."""

    chunk: Chunk
    anchor: str
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


def doc_sections(view: PageView, target: str | None) -> list[PageSection]:
    """The chunks of the view, grouped by page; overlap text is dropped when its source chunk is shown."""
    items: list[DocItem] = []
    previous: Chunk | None = None
    for stored in view.chunks:
        c = stored.chunk
        repeats = previous is not None and previous.ordinal == c.ordinal - 1
        text = c.text[stored.overlap_chars:] if repeats and stored.overlap_chars else c.text
        new_heading = c.heading if previous is None or previous.heading != c.heading else []
        items.append(DocItem(c, chunk_anchor(c.chunk_id), text, c.chunk_id == target, new_heading))
        previous = c
    if view.first_page is None or view.last_page is None:
        return [PageSection(None, None, items)]
    sections = {p: PageSection(p, None) for p in range(view.first_page, view.last_page + 1)}
    for item in items:
        section = sections.get(item.chunk.page or view.first_page)
        if section is None:
            continue
        section.items.append(item)
        if section.label is None and item.chunk.page_label:
            section.label = item.chunk.page_label
    return list(sections.values())


# --- files from the library -----------------------------------------------------------------------
def library_file(root: Path, source: str) -> Path:
    """The file `source` names under `root`, or NotFound for anything that could leave the root.

    Rejects NUL bytes, backslashes, absolute paths, empty, '.', '..' and hidden segments before
    touching the disk, then resolves symlinks and insists the real path is still under the root.
    """
    missing = NotFound(f"no file {shown(source)} in the library")
    if not source or "\x00" in source or "\\" in source or source.startswith("/"):
        raise missing
    parts = source.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise missing
    real_root = root.resolve()
    try:
        real = (real_root / PurePosixPath(source)).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing file, symlink loop
        raise missing from exc
    if not real.is_relative_to(real_root) or not real.is_file():
        raise missing
    return real


def file_response(path: Path, source: str) -> FileResponse:
    """The file inline with its own content type; HTML keeps its <meta charset> and runs no script."""
    media_type = mimetypes.guess_type(source)[0] or "application/octet-stream"
    headers = {"X-Content-Type-Options": "nosniff"}
    if media_type in SCRIPTABLE_TYPES:
        headers["Content-Security-Policy"] = FILE_CSP
        headers["Content-Type"] = media_type  # no charset: the document's own <meta charset> decides
    return FileResponse(
        path, media_type=media_type, headers=headers, filename=path.name, content_disposition_type="inline"
    )


# --- the pages ------------------------------------------------------------------------------------
def _choices(listing: LibraryListing) -> tuple[list[str], list[str]]:
    products = sorted({p.product for v in listing.vendors for p in v.products})
    versions = sorted({ver.version for v in listing.vendors for p in v.products for ver in p.versions})
    return products, versions


def web_router(settings: Settings, service: LibraryService) -> APIRouter:
    """The HTML pages and /files, bound to one service. Routes are plain `def`: the threadpool runs them."""
    router = APIRouter(include_in_schema=False)
    mcp_url = settings.base_url() + "/mcp"

    @router.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        listing = service.list_library()
        products, versions = _choices(listing)
        return render("index.html", listing=listing, products=products, versions=versions, mcp_url=mcp_url,
                      form={})

    @router.get("/search", response_class=HTMLResponse)
    def search(
        q: str = "",
        product: str = "",
        version: str = "",
        doc: str = "",
        top_k: Annotated[int | None, Query()] = None,
    ) -> HTMLResponse:
        products, versions = _choices(service.list_library())
        form = {"q": q, "product": product, "version": version, "doc": doc}
        context: dict[str, Any] = {"form": form, "products": products, "versions": versions, "results": None}
        if not q.strip():
            return render("search.html", **context)
        terms = query_terms(q)
        try:
            chunks = service.search(q, top_k, product or None, version or None, doc or None)
        except BadRequest as exc:
            return render("search.html", status=exc.status, error=str(exc), **context)
        context["results"] = [(c, snippet(c.text, terms)) for c in chunks]
        return render("search.html", **context)

    @router.get("/chunks/{chunk_id}", response_class=HTMLResponse)
    def chunk_page(chunk_id: str) -> HTMLResponse:
        chunk = service.get_chunk(chunk_id)
        return render("chunk.html", c=chunk, pdf=is_pdf(chunk.source))

    @router.get("/docs/{source:path}", response_class=HTMLResponse)
    def doc_page(source: str, page: int | None = None, chunk: str | None = None) -> HTMLResponse:
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
        return render(
            "doc.html", record=record, view=view, page=page, target=chunk,
            sections=doc_sections(view, chunk), pdf=is_pdf(source),
        )

    @router.get("/files/{source:path}")
    def files(source: str) -> FileResponse:
        return file_response(library_file(service.library_root, source), source)

    return router
