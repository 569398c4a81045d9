"""Running headers, footers and page numbers of a PDF, found by position and dropped.

Takes the pages' printed lines and removes, in place, a page's top-most or bottom-most line when it
stands apart from the rest and repeats on three or more pages ("Kerberos Administration Guide,
Release 1.20.1", "1.1. Contents 7") or carries the page's number. Such lines would otherwise sit in
the middle of a paragraph that runs across a page break and pollute the chunks.
"""

from __future__ import annotations

from collections import Counter

from indexing.loaders.pdf_lines import PdfPage, set_gaps
from indexing.loaders.text_layout import running_key


def _margin_lines(page: PdfPage) -> list[tuple[str, int]]:
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


def drop_running_lines(pages: list[PdfPage]) -> None:
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
            set_gaps(page.lines)
