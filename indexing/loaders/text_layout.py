"""Structure recovered from the layout of text that was extracted from printed pages.

Takes lines of text as a PDF-to-text converter laid them out (page by page, indented, padded) and
gives them back without page headers, footers and page numbers (`drop_running_lines`), cut into
paragraphs where the indentation shows one (`layout_paragraphs`), and without their common
indentation (`dedent`). The plain-text and Markdown loaders both read such conversions; the PDF
loader shares only `running_key`, the identity of a running header across pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from indexing.loaders.clean import nfkc_fold

_ROMAN = re.compile(r"^[ivxlcdm]+\.?$")
# "Chapter 1: Obtaining R          2" — a layout-preserving conversion's right-aligned page number.
_PAGE_NUMBERED = re.compile(r"^\s*(?:\S.*\S\s{8,}(?:\d+|[ivxlcdm]+)|(?:\d+|[ivxlcdm]+)\s{8,}\S.*\S)\s*$")


def running_key(text: str) -> str:
    """A running header's identity across pages: digits and roman numerals do not count."""
    words = [("#" if _ROMAN.match(w) else re.sub(r"\d+", "#", w)) for w in nfkc_fold(text).split()]
    return " ".join(words)


def _edge_lines(lines: list[str]) -> list[tuple[str, int]]:
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) < 2:
        return []
    return [("top", filled[0]), ("bottom", filled[-1])]


def drop_running_lines(
    pages: list[list[str]], *, keep: Callable[[str], bool] | None = None
) -> list[list[str]]:
    """Blank out page headers/footers: a page's first or last line that repeats on 3+ pages, or a
    bare page number. `keep` protects lines that are structure (e.g. Markdown headings)."""
    counts: Counter[tuple[str, str]] = Counter()
    for lines in pages:
        for where, i in _edge_lines(lines):
            counts[(where, running_key(lines[i]))] += 1
    out: list[list[str]] = []
    for lines in pages:
        lines = list(lines)
        for where, i in _edge_lines(lines):
            if keep is not None and keep(lines[i]):
                continue
            key = running_key(lines[i])
            if key == "#" or _PAGE_NUMBERED.match(lines[i]) or (counts[(where, key)] >= 3 and len(key) <= 100):
                lines[i] = ""
        out.append(lines)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def layout_paragraphs(lines: list[str]) -> list[list[str]]:
    """Split a run of non-blank lines where the layout shows a new paragraph.

    Text converted from PDFs marks paragraphs by a first-line indent rather than a blank line,
    and sets code deeper than the prose around it (6+ columns, or 4+ for a short line). So a
    switch between prose depth and code depth starts a block, and so does a prose line indented
    deeper than both its neighbours. A keyword line followed by its (slightly) indented
    description stays one unit.
    """
    if len(lines) < 2:
        return [list(lines)] if lines else []
    base = min(_indent(line) for line in lines)
    depth = [_indent(line) - base for line in lines]
    widest = max(len(line.rstrip()) - base for line in lines)
    code_like = [
        d >= 6 or (d >= 4 and len(line.rstrip()) - base < 0.7 * widest)
        for d, line in zip(depth, lines, strict=True)
    ]
    groups: list[list[str]] = [[lines[0]]]
    for i in range(1, len(lines)):
        code, was_code = code_like[i], code_like[i - 1]
        first_line_indent = (
            not code
            and depth[i] > depth[i - 1]
            and i + 1 < len(lines)
            and depth[i + 1] < depth[i]
        )
        if code != was_code or first_line_indent:
            groups.append([lines[i]])
        else:
            groups[-1].append(lines[i])
    return groups


def dedent(lines: list[str]) -> str:
    """Lines without their common indentation (relative indentation, e.g. of code, is kept)."""
    filled = [line for line in lines if line.strip()]
    cut = min((_indent(line) for line in filled), default=0)
    out = [line[cut:] for line in lines]
    if len(filled) > 1 and all(_indent(line) == 0 for line in out[1:]):
        out[0] = out[0].lstrip(" ")  # a paragraph's first-line indent is layout, not structure
    return "\n".join(out)
