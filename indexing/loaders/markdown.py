"""Markdown loader, including Markdown converted from PDFs with page markers.

A page starts at a line `<!-- page N -->` / `<!-- page: N -->` (N is the physical page of what
follows) or at a form feed (next page = previous + 1). A marker that does not hold a number is kept
out of the text, reported as a warning and leaves the page unchanged. Headings (`#` and setext) give
the trail and also stay as short blocks of their own, so a search for a section title finds them.
Markdown syntax is stripped lightly; code keeps its content and indentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from indexing.document import Block, LoadedDocument
from indexing.loaders.clean import heading_title, make_blocks
from indexing.loaders.heading_trail import HeadingTrail
from indexing.loaders.hyphenation import Vocabulary, dehyphenate
from indexing.loaders.text import decode_file
from indexing.loaders.text_layout import dedent, drop_running_lines, layout_paragraphs

_MARKER = re.compile(r"^\s*<!--\s*page\b\s*:?\s*(.*?)\s*-->\s*$", re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*<!--.*-->\s*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.IGNORECASE)

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()\s]*\))+(?:\s+\"[^\"]*\")?\)"), r"\1"),  # link -> text
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # inline code -> content
    (re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])__(?=\S)(.+?)(?<=\S)__(?![\w_])"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"^ {0,3}> ?", re.MULTILINE), ""),  # block quote
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>])(?=\w)"), r"\1"),  # escapes (not "-A\\*.gz" in code)
]


@dataclass
class _State:
    """Where the parser is: page, heading trail, and the blocks so far."""

    page: int | None
    vocabulary: Vocabulary
    trail: HeadingTrail = field(default_factory=HeadingTrail)
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    first_heading: str | None = None


def strip_inline(text: str) -> str:
    """Drop emphasis, link and code syntax, keeping the words (and URLs of bare autolinks)."""
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text


def _front_matter(lines: list[str]) -> tuple[int, str | None]:
    """Skip a leading YAML front-matter block; return lines consumed and its title, if any."""
    if not lines or lines[0].strip() != "---":
        return 0, None
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            title = next((m.group(1).strip("'\"") for m in map(_FRONT_MATTER_TITLE.match, lines[1:i]) if m), None)
            return i + 1, title
    return 0, None


def _page_events(lines: list[str]) -> tuple[list[int | str | None], list[str]]:
    """For each line: None (content), an int (a page starts here), or "ff"/"bad" markers."""
    events: list[int | str | None] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line == "\f":
            events.append("ff")
            continue
        m = _MARKER.match(line)
        if m is None:
            events.append(None)
        elif m.group(1).isdigit():
            events.append(int(m.group(1)))
        else:
            events.append("bad")
            warnings.append(f"line {number}: malformed page marker {line.strip()!r} ignored")
    return events, warnings


def _first_page(events: list[int | str | None]) -> int | None:
    """The page of text before the first marker: 1 if the file is paged from its start, else None."""
    for event in events:
        if event == "ff":
            return 1
        if isinstance(event, int):
            return 1 if event == 1 else None
    return None


def _emit_heading(state: _State, level: int, text: str) -> None:
    title = heading_title(strip_inline(text))
    if not title:
        return
    state.trail.set(level, title)
    if state.first_heading is None:
        state.first_heading = title
    if level == 1 and state.title is None:
        state.title = title
    state.blocks.extend(make_blocks(title, page=state.page, page_label=None, heading=state.trail.trail()))


def _emit_paragraph(state: _State, lines: list[str]) -> None:
    for group in layout_paragraphs(lines):
        text = dehyphenate(strip_inline(dedent(group)), state.vocabulary)
        state.blocks.extend(
            make_blocks(text, page=state.page, page_label=None, heading=state.trail.trail(), code=True,
                        vocabulary=state.vocabulary)
        )


def _emit_code(state: _State, lines: list[str]) -> None:
    if any(line.strip() for line in lines):
        state.blocks.extend(
            make_blocks(dedent(lines), page=state.page, page_label=None, heading=state.trail.trail(), code=True)
        )


def _parse(lines: list[str], events: list[int | str | None], state: _State) -> None:
    """One pass over the lines: pages, fences, headings, paragraphs."""
    para: list[str] = []
    code: list[str] = []
    fence: str | None = None
    in_comment = False

    def flush() -> None:
        if para:
            _emit_paragraph(state, para)
            para.clear()
        if code:
            _emit_code(state, code)
            code.clear()

    for i, line in enumerate(lines):
        event = events[i]
        if event is not None:  # page boundaries end any block: blocks never span two pages
            flush()
            if event == "ff":
                state.page = (state.page or 0) + 1
            elif isinstance(event, int):
                state.page = event
            continue
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
                flush()
            else:
                code.append(line)
            continue
        fence_m = _FENCE.match(line)
        if fence_m:
            flush()
            fence = fence_m.group(1)
            continue
        if in_comment or (line.lstrip().startswith("<!--") and "-->" not in line):
            in_comment = "-->" not in line  # a comment over several lines is not content
            continue
        if _COMMENT_LINE.match(line):
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            _emit_heading(state, len(atx.group(1)), atx.group(2) or "")
            continue
        setext = _SETEXT.match(line)
        if setext and len(para) == 1 and len(para[0].strip()) <= 120:
            heading = para.pop()
            flush()
            _emit_heading(state, 1 if setext.group(1)[0] == "=" else 2, heading)
            continue
        if _THEMATIC.match(line) or not line.strip():
            flush()
            continue
        para.append(line)
    flush()


@dataclass
class SourcePage:
    """A run of a Markdown file's own lines on one page: `marker` is the page-marker line that starts it
    ("" at the top of the file and after a form feed); `page` is None before the first marker of a
    file that is not paged from its start."""

    page: int | None
    marker: str
    lines: list[str]


def source_pages(text: str) -> list[SourcePage]:
    """The file's lines cut where its pages start, numbered as `load_markdown` numbers its blocks.

    The lines are the file's own (markup kept, form feeds dropped), for showing the original.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\f\n")
    lines = text.split("\n")
    skip, _ = _front_matter([line.expandtabs(4).rstrip(" ") for line in lines])
    events, _ = _page_events([line.expandtabs(4).rstrip(" ") for line in lines[skip:]])
    page = _first_page(events)
    pages = [SourcePage(page, "", [])]
    for line, event in zip(lines, [None] * skip + events, strict=True):
        if event == "ff":
            page = (page or 0) + 1
            pages.append(SourcePage(page, "", []))
        elif isinstance(event, int):
            page = event
            pages.append(SourcePage(page, line, []))
        else:
            pages[-1].lines.append(line)
    return [p for p in pages if p.marker or p.lines or p is not pages[0]]


def load_markdown(path: Path) -> LoadedDocument:
    """Parse Markdown into heading-aware blocks, paged when it carries page markers or form feeds."""
    text, warnings = decode_file(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\f\n")
    lines = [line.expandtabs(4).rstrip(" ") for line in text.split("\n")]  # keep "\f" lines
    skip, front_title = _front_matter(lines)
    lines = lines[skip:]
    events, marker_warnings = _page_events(lines)
    warnings += marker_warnings[:20]
    if len(marker_warnings) > 20:
        warnings.append(f"{len(marker_warnings) - 20} more malformed page markers ignored")
    paged = any(e == "ff" or isinstance(e, int) for e in events)
    if paged:
        lines = _without_running_lines(lines, events)
    state = _State(page=_first_page(events), vocabulary=Vocabulary([text]))
    _parse(lines, events, state)
    pages = max((b.page or 0 for b in state.blocks), default=0) if paged else 0
    last_marker = max((e for e in events if isinstance(e, int)), default=0)
    return LoadedDocument(
        blocks=state.blocks,
        title=front_title or state.title or state.first_heading,
        pages=max(pages, last_marker) if paged else 0,
        warnings=warnings,
    )


def _without_running_lines(lines: list[str], events: list[int | str | None]) -> list[str]:
    """Blank out running headers and page numbers that a PDF-to-text conversion left on each page."""
    pages: list[list[int]] = [[]]
    for i, event in enumerate(events):
        if event is None:
            pages[-1].append(i)
        elif event != "bad":
            pages.append([])
    cleaned = drop_running_lines(
        [[lines[i] for i in page] for page in pages],
        keep=lambda line: bool(_ATX.match(line) or _FENCE.match(line) or _MARKER.match(line)),
    )
    out = list(lines)
    for indices, page_lines in zip(pages, cleaned, strict=True):
        for i, line in zip(indices, page_lines, strict=True):
            out[i] = line
    return out
