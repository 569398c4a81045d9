"""PDF loader: PDFium text per physical page, cut into paragraph blocks by the page layout.

PDFium gives each page's text as lines without blank lines between paragraphs, so paragraphs are
recovered from geometry: a larger vertical gap, a change of font size, a switch between prose and a
monospaced (code) font, a first-line indent, or a bullet. The heading trail comes from the PDF
outline; an outline entry takes effect at the line where its title is printed, not at the top of
its page, so the end of the previous section keeps its own trail. Running headers and footers
("Kerberos Administration Guide, Release 1.20.1", "1.1. Contents 7") are dropped.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from indexing.document import Block, LoadedDocument, LoaderError
from indexing.loaders.clean import (
    BULLET_CHARS,
    Vocabulary,
    heading_title,
    is_heading_like,
    make_blocks,
    nfkc_fold,
    page_label_or_none,
    read_source,
    running_key,
    sniff_binary,
)

_MONO_FONT = re.compile(
    r"mono|courier|typewriter|consol|menlo|fixed|cmtt|lmtt|sftt|txtt|xtt|ectt|pcrr|cmsltt|cmitt|^tt",
    re.IGNORECASE,
)
_NUMBERING = re.compile(
    r"^\s*(?:(?i:chapter|appendix|part|section)\s+(?:\d+|[A-Z]|[IVXLC]+)\b[.:]?\s*"
    r"|(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+|[IVXLC]+|[A-Z])\.?\s+)"
)
_TOKEN = re.compile(r"[^\W_]+")
_WORD_END = re.compile(r"[^\W\d_]+$")
_WORD_START = re.compile(r"[^\W\d_]+")
_PDFIUM_ERRORS = {
    1: "unknown PDFium error",
    2: "file could not be opened",
    3: "not a PDF or corrupted (PDFium could not parse it)",
    4: "encrypted PDF (needs a password)",
    5: "unsupported PDF security handler",
    6: "page not found or content error",
}
_LIST_RUN_CHARS = 1200
# PDFium is not thread-safe: one document at a time per process, whatever thread asks.
_PDFIUM_LOCK = threading.Lock()


@dataclass
class _Line:
    """One printed line: its text and where and how it is set."""

    text: str
    x: float
    y: float
    right: float
    size: float
    mono: bool
    gap: float = 0.0  # vertical distance from the previous line's baseline (0 for the first)


@dataclass
class _Entry:
    """An outline entry located on a page: the title's tokens and the trail it establishes."""

    tokens: list[str]
    trail: list[str]


@dataclass
class _Page:
    lines: list[_Line]
    label: str | None
    entries: list[_Entry] = field(default_factory=list)


# --- opening --------------------------------------------------------------------------------------


def _check_bytes(data: bytes) -> str | None:
    """Reject what is plainly not a (complete) PDF with a reason a user understands.

    Returns a warning for a file whose last %%EOF is followed by a lot of other bytes.
    """
    if b"%PDF-" not in data[:1024]:
        kind = sniff_binary(data)
        if kind and kind != "a PDF":
            raise LoaderError(f"not a PDF: the file is {kind}")
        raise LoaderError("not a PDF (no %PDF header)")
    if b"%%EOF" in data[-4096:]:
        return None
    if b"%%EOF" not in data:
        raise LoaderError("truncated PDF (the file ends before its %%EOF marker)")
    return "PDF has data after its last %%EOF marker (truncated update?)"


def _open(data: bytes) -> pdfium.PdfDocument:
    """Open with the empty password (what viewers do); map PDFium's error codes to reasons."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = _PDFIUM_ERRORS.get(getattr(exc, "err_code", None) or 0, f"PDFium could not open it ({exc})")
        raise LoaderError(reason) from exc


# --- lines and their geometry ---------------------------------------------------------------------


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


def _read_lines(textpage: pdfium.PdfTextPage, fonts: _Fonts, geo: _Geometry) -> list[_Line]:
    """The page's lines in PDFium's reading order, with position, size and font kind."""
    text = textpage.get_text_range()
    if not text.strip():
        return []
    identity = len(text) == textpage.count_chars()

    def char_index(text_index: int) -> int:
        if identity:
            return text_index
        return pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, text_index)

    lines: list[_Line] = []
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
            _Line(
                text=stripped,
                x=x,
                y=y,
                right=geo.right(textpage, ci_last),
                size=size if size > 0 else 10.0,
                mono=mono,
            )
        )
    return _merge_fragments(lines)


def _same_line(prev: _Line, line: _Line) -> bool:
    """Two fragments on one baseline, or a raised footnote mark next to its text."""
    if line.x < prev.right - 2:
        return False
    dy = abs(line.y - prev.y)
    size = max(line.size, prev.size)
    return dy < 0.3 * size or (dy < 0.6 * size and min(len(prev.text), len(line.text)) <= 3)


def _merge_fragments(lines: list[_Line]) -> list[_Line]:
    """Re-join pieces of one printed line that PDFium split (e.g. around a footnote mark)."""
    merged: list[_Line] = []
    for line in lines:
        prev = merged[-1] if merged else None
        if prev is not None and _same_line(prev, line):
            longer = prev if len(prev.text) >= len(line.text) else line
            merged[-1] = _Line(
                text=f"{prev.text} {line.text}",
                x=prev.x,
                y=prev.y,
                right=max(prev.right, line.right),
                size=longer.size,
                mono=longer.mono,
            )
        else:
            merged.append(line)
    _set_gaps(merged)
    return merged


def _set_gaps(lines: list[_Line]) -> None:
    if lines:
        lines[0].gap = 0.0
    for prev, line in itertools.pairwise(lines):
        line.gap = prev.y - line.y


# --- running headers and footers -----------------------------------------------------------------


def _margin_lines(page: _Page) -> list[tuple[str, int]]:
    """The top-most and bottom-most line of a page when set apart from the rest by a clear gap.

    Found by position, not order: content streams often draw the footer right after the header.
    """
    lines = page.lines
    if len(lines) < 2:
        return []
    found: list[tuple[str, int]] = []
    order = sorted(range(len(lines)), key=lambda i: lines[i].y)
    bottom, above = order[0], order[1]
    top, below = order[-1], order[-2]
    if lines[top].y - lines[below].y >= 1.5 * lines[top].size:
        found.append(("top", top))
    if lines[above].y - lines[bottom].y >= 1.5 * lines[bottom].size and bottom != top:
        found.append(("bottom", bottom))
    return found


def _drop_running_lines(pages: list[_Page]) -> None:
    """Remove repeated headers/footers and bare page numbers, which only pollute the chunks."""
    counts: Counter[tuple[str, str]] = Counter()
    for page in pages:
        for where, i in _margin_lines(page):
            counts[(where, running_key(page.lines[i].text))] += 1
    for number, page in enumerate(pages, start=1):
        drop: set[int] = set()
        for where, i in _margin_lines(page):
            text = page.lines[i].text
            key = running_key(text)
            ends = {text.split()[0], text.split()[-1]}
            if counts[(where, key)] >= 3 or key == "#" or (page.label or str(number)) in ends:
                drop.add(i)
        if drop:
            page.lines = [line for i, line in enumerate(page.lines) if i not in drop]
            _set_gaps(page.lines)


# --- paragraphs -----------------------------------------------------------------------------------


def _size_key(size: float) -> float:
    return round(size * 2) / 2


def _line_spacing(pages: list[_Page]) -> dict[float, float]:
    """The usual baseline distance per font size in this document (its leading)."""
    samples: dict[float, Counter[float]] = {}
    for page in pages:
        for prev, line in itertools.pairwise(page.lines):
            if prev.mono or line.mono or _size_key(prev.size) != _size_key(line.size):
                continue
            if 0.9 * line.size <= line.gap <= 2.2 * line.size:
                samples.setdefault(_size_key(line.size), Counter())[round(line.gap * 4) / 4] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in samples.items()}


def _starts_bullet(text: str) -> bool:
    """"• item", or a control character that a LaTeX font uses for its bullet ("\x88 item")."""
    if len(text) < 2 or text[1] != " ":
        return False
    code = ord(text[0])
    return text[0] in BULLET_CHARS or code < 32 or 0x7F <= code <= 0x9F


def _breaks(lines: list[_Line], spacing: dict[float, float]) -> list[bool]:
    """For each line, whether it starts a new block."""
    out = [True] * len(lines)
    for i in range(1, len(lines)):
        a, b = lines[i - 1], lines[i]
        c = lines[i + 1] if i + 1 < len(lines) else None
        size = max(a.size, b.size)
        leading = spacing.get(_size_key(size), 1.2 * size)
        if a.mono and b.mono:
            out[i] = b.gap <= 0 or b.gap > 3.0 * leading
            continue
        indented = b.x > a.x + 0.8 * b.size and not _starts_bullet(a.text)
        first_line_indent = indented and (c is None or c.x < b.x - 0.5 * b.size or c.mono != b.mono)
        out[i] = (
            a.mono != b.mono
            or max(a.size, b.size) / max(min(a.size, b.size), 0.1) > 1.15
            or b.gap <= 0
            or b.gap > leading * 1.12 + 0.2
            or _starts_bullet(b.text)
            or first_line_indent
        )
    return out


# --- outline (bookmarks) --------------------------------------------------------------------------


def _tokens(text: str, strip_numbering: bool = True) -> list[str]:
    if strip_numbering:  # "Appendix A", "2.3", "A" may follow each other: strip the same way on both sides
        for _ in range(3):
            text, n = _NUMBERING.subn("", text, count=1)
            if not n:
                break
    return _TOKEN.findall(nfkc_fold(text))


def _outline(doc: pdfium.PdfDocument, n_pages: int) -> tuple[dict[int, list[_Entry]], list[str]]:
    """Outline entries grouped by the page they point to, each with its full trail."""
    by_page: dict[int, list[_Entry]] = {}
    stack: list[str] = []
    titles: list[str] = []
    for bookmark in doc.get_toc(max_depth=15):
        title = heading_title(bookmark.get_title())
        del stack[bookmark.level :]
        stack.append(title)
        titles.append(title)
        dest = bookmark.get_dest()
        index = dest.get_index() if dest is not None else None
        if not title or index is None or not 0 <= index < n_pages:
            continue
        trail = [t for i, t in enumerate(stack) if t and (i == 0 or t != stack[i - 1])]  # "X > X" is one level
        by_page.setdefault(index, []).append(_Entry(tokens=_tokens(title), trail=trail))
    return by_page, titles


def _match_score(entry: _Entry, line: _Line, following: _Line | None, block_start: bool, body: float) -> int:
    """How surely this line is where the entry's title is printed (0 = it is not).

    Exact title, title followed by more words ("agrep Approximate String Matching"), or a title
    wrapped onto the following line."""
    words = _tokens(line.text)
    if not entry.tokens or not words:
        return 0
    n = len(entry.tokens)
    if words == entry.tokens:
        score = 3
    elif words[:n] == entry.tokens:
        score = 1
    elif following is not None and len(words) >= 2 and entry.tokens[: len(words)] == words:
        score = 1 if _tokens(f"{line.text} {following.text}")[:n] == entry.tokens else 0
    else:
        return 0
    if not score:
        return 0
    if not block_start and score < 3:
        return 0
    score += 2 if block_start else 0
    score += 1 if line.size > body * 1.1 else 0
    score += 1 if line.gap >= 1.8 * line.size else 0
    return score


def _locate_entries(page: _Page, breaks: list[bool], body: float) -> list[tuple[int, list[str], bool]]:
    """Where each outline entry of the page takes effect: (line index, trail, line is the title)."""
    switches: list[tuple[int, list[str], bool]] = []
    cursor = 0
    for entry in page.entries:
        lines = page.lines
        scored = [
            (i, _match_score(entry, lines[i], lines[i + 1] if i + 1 < len(lines) else None, breaks[i], body))
            for i in range(cursor, len(lines))
        ]
        strong = [i for i, s in scored if s >= 4]
        best = max((s for _, s in scored), default=0)
        if strong:
            at = strong[0]
        elif best >= 3:
            at = next(i for i, s in scored if s == best)
        else:
            switches.append((cursor, entry.trail, False))
            continue
        switches.append((at, entry.trail, _tokens(page.lines[at].text) == entry.tokens))
        cursor = at + 1  # one printed title per entry
    return switches


# --- blocks ---------------------------------------------------------------------------------------


def _join_prose(lines: list[_Line], vocabulary: Vocabulary) -> str:
    """Unwrap a paragraph, repairing words hyphenated at line ends."""
    out = lines[0].text
    for line in lines[1:]:
        text = line.text
        if text.startswith("˓→") or out.endswith("\ufffe"):
            out += text
        elif out.endswith("-") and len(out) >= 2 and out[-2].isalnum() and text[:1].isalnum():
            left_m, right_m = _WORD_END.search(out[-64:-1]), _WORD_START.match(text)
            left, right = (left_m.group(0) if left_m else ""), (right_m.group(0) if right_m else "")
            if left and right and vocabulary.drop_hyphen(left, right):
                out = out[:-1] + text
            else:
                out += text
        else:
            out += " " + text
    return out


def _join_code(lines: list[_Line]) -> str:
    """Code keeps its lines, its indentation (from x positions) and its blank lines (from gaps)."""
    left = min(line.x for line in lines)
    widths = [(ln.right - ln.x) / len(ln.text) for ln in lines if len(ln.text) >= 3 and ln.right > ln.x]
    char_w = min(widths) if widths else 0.5 * lines[0].size
    gaps = sorted(ln.gap for ln in lines[1:] if ln.gap > 0)
    usual = gaps[len(gaps) // 2] if gaps else 1.2 * lines[0].size
    usual = min(usual, 1.3 * lines[0].size)
    parts: list[str] = []
    for i, line in enumerate(lines):
        if i and line.gap > 1.6 * usual:
            parts.append("")
        indent = max(0, round((line.x - left) / char_w)) if char_w > 0 else 0
        parts.append(" " * min(indent, 40) + line.text)
    return "\n".join(parts)


def _groups(lines: list[_Line], breaks: list[bool]) -> list[list[_Line]]:
    groups: list[list[_Line]] = []
    for line, starts in zip(lines, breaks, strict=True):
        if starts or not groups:
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def _page_blocks(
    page: _Page,
    number: int,
    trail: list[str],
    spacing: dict[float, float],
    body: float,
    vocabulary: Vocabulary,
) -> tuple[list[Block], list[str]]:
    """Blocks of one page, and the trail in force at its end."""
    if not page.lines:
        return [], trail
    breaks = _breaks(page.lines, spacing)
    switches = _locate_entries(page, breaks, body)
    trail_at: dict[int, list[str]] = {}
    for at, new_trail, is_title in switches:
        breaks[at] = True
        trail_at[at] = new_trail
        if is_title and at + 1 < len(breaks):
            breaks[at + 1] = True
    label = page_label_or_none(number, page.label)
    blocks: list[Block] = []
    bullets: list[bool] = []
    index = 0
    for group in _groups(page.lines, breaks):
        trail = trail_at.get(index, trail)
        index += len(group)
        code = group[0].mono
        text = _join_code(group) if code else _join_prose(group, vocabulary)
        bullet = not code and _starts_bullet(group[0].text)
        if (
            bullet
            and bullets
            and bullets[-1]
            and blocks[-1].heading == trail
            and len(blocks[-1].text) + len(text) < _LIST_RUN_CHARS
        ):  # a list item run stays one block
            merged = make_blocks(text, page=number, page_label=label, heading=trail, vocabulary=vocabulary)
            if merged:
                blocks[-1].text += "\n" + "\n".join(b.text for b in merged)
            continue
        new = make_blocks(text, page=number, page_label=label, heading=trail, code=code, vocabulary=vocabulary)
        blocks.extend(new)
        bullets.extend([bullet] * len(new))
    return blocks, trail


# --- title ----------------------------------------------------------------------------------------

_NOT_A_TITLE = re.compile(r"(?i)^(untitled|microsoft word|document\d*$)|\.(dvi|tex|docx?|pdf|ps|indd)$")


def _largest_type(pages: list[_Page]) -> str | None:
    """The biggest text on the first page that has text: usually the title on a title page."""
    for page in pages[:3]:
        if not page.lines:
            continue
        top = max(line.size for line in page.lines)
        picked: list[str] = []
        for line in page.lines:
            if line.size >= top - 0.5:
                picked.append(line.text)
            elif picked:
                break
        text = heading_title(" ".join(picked))
        return text if is_heading_like(text, 200) else None
    return None


def _title(meta: str, pages: list[_Page], outline_titles: list[str]) -> str | None:
    """Metadata Title when the first pages confirm it, else the largest type on the title page."""
    meta = heading_title(meta)
    sensible = bool(meta) and is_heading_like(meta, 200) and not _NOT_A_TITLE.search(meta)
    first_words = " ".join(
        " ".join(_tokens(line.text, strip_numbering=False)) for page in pages[:3] for line in page.lines
    )
    if sensible and " ".join(_tokens(meta, strip_numbering=False)) in first_words:
        return meta
    big = _largest_type(pages)
    if big:
        return big
    if sensible:
        return meta
    return outline_titles[0] if outline_titles else None


# --- entry point ----------------------------------------------------------------------------------


def _read_pages(doc: pdfium.PdfDocument, warnings: list[str]) -> list[_Page]:
    fonts, geo = _Fonts(), _Geometry()
    pages: list[_Page] = []
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
        pages.append(_Page(lines=lines, label=label))
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
        warnings.append(f"no text could be read from page(s) {shown}")
    return pages


def load_pdf(path: Path) -> LoadedDocument:
    """Parse a PDF into paragraph blocks with physical page, printed label and outline trail."""
    data = read_source(path)
    warning = _check_bytes(data)
    warnings: list[str] = [warning] if warning else []
    with _PDFIUM_LOCK:
        doc = _open(data)
        try:
            n_pages = len(doc)
            pages = _read_pages(doc, warnings)
            outline, outline_titles = _outline(doc, n_pages)
            meta_title = doc.get_metadata_value("Title")
        except pdfium.PdfiumError as exc:
            raise LoaderError(f"PDF could not be read ({exc})") from exc
        finally:
            doc.close()
    for index, entries in outline.items():
        pages[index].entries = entries
    if not any(page.lines for page in pages):
        warnings.append("no text layer (scanned?)")
        return LoadedDocument(blocks=[], title=_title(meta_title, pages, outline_titles), pages=n_pages,
                              warnings=warnings)
    _drop_running_lines(pages)
    spacing = _line_spacing(pages)
    sizes = Counter(_size_key(line.size) for page in pages for line in page.lines if not line.mono)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    vocabulary = Vocabulary(line.text for page in pages for line in page.lines)
    blocks: list[Block] = []
    trail: list[str] = []
    for i, page in enumerate(pages):
        page_blocks, trail = _page_blocks(page, i + 1, trail, spacing, body, vocabulary)
        blocks.extend(page_blocks)
    return LoadedDocument(
        blocks=blocks, title=_title(meta_title, pages, outline_titles), pages=n_pages, warnings=warnings
    )
