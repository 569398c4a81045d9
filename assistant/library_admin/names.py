"""Which names may enter the library: folders by the library's own rule, files by the loaders' suffixes.

Every name a caller gives (a form field, a zip entry, an MCP argument) passes here before it touches
the disk, so `../`, absolute paths, backslashes, hidden names and control characters never reach a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from assistant.errors import BadRequest
from indexing.chunk import FOLDER_NAME, FOLDER_NAME_RULE
from indexing.loaders import LOADERS

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,126}\Z")
FILE_NAME_RULE = "letters, digits, spaces and . _ + ( ) - only, at most 127 characters, not starting with a dot"
METADATA_NAMES = frozenset({"mcdewey.toml"})  # metadata a zip may carry in a product, version or doc folder
LEVELS = ("product", "version", "doc")


def folder(kind: str, name: str) -> str:
    """A product, version or doc name, checked (the reason names the field and the rule)."""
    if not isinstance(name, str) or not FOLDER_NAME.match(name):
        raise BadRequest(f"{kind} {name!r} is not a valid folder name ({FOLDER_NAME_RULE})")
    return name


def file_name(name: str) -> str:
    """A document file's name: a plain name (no folder), with a suffix some loader reads."""
    if not isinstance(name, str) or "/" in name or "\\" in name or not FILE_NAME.match(name) or name.endswith(" "):
        raise BadRequest(f"file name {name!r} is not allowed ({FILE_NAME_RULE})")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in LOADERS:
        readable = ", ".join(sorted(LOADERS))
        raise BadRequest(f"file {name!r}: McDewey reads {readable} files, not {suffix or 'no suffix'}")
    return name


@dataclass(frozen=True)
class Target:
    """A place in the library: a product, a version, a doc or one file, from the top down."""

    product: str
    version: str | None = None
    doc: str | None = None
    file: str | None = None

    @classmethod
    def of(cls, product: str, version: str | None = None, doc: str | None = None,
           file: str | None = None) -> Target:
        """Checked names; a lower level needs every level above it."""
        gap = False
        for value in (product, version, doc, file):
            if value and gap:
                raise BadRequest("name the product, then the version, then the doc, then the file (no level skipped)")
            gap = gap or not value
        folder("product", product)
        if version:
            folder("version", version)
        if doc:
            folder("doc", doc)
        if file:
            file_name(file)
        return cls(product, version or None, doc or None, file or None)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in (self.product, self.version, self.doc, self.file) if p)

    @property
    def path(self) -> str:
        """Relative to the library root, '/'-separated (how the library lists sources)."""
        return "/".join(self.parts)
