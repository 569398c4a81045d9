"""Paragraph blocks of a PDF page, recovered from the geometry of its printed lines.

Takes one page's lines (with position, size, font kind and gaps), the document's usual line spacing
and the outline entries that point to the page, and gives the page's `Block`s, each with the heading
trail in force. PDFium gives lines without blank lines between paragraphs, so a block starts at a
larger vertical gap, a change of font size, a switch between prose and a monospaced (code) font, a
first-line indent, a bullet, or a printed outline title. Prose is unwrapped (hyphenation repaired);
code keeps its lines and indentation.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from indexing.document import Block
from indexing.loaders.clean import BULLET_CHARS, make_blocks
from indexing.loaders.hyphenation import Vocabulary
from indexing.loaders.pdf_lines import PdfLine, PdfPage
from indexing.loaders.pdf_outline import OutlineEntry, locate_entries

_WORD_END = re.compile(r"[^\W\d_]+$")
_WORD_START = re.compile(r"[^\W\d_]+")
_LIST_RUN_CHARS = 1200


def size_key(size: float) -> float:
    """A font size rounded to half a point, to group lines set in the same size."""
    return round(size * 2) / 2


def line_spacing(pages: list[PdfPage]) -> dict[float, float]:
    """The usual baseline distance per font size in this document (its leading)."""
    samples: dict[float, Counter[float]] = {}
    for page in pages:
        for prev, line in itertools.pairwise(page.lines):
            if prev.mono or line.mono or size_key(prev.size) != size_key(line.size):
                continue
            if 0.9 * line.size <= line.gap <= 2.2 * line.size:
                samples.setdefault(size_key(line.size), Counter())[round(line.gap * 4) / 4] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in samples.items()}


def _starts_bullet(text: str) -> bool:
    """"• item", or a control character that a LaTeX font uses for its bullet ("\x88 item")."""
    if len(text) < 2 or text[1] != " ":
        return False
    code = ord(text[0])
    return text[0] in BULLET_CHARS or code < 32 or 0x7F <= code <= 0x9F


def _breaks(lines: list[PdfLine], spacing: dict[float, float]) -> list[bool]:
    """For each line, whether it starts a new block."""
    out = [True] * len(lines)
    for i in range(1, len(lines)):
        a, b = lines[i - 1], lines[i]
        c = lines[i + 1] if i + 1 < len(lines) else None
        size = max(a.size, b.size)
        leading = spacing.get(size_key(size), 1.2 * size)
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


def _join_prose(lines: list[PdfLine], vocabulary: Vocabulary) -> str:
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


def _join_code(lines: list[PdfLine]) -> str:
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


def _groups(lines: list[PdfLine], breaks: list[bool]) -> list[list[PdfLine]]:
    groups: list[list[PdfLine]] = []
    for line, starts in zip(lines, breaks, strict=True):
        if starts or not groups:
            groups.append([line])
        else:
            groups[-1].append(line)
    return groups


def page_label_or_none(page: int, label: str | None) -> str | None:
    """The printed label only when it says something the physical page number does not."""
    label = (label or "").strip()
    return label if label and label != str(page) else None


def page_blocks(
    page: PdfPage,
    entries: list[OutlineEntry],
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
    switches = locate_entries(entries, page.lines, breaks, body)
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
