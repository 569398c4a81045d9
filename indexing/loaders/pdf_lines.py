"""The printed lines of a PDF's pages, with where and how each is set, read through PDFium.

Takes an opened PDFium document and gives one `PdfPage` per physical page: its printed page label
and its lines in reading order, each with position, right edge, font size, whether it is set in a
monospaced (code) font, and its vertical gap from the line before. PDFium gives a page's text without
the geometry that shows paragraphs; this module asks for that geometry, character by character,
so that the layout can be read from it later.
"""

from __future__ import annotations

import ctypes
import itertools
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

_MONO_FONT = re.compile(
    r"mono|courier|typewriter|consol|menlo|fixed|cmtt|lmtt|sftt|txtt|xtt|ectt|pcrr|cmsltt|cmitt|^tt",
    re.IGNORECASE,
)


@dataclass
class PdfLine:
    """One printed line: its text and where and how it is set."""

    text: str
    x: float
    y: float
    right: float
    size: float
    mono: bool
    gap: float = 0.0  # vertical distance from the previous line's baseline (0 for the first)


@dataclass
class PdfPage:
    """One physical page: its lines and its printed label (None when the PDF sets none)."""

    lines: list[PdfLine]
    label: str | None


class _Fonts:
    """Font name lookups, cached: is the font at a char index monospaced?"""

    def __init__(self) -> None:
        self._buf = ctypes.create_string_buffer(256)
        self._flags = ctypes.c_int()
        self._mono: dict[bytes, bool] = {}

    def is_mono(self, textpage: pdfium.PdfTextPage, index: int) -> bool:
        n = pdfium_c.FPDFText_GetFontInfo(textpage, index, self._buf, 256, ctypes.byref(self._flags))
        name = self._buf.raw[: max(n - 1, 0)] if 0 < n <= 256 else b""
        key = name + bytes([self._flags.value & 1])
        if key not in self._mono:
            plain = name.split(b"+", 1)[-1].decode("latin-1")
            self._mono[key] = bool(self._flags.value & 1) or bool(_MONO_FONT.search(plain))
        return self._mono[key]


class _Geometry:
    """Reusable ctypes out-parameters for PDFium's per-character queries."""

    def __init__(self) -> None:
        self.x, self.y = ctypes.c_double(), ctypes.c_double()
        self.l, self.r = ctypes.c_double(), ctypes.c_double()
        self.b, self.t = ctypes.c_double(), ctypes.c_double()

    def origin(self, textpage: pdfium.PdfTextPage, index: int) -> tuple[float, float]:
        pdfium_c.FPDFText_GetCharOrigin(textpage, index, ctypes.byref(self.x), ctypes.byref(self.y))
        return self.x.value, self.y.value

    def right(self, textpage: pdfium.PdfTextPage, index: int) -> float:
        pdfium_c.FPDFText_GetCharBox(
            textpage, index, ctypes.byref(self.l), ctypes.byref(self.r), ctypes.byref(self.b),
            ctypes.byref(self.t),
        )
        return self.r.value


def _solid(text: str, pos: int, floor: int) -> int:
    """The nearest index at or before `pos` (not before `floor`) holding a visible character:
    PDFium's generated spaces carry no font, size or position."""
    while pos > floor and text[pos].isspace():
        pos -= 1
    return pos


def _read_lines(textpage: pdfium.PdfTextPage, fonts: _Fonts, geo: _Geometry) -> list[PdfLine]:
    """The page's lines in PDFium's reading order, with position, size and font kind."""
    text = textpage.get_text_range()
    if not text.strip():
        return []
    identity = len(text) == textpage.count_chars()

    def char_index(text_index: int) -> int:
        if identity:
            return text_index
        return pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, text_index)

    lines: list[PdfLine] = []
    offset = 0
    for raw_line in text.split("\r\n"):
        start, end = offset, offset + len(raw_line)
        offset = end + 2
        stripped = raw_line.strip()
        if not stripped:
            continue
        first = start + (len(raw_line) - len(raw_line.lstrip()))
        last = start + len(raw_line.rstrip()) - 1
        mid = _solid(text, (first + last) // 2, first)
        ci_first, ci_mid, ci_last = char_index(first), char_index(mid), char_index(last)
        if min(ci_first, ci_mid, ci_last) < 0:
            ci_first = ci_mid = ci_last = max(ci_first, ci_mid, ci_last, 0)
        x, _ = geo.origin(textpage, ci_first)
        _, y = geo.origin(textpage, ci_mid)
        size = pdfium_c.FPDFText_GetFontSize(textpage, ci_mid)
        # Code only if every sampled char is monospaced: prose often holds `inline code`.
        quarters = (_solid(text, (first + mid) // 2, first), _solid(text, (mid + last) // 2, first))
        samples = (ci_first, ci_mid, ci_last, *map(char_index, quarters))
        mono = all(fonts.is_mono(textpage, i) for i in samples if i >= 0)
        lines.append(
            PdfLine(
                text=stripped,
                x=x,
                y=y,
                right=geo.right(textpage, ci_last),
                size=size if size > 0 else 10.0,
                mono=mono,
            )
        )
    return _merge_fragments(lines)


def _same_line(prev: PdfLine, line: PdfLine) -> bool:
    """Two fragments on one baseline, or a raised footnote mark next to its text."""
    if line.x < prev.right - 2:
        return False
    dy = abs(line.y - prev.y)
    size = max(line.size, prev.size)
    return dy < 0.3 * size or (dy < 0.6 * size and min(len(prev.text), len(line.text)) <= 3)


def _merge_fragments(lines: list[PdfLine]) -> list[PdfLine]:
    """Re-join pieces of one printed line that PDFium split (e.g. around a footnote mark)."""
    merged: list[PdfLine] = []
    for line in lines:
        prev = merged[-1] if merged else None
        if prev is not None and _same_line(prev, line):
            longer = prev if len(prev.text) >= len(line.text) else line
            merged[-1] = PdfLine(
                text=f"{prev.text} {line.text}",
                x=prev.x,
                y=prev.y,
                right=max(prev.right, line.right),
                size=longer.size,
                mono=longer.mono,
            )
        else:
            merged.append(line)
    set_gaps(merged)
    return merged


def set_gaps(lines: list[PdfLine]) -> None:
    """Set each line's `gap` from the line before it (again after lines were dropped)."""
    if lines:
        lines[0].gap = 0.0
    for prev, line in itertools.pairwise(lines):
        line.gap = prev.y - line.y


def read_pages(doc: pdfium.PdfDocument, warnings: list[str]) -> list[PdfPage]:
    """Every page's label and lines; a page PDFium cannot read has no lines and adds a warning."""
    fonts, geo = _Fonts(), _Geometry()
    pages: list[PdfPage] = []
    failed: list[int] = []
    for i in range(len(doc)):
        label = doc.get_page_label(i) or None
        try:
            page = doc[i]
            try:
                textpage = page.get_textpage()
                try:
                    lines = _read_lines(textpage, fonts, geo)
                finally:
                    textpage.close()
            finally:
                page.close()
        except pdfium.PdfiumError:
            failed.append(i + 1)
            lines = []
        pages.append(PdfPage(lines=lines, label=label))
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
        warnings.append(f"no text could be read from page(s) {shown}")
    return pages
