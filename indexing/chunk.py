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


class PageStart(BaseModel):
    """Where a page begins in a chunk's text, so a chunk that runs onto the next page can still be
    cited, linked and shown at the exact page of each of its sentences."""

    offset: int = Field(description="Character offset in the chunk's text where the page begins")
    page: int = Field(description="Physical page, 1-based")
    label: str | None = Field(default=None, description="Printed page label, where the PDF has one")


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text`, whitespace ignored (a quote's line breaks and spacing may
    differ from the chunk's), case ignored only when no exact match; None when absent."""
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]
    compact = "".join(text[i] for i in positions)
    needle = "".join(quote.split())
    if not needle:
        return None
    at = compact.find(needle)
    if at < 0 and len(compact.lower()) == len(compact) and len(needle.lower()) == len(needle):
        at = compact.lower().find(needle.lower())
    if at < 0:
        return None
    return positions[at], positions[at + len(needle) - 1] + 1


class Quote(BaseModel):
    """The sentence an answer quotes from a chunk, as offsets in the chunk's text, so every link to the
    citation can open the page (or the passage) at that sentence and mark it."""

    start: int = Field(ge=0, description="Offset of the sentence's first character in the chunk's text")
    end: int = Field(ge=0, description="Offset just past the sentence's last character")


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
    page_starts: list[PageStart] = Field(
        default_factory=list,
        description="Where each page the text reaches begins in it (two for a chunk that runs onto the next page)",
    )
    ordinal: int = Field(description="Position of the chunk in its file, from 0")
    score: float | None = Field(
        default=None, description="Fused retrieval score, 0–1, higher is better (on results only)"
    )
    similarity: float | None = Field(
        default=None,
        description="Cosine similarity of query and chunk under the embedding model (on results only); "
        "comparable across queries, unlike score",
    )
    quote: Quote | None = Field(
        default=None, description="The sentence of the text an answer cites (on citations only)"
    )

    def pages_text(self) -> str:
        """"p. 163" / "pp. 163–164" / "" — how citations print the span."""
        if self.page is None:
            return ""
        label = f" (printed {self.page_label})" if self.page_label and self.page_label != str(self.page) else ""
        if self.page_end and self.page_end != self.page:
            return f"pp. {self.page}–{self.page_end}{label}"
        return f"p. {self.page}{label}"

    def page_spans(self) -> list[tuple[PageStart, int]]:
        """Each page the text reaches, with the offset where its part ends. A chunk without recorded
        starts (built by hand, or from an older record) is all on its first page."""
        starts = self.page_starts or (
            [PageStart(offset=0, page=self.page, label=self.page_label)] if self.page is not None else [])
        ends = [s.offset for s in starts[1:]] + [len(self.text)] * bool(starts)
        return list(zip(starts, ends, strict=True))

    def page_text(self, page: int) -> str:
        """The part of the text on physical page `page` ("" when the chunk has none there)."""
        return "".join(self.text[s.offset : end].rstrip("\n") for s, end in self.page_spans() if s.page == page)

    def cited_at(self, text: str) -> Chunk:
        """This chunk cited at `text` (a sentence quoted from it): a copy carrying the sentence's
        offsets (`quote`) and whose page, page_end and page_label are those of the page(s) the sentence
        lies on, so its links open that page at that sentence. The chunk itself when the sentence is
        not found in it."""
        found = find_quote(self.text, text)
        if found is None:
            return self
        update: dict[str, object] = {"quote": Quote(start=found[0], end=found[1])}
        spans = self.page_spans()
        if len(spans) > 1:
            first = next(s for s, end in spans if found[0] < end)
            last = next(s for s, end in spans if found[1] <= end)
            update |= {"page": first.page, "page_label": first.label, "page_end": last.page}
        return self.model_copy(update=update)
