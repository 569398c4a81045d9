"""The page view: a PDF page as printed, with the cited sentence marked over its pixels.

`/pages/{source}?page=N&chunk=ID&at=START-END` shows physical page N rendered on the server (its PNG
from `/page-images/{source}?page=N`, cached), the sentence at offsets START–END of the chunk's text
marked, the chunk's other lines on the page lightly marked, the printed label, the heading trail,
previous/next page, the original at that page, and the page's extracted text below for copying and
screen readers. The marks are SVG rectangles over the image, placed from PDFium's character boxes
(`indexing.pdf_page`), so no script runs and the image is shared by every citation of the page.
Bad input is a 4xx with the reason; a PDF that PDFium cannot render is a 500 with PDFium's reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from assistant.errors import BadRequest, McDeweyError, NotFound
from assistant.service import LibraryService, shown
from assistant.settings import Settings
from assistant.surfaces.cited import mark_sentence, parse_at, quote_on_page
from assistant.surfaces.files import library_file
from assistant.surfaces.links import is_pdf, page_href, page_image_href
from assistant.surfaces.page_cache import PageCache
from assistant.surfaces.page_clip import draw_marks
from assistant.surfaces.web import render
from indexing.chunk import Chunk, Quote
from indexing.document import LoaderError
from indexing.pdf_page import Box, Found, locate, page_info, render_png

IMAGE_WIDTH_PX = 1600  # shown at most 820 CSS px wide: sharp at 2x (a US-letter page at 2.6 px a point)
MARK_PAD = 1.0  # points around a line box, so the mark covers ascenders and descenders
_PIECES = re.compile(r"(?<=[.!?:;])\s+|\n+")  # a chunk's part cut into sentences and lines to find each
MIN_PIECE_LETTERS = 4  # shorter pieces ("1.", "a)") would be found anywhere on the page


class Unrenderable(McDeweyError):
    """The PDF is in the index but PDFium cannot open or render the page now."""

    status = 500


@dataclass
class PageMarks:
    """What is drawn over the page: the sentence's boxes and the chunk's other lines' boxes."""

    sentence: list[Box]
    lines: list[Box]
    sentence_text: str
    sentence_level: str | None  # how loosely the sentence was matched; None when it was not found


def quote_pages(chunk: Chunk, cited: Quote) -> list[int]:
    return [s.page for s, end in chunk.page_spans() if s.offset < cited.end and cited.start < end]


def _pieces(text: str) -> list[str]:
    return [p for p in _PIECES.split(text) if sum(c.isalnum() for c in p) >= MIN_PIECE_LETTERS]


def find_marks(path: Path, page: int, chunk: Chunk | None, cited: Quote | None) -> PageMarks:
    """Where the chunk's text on `page` and its cited sentence lie on the printed page. The chunk's
    part is cut at the sentence, so each piece is looked for after the one before it, and the sentence
    is found inside its chunk even when the same words are printed elsewhere on the page."""
    if chunk is None:
        return PageMarks([], [], "", None)
    spans = [(s.offset, end) for s, end in chunk.page_spans() if s.page == page]
    before: list[str] = []
    after: list[str] = []
    sentence = quote_on_page(chunk, cited, page) if cited else ""
    for lo, hi in spans:
        if sentence and cited is not None:
            before += _pieces(chunk.text[lo : max(lo, min(cited.start, hi))])
            after += _pieces(chunk.text[min(hi, max(cited.end, lo)) : hi])
        else:
            before += _pieces(chunk.text[lo:hi])
    texts = [*before, sentence, *after] if sentence else before
    found = locate(path, page, texts)
    own: Found | None = found[len(before)] if sentence else None
    others = found[: len(before)] + found[len(before) + 1 :] if sentence else found
    return PageMarks(
        sentence=[_padded(b) for b in own.boxes] if own else [],
        lines=[_padded(b) for f in others for b in f.boxes],
        sentence_text=sentence,
        sentence_level=own.level if own else None,
    )


def _padded(box: Box) -> Box:
    return Box(box.x - MARK_PAD, box.y - MARK_PAD, box.width + 2 * MARK_PAD, box.height + 2 * MARK_PAD)


def _target(service: LibraryService, source: str, chunk_id: str | None) -> Chunk | None:
    if not chunk_id:
        return None
    chunk = service.get_chunk(chunk_id)
    if chunk.source != source:
        raise BadRequest(f"chunk {shown(chunk_id)} is from {shown(chunk.source)}, not {shown(source)}")
    return chunk


def _pdf(service: LibraryService, source: str) -> tuple[Path, int]:
    """The PDF's path and page count, or the reason it has no page view."""
    record = service.file_record(source)
    if not is_pdf(source) or not record.pages:
        raise BadRequest(f"{shown(source)} is not a PDF: its passages are shown at /docs/{source}")
    return library_file(service.library_root, source), record.pages


def _check_page(page: int, pages: int, source: str) -> None:
    if not 1 <= page <= pages:
        raise NotFound(f"{shown(source)} has pages 1–{pages}, not {page}")


def page_router(settings: Settings, service: LibraryService) -> APIRouter:
    """`/pages/...` and `/page-images/...`, over one service and one cache of rendered pages."""
    router = APIRouter(include_in_schema=False)
    cache = PageCache(settings.page_cache_mb * 1024 * 1024)

    @router.get("/pages/{source:path}", response_class=HTMLResponse)
    def page_view(
        source: str, page: int | None = None, chunk: str | None = None, at: str | None = None
    ) -> HTMLResponse:
        path, pages = _pdf(service, source)
        target = _target(service, source, chunk)
        cited = parse_at(at, target)
        if page is None:
            page = (quote_pages(target, cited)[0] if target and cited else target.page if target else None) or 1
        _check_page(page, pages, source)
        if target is not None and cited is not None and not quote_on_page(target, cited, page):
            where = ", ".join(map(str, quote_pages(target, cited)))
            raise NotFound(f"the cited sentence is not on page {page} of {shown(source)}: it is on page {where}")
        try:
            info = page_info(path, page)
            marks = find_marks(path, page, target, cited)
        except LoaderError as exc:
            raise Unrenderable(f"{shown(source)}, page {page} cannot be shown: {exc}") from exc
        view = service.page_view(source, page, around=0)
        parts = [p for p in view.parts() if p.page == page]
        trail = target.heading if target else next((p.chunk.heading for p in parts if p.chunk.heading), [])
        texts = [(p.chunk, mark_sentence(p.text, marks.sentence_text) if target and p.chunk.chunk_id == target.chunk_id
                  else p.text) for p in parts]

        def neighbour(n: int) -> str | None:
            if not 1 <= n <= pages:
                return None
            keep = target is not None and target.page_text(n) != ""
            on_n = keep and cited is not None and target is not None and bool(quote_on_page(target, cited, n))
            return page_href(source, n, target.chunk_id if keep and target else None, "", cited if on_n else None)

        return render(
            "page.html", record=view.file, page=page, pages=pages, info=info, marks=marks, target=target,
            cited=cited, trail=trail, texts=texts, image=page_image_href(source, page),
            prev_href=neighbour(page - 1), next_href=neighbour(page + 1),
        )

    @router.api_route("/page-images/{source:path}", methods=["GET", "HEAD"])
    def page_image(source: str, page: int, chunk: str | None = None, at: str | None = None) -> Response:
        path, pages = _pdf(service, source)
        _check_page(page, pages, source)
        target = _target(service, source, chunk)
        cited = parse_at(at, target)
        stat = path.stat()
        key: tuple[object, ...] = (str(path), stat.st_size, stat.st_mtime_ns, page, IMAGE_WIDTH_PX)
        try:
            png = cache.get(key, lambda: render_png(path, page, IMAGE_WIDTH_PX))
            if target is not None:  # the marks drawn on the image, for views that cannot overlay them
                plain, width = png, page_info(path, page).width
                png = cache.get((*key, target.chunk_id, at), lambda: draw_marks(
                    plain, find_marks(path, page, target, cited), IMAGE_WIDTH_PX / width))
        except LoaderError as exc:
            raise Unrenderable(f"{shown(source)}, page {page} cannot be rendered: {exc}") from exc
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    router.state_cache = cache  # type: ignore[attr-defined]  # read by the bench and the tests
    return router

