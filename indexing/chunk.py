"""The chunk: the one record every surface (CLI, REST, MCP, web, chat) shows.

LlamaIndex and Chroma types never leave `indexing/`; they are converted to and from this model at
the boundary, so a chunk looks the same wherever it is rendered.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

FILTER_KEYS = ("product", "version", "doc")
"""The chunk fields a search can be narrowed to: the library's folder levels, outermost first."""

# What a product, version or doc folder may be called, and so what a search filter may name. It ends
# in \Z, not $: $ also matches before a final newline, which no folder the library takes can end with
# (it refuses control characters first). No ':' either, so a name never holds the id separator.
FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\Z")
FOLDER_NAME_RULE = "letters, digits and . _ + - only, at most 64 characters"

ID_SEPARATOR = "::"


def file_id_prefix(product: str, version: str, doc: str, stem: str) -> str:
    """`product::version::doc::<file stem>`: what every chunk id of one file starts with."""
    return ID_SEPARATOR.join((product, version, doc, stem))


def make_chunk_id(product: str, version: str, doc: str, stem: str, ordinal: int) -> str:
    """`product::version::doc::<file stem>::N`, stable while the file is unchanged."""
    return f"{file_id_prefix(product, version, doc, stem)}{ID_SEPARATOR}{ordinal}"


def split_chunk_id(chunk_id: str) -> tuple[str, int]:
    """Return (file prefix, ordinal); raises ValueError for anything not shaped like a chunk id."""
    prefix, sep, ordinal = chunk_id.rpartition(ID_SEPARATOR)
    if not sep or prefix.count(ID_SEPARATOR) != 3 or not ordinal.isdigit():
        raise ValueError(f"not a chunk id: {chunk_id!r} (expected product::version::doc::file::N)")
    return prefix, int(ordinal)


class Chunk(BaseModel):
    """A passage of one file of a vendor manual, with everything needed to cite it."""

    chunk_id: str = Field(description="product::version::doc::<file stem>::N")
    text: str
    vendor: str
    product: str
    version: str
    doc: str
    doc_title: str
    source: str = Field(description="Path of the file relative to the library root")
    page: int | None = Field(default=None, description="Physical page, 1-based (what #page=N opens)")
    page_end: int | None = Field(default=None, description="Last physical page the chunk reaches")
    page_label: str | None = Field(default=None, description="Printed page label, where the PDF has one")
    heading: list[str] = Field(default_factory=list, description="Trail of section titles")
    ordinal: int = Field(description="Position of the chunk in its file, from 0")
    score: float | None = Field(
        default=None, description="Fused retrieval score, 0–1, higher is better (on results only)"
    )
    similarity: float | None = Field(
        default=None,
        description="Cosine similarity of query and chunk under the embedding model (on results only); "
        "comparable across queries, unlike score",
    )

    def pages_text(self) -> str:
        """"p. 163" / "pp. 163–164" / "" — how citations print the span."""
        if self.page is None:
            return ""
        label = f" (printed {self.page_label})" if self.page_label and self.page_label != str(self.page) else ""
        if self.page_end and self.page_end != self.page:
            return f"pp. {self.page}–{self.page_end}{label}"
        return f"p. {self.page}{label}"
