"""A plain-text manual's passage as it reads: the lines a paragraph wraps joined, every other break kept.

The index keeps a text file's own line breaks (HAProxy's configuration.txt wraps at 80 columns), so a
passage showed "Lower values allow more / sessions to coexist" as two lines in a narrow panel. Two
lines are joined only when they are plainly one paragraph: both indented alike, the first filling the
paragraph's width, neither a list item, heading, table or code row (runs of spaces inside a line, a
shell prompt), and the first not a lead-in ending in ':'. The chunk page, the doc context and the chat's
side panel all show a text passage through `reflow_plain`, so they agree.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

BLOCK_START = re.compile(r"^\s*(?:[-*+•o]\s|\d+[.)]\s|[a-z][.)]\s|#|>|\||\$\s|[-=_*~]{3,}\s*$)")
COLUMNS = re.compile(r"\S {2,}\S|\t")  # an option table or aligned code: its spacing is its meaning
FILL_SLACK = 25  # a wrapped line ends within this many columns of the paragraph's widest line
MIN_WRAPPED = 40  # a shorter line ends where its author ended it


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _joins(prev: str, line: str, width: int) -> bool:
    return (bool(prev.strip()) and bool(line.strip()) and _indent(prev) == _indent(line)
            and len(prev.rstrip()) >= max(MIN_WRAPPED, width - FILL_SLACK)
            and not prev.rstrip().endswith(":") and not BLOCK_START.match(line)
            and not COLUMNS.search(prev.strip()) and not COLUMNS.search(line.strip()))


def reflow_plain(text: str) -> str:
    """`text` with each paragraph's wrapped lines joined by a space; lists, code, tables, headings kept."""
    lines = text.split("\n")
    width = max((len(x.rstrip()) for x in lines), default=0)
    out = [lines[0]]
    for prev, line in pairwise(lines):
        if _joins(prev, line, width):
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


def is_plain_text(source: str) -> bool:
    """Text manuals keep their lines in the index; PDF, HTML and Markdown passages are laid out apart."""
    return source.lower().endswith(".txt")


def reflow_sections(sections: list[Any], source: str) -> None:
    """The doc-context page's parts of a text manual reflowed (`sections`: web.PageSection)."""
    if is_plain_text(source):
        for section in sections:
            for item in section.items:
                item.text = reflow_plain(item.text)
