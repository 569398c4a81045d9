"""A PDF's outline (bookmarks) as heading trails, placed at the lines where their titles are printed.

Takes the PDFium document and gives its outline entries grouped by the page they point to, each with
its full trail ("Server Configuration" > "Replication"); then, for one page's lines, where each entry
takes effect. An entry takes effect at the line that prints its title, not at the top of its page,
so the end of the previous section on that page keeps its own trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pypdfium2 as pdfium

from indexing.loaders.clean import heading_title, nfkc_fold
from indexing.loaders.pdf_lines import PdfLine

_NUMBERING = re.compile(
    r"^\s*(?:(?i:chapter|appendix|part|section)\s+(?:\d+|[A-Z]|[IVXLC]+)\b[.:]?\s*"
    r"|(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+|[IVXLC]+|[A-Z])\.?\s+)"
)
_TOKEN = re.compile(r"[^\W_]+")


@dataclass
class OutlineEntry:
    """An outline entry located on a page: the title's tokens and the trail it establishes."""

    tokens: list[str]
    trail: list[str]


def title_tokens(text: str, strip_numbering: bool = True) -> list[str]:
    """Folded words of a title or a line, to compare one with the other ("2.3 Foo" ~ "Foo")."""
    if strip_numbering:  # "Appendix A", "2.3", "A" may follow each other: strip the same way on both sides
        for _ in range(3):
            text, n = _NUMBERING.subn("", text, count=1)
            if not n:
                break
    return _TOKEN.findall(nfkc_fold(text))


def read_outline(doc: pdfium.PdfDocument, n_pages: int) -> tuple[dict[int, list[OutlineEntry]], list[str]]:
    """Outline entries grouped by the page they point to, each with its full trail; and all titles."""
    by_page: dict[int, list[OutlineEntry]] = {}
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
        by_page.setdefault(index, []).append(OutlineEntry(tokens=title_tokens(title), trail=trail))
    return by_page, titles


def _match_score(
    entry: OutlineEntry, line: PdfLine, following: PdfLine | None, block_start: bool, body: float
) -> int:
    """How surely this line is where the entry's title is printed (0 = it is not).

    Exact title, title followed by more words ("agrep Approximate String Matching"), or a title
    wrapped onto the following line."""
    words = title_tokens(line.text)
    if not entry.tokens or not words:
        return 0
    n = len(entry.tokens)
    if words == entry.tokens:
        score = 3
    elif words[:n] == entry.tokens:
        score = 1
    elif following is not None and len(words) >= 2 and entry.tokens[: len(words)] == words:
        score = 1 if title_tokens(f"{line.text} {following.text}")[:n] == entry.tokens else 0
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


def locate_entries(
    entries: list[OutlineEntry], lines: list[PdfLine], breaks: list[bool], body: float
) -> list[tuple[int, list[str], bool]]:
    """Where each outline entry of a page takes effect: (line index, trail, line is the title)."""
    switches: list[tuple[int, list[str], bool]] = []
    cursor = 0
    for entry in entries:
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
        switches.append((at, entry.trail, title_tokens(lines[at].text) == entry.tokens))
        cursor = at + 1  # one printed title per entry
    return switches
