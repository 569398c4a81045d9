"""One PDF page as the page view shows it: its image, its printed label, and where a text lies on it.

Takes a PDF file, a physical page and texts quoted from the index (a cited sentence, a chunk's lines);
gives a PNG of the page (`render_png`) and, for each text, the boxes of the printed lines it covers
(`locate`), in PDF points from the page's top-left corner, so a mark can be drawn over the very
pixels of the sentence. PDFium gives each character's box; the index's text was read from the same
characters but joined (hyphens at line ends dropped, lines unwrapped, ligatures expanded), so texts
are matched on their visible characters, loosening step by step (`_LEVELS`) until one matches.
"""

from __future__ import annotations

import ctypes
import io
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from indexing.document import LoaderError
from indexing.loaders.pdf import _PDFIUM_LOCK

_HYPHENS = frozenset("-\u00ad\u2010\u2011")


@dataclass(frozen=True)
class Box:
    """A rectangle on the page in PDF points, from its top-left corner (as an image is drawn)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PageInfo:
    """What the page view prints around the image: the page's size in points and printed label."""

    pages: int
    width: float
    height: float
    label: str | None


@dataclass(frozen=True)
class Found:
    """Where one text lies on the page: its boxes, and how loosely it had to be matched to be found."""

    boxes: list[Box]
    level: str | None  # None: not on the page


@contextmanager
def _opened(path: Path, page: int) -> Iterator[tuple[pdfium.PdfDocument, pdfium.PdfPage]]:
    """The document and its physical page `page` (1-based), under the process's PDFium lock."""
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise LoaderError(f"PDFium could not open the file: {exc}") from exc
        try:
            if not 1 <= page <= len(doc):
                raise IndexError(f"the file has pages 1–{len(doc)}, not {page}")
            pdf_page = doc[page - 1]
            try:
                yield doc, pdf_page
            finally:
                pdf_page.close()
        finally:
            doc.close()


def page_info(path: Path, page: int) -> PageInfo:
    with _opened(path, page) as (doc, pdf_page):
        width, height = pdf_page.get_size()
        label = doc.get_page_label(page - 1) or None
        return PageInfo(len(doc), width, height, label)


def render_png(path: Path, page: int, width_px: int) -> bytes:
    """The page as a PNG `width_px` wide (its height in proportion)."""
    with _opened(path, page) as (_, pdf_page):
        try:
            image = pdf_page.render(scale=width_px / pdf_page.get_width()).to_pil()
        except pdfium.PdfiumError as exc:
            raise LoaderError(f"PDFium could not render page {page}: {exc}") from exc
    out = io.BytesIO()
    # A 256-colour palette (fast octree), zlib level 3: 1,600 px wide pages of the Kerberos admin guide
    # took 83 ms and 134 KB (median of 10) against 177 ms and 403 KB as full-colour PNG at level 6,
    # with the text as sharp.
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(out, "PNG", compress_level=3)
    return out.getvalue()


# --- where a text lies on the page ------------------------------------------------------------------
Key = Callable[[str], str]


def _visible(ch: str) -> str:
    """A character as matched: compatibility forms unfolded (the ﬁ ligature is "fi"), spaces gone."""
    return "".join(c for c in unicodedata.normalize("NFKC", ch) if not c.isspace())


def _no_hyphen(ch: str) -> str:
    return "" if ch in _HYPHENS else ch


def _letters(ch: str) -> str:
    return ch.casefold() if ch.isalnum() else ""


# From strict to loose: the exact characters; without hyphens (a word split at a line end, which the
# index joins); case ignored; letters and digits only (quotes, bullets and dashes the index rewrote).
_LEVELS: list[tuple[str, Key]] = [
    ("exact", lambda c: c),
    ("hyphenation", _no_hyphen),
    ("case", lambda c: _no_hyphen(c).casefold()),
    ("letters", _letters),
]


def _compact(chars: Sequence[tuple[str, int]], key: Key) -> tuple[str, list[int]]:
    """The page's visible characters under `key`, and the char index each one came from."""
    text: list[str] = []
    owner: list[int] = []
    for ch, index in chars:
        for c in key(ch):
            text.append(c)
            owner.append(index)
    return "".join(text), owner


def _needle(text: str, key: Key) -> str:
    return "".join(key(c) for c in _visible(text))


def _page_chars(textpage: pdfium.PdfTextPage) -> list[tuple[str, int]]:
    """Each visible character of the page (ligatures unfolded) with its PDFium char index."""
    out: list[tuple[str, int]] = []
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage, i)
        if code and not 0xD800 <= code <= 0xDFFF:
            out.extend((c, i) for c in _visible(chr(code)))
    return out


def _boxes(textpage: pdfium.PdfTextPage, first: int, last: int, top: float, left: float) -> list[Box]:
    """The line boxes PDFium gives for chars first..last, turned to top-left coordinates."""
    out: list[Box] = []
    lft, tp, rgt, bot = (ctypes.c_double() for _ in range(4))
    for r in range(pdfium_c.FPDFText_CountRects(textpage, first, last - first + 1)):
        pdfium_c.FPDFText_GetRect(textpage, r, *(ctypes.byref(v) for v in (lft, tp, rgt, bot)))
        if rgt.value > lft.value and tp.value > bot.value:
            out.append(Box(lft.value - left, top - tp.value, rgt.value - lft.value, tp.value - bot.value))
    return out


def locate(path: Path, page: int, texts: Sequence[str]) -> list[Found]:
    """Where each of `texts` lies on page `page`. Texts are looked for in order, each from where the
    one before it ended (a chunk's lines run down the page), then anywhere on the page."""
    with _opened(path, page) as (_, pdf_page):
        textpage = pdf_page.get_textpage()
        try:
            # Character boxes are in the unrotated page's space; a page turned by /Rotate gets no marks
            # (none of the shared library's 5,018 PDF pages is) rather than marks in the wrong place.
            chars = _page_chars(textpage) if pdf_page.get_rotation() == 0 else []
            left, _, _, top = pdf_page.get_bbox()  # what is rendered: the crop box within the media box
            compacts = {name: _compact(chars, key) for name, key in _LEVELS}
            out: list[Found] = []
            after = 0  # char index where the previous text ended
            for text in texts:
                span = _find(text, compacts, after)
                if span is None:
                    out.append(Found([], None))
                    continue
                level, first, last = span
                after = last + 1
                out.append(Found(_boxes(textpage, first, last, top, left), level))
            return out
        finally:
            textpage.close()


def _find(text: str, compacts: dict[str, tuple[str, list[int]]], after: int) -> tuple[str, int, int] | None:
    """(level, first char index, last char index) of `text`, at the strictest level that finds it."""
    for name, key in _LEVELS:
        needle = _needle(text, key)
        if not needle:
            continue
        hay, owner = compacts[name]
        start = next((k for k, i in enumerate(owner) if i >= after), len(owner))
        at = hay.find(needle, start)
        at = at if at >= 0 else hay.find(needle)
        if at >= 0:
            return name, owner[at], owner[at + len(needle) - 1]
    return None
