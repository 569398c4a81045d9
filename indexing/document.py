"""What a loader returns: a file's text as pages and sections, before chunking."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """A run of text under one heading trail on one page (a paragraph, a list, a code block)."""

    text: str
    page: int | None = None
    page_label: str | None = None
    heading: list[str] = field(default_factory=list)


@dataclass
class LoadedDocument:
    """A parsed file. `blocks` are in reading order; `pages` counts physical pages (0 if unpaged)."""

    blocks: list[Block]
    title: str | None = None
    pages: int = 0
    warnings: list[str] = field(default_factory=list)


class LoaderError(Exception):
    """A file that cannot be parsed; the message is shown to the user next to its path."""
