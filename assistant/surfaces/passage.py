"""A chunk's text as its own page (`/chunks/{id}`) shows it: escaped, its line structure kept, the
section title not repeated, and the inline code of a Markdown source shown as code.

The index stores a Markdown chunk with its source's line breaks (a paragraph wrapped at 100 columns
stays wrapped) and its inline-code backticks stripped (search sees the plain words). The page reads
the source again, on the chunk's own pages: two lines that one paragraph wraps are joined (the
browser wraps them to its width), a blank line comes back between paragraphs, list items and code
keep their lines, and the spans that were `code` are marked again. A line the source does not show
the same way is left as it is. Everything is escaped piece by piece: no markup from a document
reaches the page.
"""

from __future__ import annotations

import re
from itertools import pairwise

from markupsafe import Markup, escape

from assistant.surfaces.files import ShownPage
from assistant.surfaces.reflow import is_plain_text, reflow_plain
from indexing.chunk import Chunk
from indexing.loaders.markdown import strip_inline

INLINE_CODE = re.compile(r"(?<!`)(`+)([^`\n]+?)\1(?!`)")
MAX_SPANS = 500  # a page of a converted manual holds far fewer; bounds the pattern on odd files
FENCE = re.compile(r"^\s*(```|~~~)")
# A line that starts its own block: a list item, heading, quote, table row, rule or setext underline, comment.
BLOCK_START = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|#|>|\||<!--|[-=_*]{3,}\s*$)")
NO_JOIN_AFTER = re.compile(r"^\s*(?:#|\||<!--)|(?:  |\\)$")  # headings, table rows, hard breaks
MIN_WRAPPED = 40  # a shorter line ends where its author ended it, not where the editor wrapped it


def body_text(chunk: Chunk) -> str:
    """The chunk's text without its first line when that line only repeats the last heading of its trail."""
    if not chunk.heading:
        return chunk.text
    first, _, rest = chunk.text.partition("\n")
    if " ".join(first.split()) == " ".join(chunk.heading[-1].split()) and rest.strip():
        return rest
    return chunk.text


def chunk_pages(pages: list[ShownPage], first: int | None, last: int | None) -> list[ShownPage]:
    """The source's pages `first`..`last` (all of them when the chunk has no page)."""
    if first is None:
        return pages
    last = first if last is None else last
    return [p for p in pages if p.page is not None and first <= p.page <= last]


def code_spans(pages: list[ShownPage]) -> list[str]:
    """The inline code (`like this`) on these pages of the source, longest first."""
    found: dict[str, None] = {}
    for page in pages:
        for m in INLINE_CODE.finditer(page.text):
            span = m.group(2).strip()
            if span:
                found[span] = None
    return sorted(found, key=lambda s: (-len(s), s))[:MAX_SPANS]


def _key(line: str) -> str:
    """A line as both the source and the chunk spell it: markup stripped, letters and digits only."""
    return re.sub(r"\W+", "", strip_inline(line)).lower()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def line_breaks(pages: list[ShownPage]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Pairs of consecutive source lines (as `_key`s): those a paragraph wraps, and those a blank line parts."""
    wrapped: set[tuple[str, str]] = set()
    parted: set[tuple[str, str]] = set()
    for page in pages:
        prev, prev_line, gap, fence = "", "", False, False
        for line in page.text.split("\n"):
            if FENCE.match(line) or fence:
                fence = fence != bool(FENCE.match(line))
                prev = ""
                continue
            if not line.strip():
                gap = True
                continue
            key = _key(line)
            if prev and key:
                if gap:
                    parted.add((prev, key))
                elif (len(prev_line.strip()) >= MIN_WRAPPED and not NO_JOIN_AFTER.search(prev_line)
                      and not BLOCK_START.match(line) and max(_indent(prev_line), _indent(line)) < 4
                      and (_indent(line) <= _indent(prev_line) or BLOCK_START.match(prev_line))):
                    wrapped.add((prev, key))
            prev, prev_line, gap = key, line, False
    return wrapped, parted


def reflow(text: str, wrapped: set[tuple[str, str]], parted: set[tuple[str, str]]) -> str:
    """`text` with the source's soft wraps joined and its paragraph breaks back; other lines as they are."""
    lines = text.split("\n")
    out = [lines[0]]
    for prev, line in pairwise(lines):
        pair = (_key(prev), _key(line))
        if pair in wrapped:
            out[-1] = out[-1].rstrip() + " " + line.lstrip()
        else:
            out += ["", line] if pair in parted else [line]
    return "\n".join(out)


def _spans_pattern(spans: list[str]) -> re.Pattern[str] | None:
    if not spans:
        return None
    alternatives = []
    for span in spans:
        before = r"(?<![\w`])" if re.match(r"\w", span) else r"(?<!`)"
        after = r"(?![\w`])" if re.search(r"\w$", span) else r"(?!`)"
        alternatives.append(before + re.escape(span) + after)
    return re.compile("|".join(alternatives))


def wrap_matches(text: str, pattern: re.Pattern[str] | None, tag: str) -> Markup:
    """`text` escaped piece by piece, each match of `pattern` inside <tag>…</tag>."""
    if pattern is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<{tag}>{escape(m.group(0))}</{tag}>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def passage_html(text: str, spans: list[str]) -> Markup:
    """`text` escaped, line breaks kept (the page shows them), each inline-code span in <code>."""
    return wrap_matches(text, _spans_pattern(spans), "code")


def chunk_body(chunk: Chunk, pages: list[ShownPage] | None) -> Markup:
    """What the chunk page shows as the passage: `body_text`, laid out and with its code marked as in
    the source (`pages`: the whole Markdown source; None for other formats)."""
    text = body_text(chunk)
    if not pages:
        return escape(reflow_plain(text) if is_plain_text(chunk.source) else text)
    own = chunk_pages(pages, chunk.page, chunk.page_end)
    return passage_html(reflow(text, *line_breaks(own)), code_spans(own))
