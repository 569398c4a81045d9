"""The heading trail a loader keeps while it walks a document's sections.

Takes headings as they are met (a nesting level and a title) and gives the titles in force, outermost
first: the `heading` every block carries, which becomes the breadcrumb of a chunk ("Server
Configuration › Replication"). The text, Markdown and HTML loaders all nest headings the same way.
"""

from __future__ import annotations


class HeadingTrail:
    """The section titles in force, one per nesting level (level 1 = outermost)."""

    def __init__(self) -> None:
        self._levels: list[tuple[int, str]] = []

    def set(self, level: int, title: str) -> None:
        """Enter a heading: it replaces any heading at the same or a deeper level."""
        while self._levels and self._levels[-1][0] >= level:
            self._levels.pop()
        self._levels.append((level, title))

    def trail(self) -> list[str]:
        return [title for _, title in self._levels]
