"""Plain-text loader: form feeds are page breaks (pdftotext output), blank lines end paragraphs.

Section headings are found with a modest heuristic tuned on manuals like HAProxy's: a numbered line
("3.1. Process management and security") underlined with dashes, or an underlined title at column
0. Only when a file has no underlined headings at all are numbered lines standing alone between
blank lines taken as headings instead (as in the PROXY protocol text) — never lines of a summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from indexing.document import Block, LoadedDocument, LoaderError
from indexing.loaders.clean import heading_title, make_blocks
from indexing.loaders.decoding import decode_text as _decode
from indexing.loaders.decoding import read_source, sniff_binary
from indexing.loaders.heading_trail import HeadingTrail
from indexing.loaders.hyphenation import Vocabulary, dehyphenate
from indexing.loaders.text_layout import dedent, drop_running_lines, layout_paragraphs

_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(\S.*)$")
_NUMBERED_STRICT = re.compile(r"^(\d+(?:\.\d+)+\.?|\d+\.)\s+([A-Za-z].*)$")
_RULE = re.compile(r"^\s*([-=~^*_#+])\1{2,}\s*$")
_MAX_HEADING = 100
_KEYWORD_LEVEL = 99  # a reference entry nests under whatever numbered section is in force


@dataclass
class _Heading:
    level: int
    title: str
    underlined: bool


def _blank(line: str | None) -> bool:
    return line is None or not line.strip()


def _underlined_heading(line: str, nxt: str | None, prev: str | None) -> _Heading | None:
    """`3.1. Process management` over a line of dashes; or `Summary` over dashes at column 0."""
    if nxt is None or not _RULE.match(nxt) or not line.strip() or line[0].isspace():
        return None
    text = line.strip()
    if len(text) > _MAX_HEADING or len(nxt.strip()) < 0.5 * len(text) or _RULE.match(line):
        return None
    numbered = _NUMBERED.match(text)
    if numbered:
        return _Heading(level=numbered.group(1).count(".") + 1, title=text, underlined=True)
    if _blank(prev) and any(ch.isalpha() for ch in text):
        return _Heading(level=1, title=text, underlined=True)
    return None


def _standalone_heading(line: str, nxt: str | None, prev: str | None) -> _Heading | None:
    """`2.2. Binary header format (version 2)` alone between blank lines, at column 0."""
    if not line or line[0].isspace() or not _blank(prev) or not _blank(nxt):
        return None
    text = line.strip()
    match = _NUMBERED_STRICT.match(text)
    if not match or len(text) > 80 or text.endswith((".", ",", ";", ":")):
        return None
    return _Heading(level=match.group(1).rstrip(".").count(".") + 1, title=text, underlined=False)


def _keyword_entry(lines: list[str]) -> bool:
    """`maxconn <number>` at column 0 with its description indented by two: a reference entry."""
    if len(lines) < 2 or not lines[0] or lines[0][0].isspace():
        return False
    head = lines[0].strip()
    return (
        len(head) <= 60
        and not head.endswith((".", ":", ",", ";"))
        and lines[1].startswith("  ")
        and not lines[1].startswith("   ")
        and lines[1].strip()[:1].isalpha()
    )


def _uses_underlines(pages: list[list[str]]) -> bool:
    found = 0
    for lines in pages:
        for i, line in enumerate(lines[:-1]):
            if _underlined_heading(line, lines[i + 1], lines[i - 1] if i else None):
                found += 1
                if found >= 2:
                    return True
    return False


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip())


def _centre(line: str) -> float:
    return (_indent_of(line) + len(line.rstrip())) / 2


def _first_paragraphs(lines: list[str], count: int) -> list[list[str]]:
    paras: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paras[-1].append(line)
        elif paras[-1]:
            if len(paras) == count:
                break
            paras.append([])
    return [p for p in paras if p]


def _banner_title(para: list[str]) -> str | None:
    """Centred lines of a banner, up to a rule or a version line."""
    rules = [line for line in para if _RULE.match(line)]
    centre = _centre(rules[0]) if rules else 40.0
    centred: list[str] = []
    for line in para:
        text = line.strip()
        if _RULE.match(line) or re.match(r"(?i)^(version|versions|v?\d)", text):
            if centred:
                break
            continue
        if _indent_of(line) >= 8 and abs(_centre(line) - centre) <= 4 and "     " not in text:
            centred.append(text)
        elif centred:
            break
    return " ".join(centred) or None


def _title(lines: list[str]) -> str | None:
    """A banner's title (centred lines between rules), else the first short line that starts with a
    letter or digit (not an `.. directive::` or a rule)."""
    for para in _first_paragraphs(lines, 3):
        candidate = _banner_title(para)
        if candidate is None:
            first = para[0].strip()
            candidate = first if first[:1].isalnum() else None
        title = heading_title(candidate) if candidate else ""
        if 0 < len(title) <= _MAX_HEADING and any(ch.isalpha() for ch in title):
            return title
    return None


def decode_file(path: Path) -> tuple[str, list[str]]:
    """Read and decode a text-like file; binary files are refused with a reason."""
    data = read_source(path)
    kind = sniff_binary(data)
    if kind:
        raise LoaderError(f"not a text file: the file is {kind}")
    text, warning = _decode(data)
    return text, [warning] if warning else []


def split_pages(text: str) -> list[str]:
    """Pages at form feeds; the empty page after a final form feed does not count."""
    pages = text.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()
    return pages


def _page_units(lines: list[str], use_underlines: bool) -> list[tuple[str, list[str] | _Heading]]:
    """A page as a sequence of ("para", lines) and ("heading", _Heading) units."""
    units: list[tuple[str, list[str] | _Heading]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            units.extend(("para", group) for group in layout_paragraphs(para))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        prev = lines[i - 1] if i else None
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        heading = (
            _underlined_heading(line, nxt, prev)
            if use_underlines
            else _standalone_heading(line, nxt, prev)
        )
        if heading:
            flush()
            units.append(("heading", heading))
            i += 2 if heading.underlined else 1
            continue
        if not line.strip():
            flush()
        elif not _RULE.match(line):
            para.append(line)
        i += 1
    flush()
    return units


def load_text(path: Path) -> LoadedDocument:
    """Parse a plain-text manual into paragraph blocks (pages only when it has form feeds)."""
    text, warnings = decode_file(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw_pages = split_pages(text)
    paged = "\f" in text  # pdftotext ends even a one-page file with a form feed
    pages = [[line.expandtabs(8).rstrip() for line in page.split("\n")] for page in raw_pages]
    if paged:
        pages = drop_running_lines(pages)
    vocabulary = Vocabulary([text])
    use_underlines = _uses_underlines(pages)
    trail = HeadingTrail()
    blocks: list[Block] = []
    for number, lines in enumerate(pages, start=1):
        page = number if paged else None
        for kind, unit in _page_units(lines, use_underlines):
            if isinstance(unit, _Heading):
                trail.set(unit.level, heading_title(unit.title))
                body = unit.title
            else:
                if _keyword_entry(unit):
                    trail.set(_KEYWORD_LEVEL, heading_title(unit[0]))
                body = dehyphenate(dedent(unit), vocabulary)
            blocks.extend(
                make_blocks(body, page=page, page_label=None, heading=trail.trail(), code=kind == "para",
                            vocabulary=vocabulary)
            )
    return LoadedDocument(
        blocks=blocks,
        title=_title(raw_pages[0].split("\n")[:60] if raw_pages else []),
        pages=len(pages) if paged else 0,
        warnings=warnings,
    )
