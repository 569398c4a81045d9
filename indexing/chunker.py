"""Pack a loaded document's blocks into chunks that fit the embedding model's window.

all-MiniLM-L6-v2 embeds 256 word pieces and silently drops the rest, so a chunk's body is kept
under `max_tokens` word pieces, leaving room for the doc title and heading trail that are prepended
when embedding. A chunk stays on one page, except that a short tail may run onto the next page and
that the last sentences of the previous chunk are repeated at the start (overlap), so a sentence cut
by a chunk or page boundary can still be found whole. A chunk never spans more than two pages, and
it records where in its text each page begins, so a sentence in it can be cited at its own page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from indexing.chunk import PageStart
from indexing.document import Block

TokenCounter = Callable[[Sequence[str]], list[int]]

LEAD_IN_TOKENS = 8
UNIT_BATCH = 256  # blocks measured per tokenizer call; units are made lazily, so a capped file stops early

SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z0-9\"'(\[])|\n+")


@dataclass
class Piece:
    """A chunk before it gets its identity: text, page span and heading trail."""

    text: str
    page: int | None
    page_end: int | None
    heading: list[str]
    overlap_chars: int = 0
    overlap_tokens: int = 0
    tokens: int = 0
    units: list[str] = field(default_factory=list, repr=False)
    unit_info: list[tuple[int, int | None]] = field(default_factory=list, repr=False)  # (tokens, page)
    page_starts: list[PageStart] = field(default_factory=list)

    def add(self, text: str, tokens: int, page: int | None) -> None:
        self.units.append(text)
        self.unit_info.append((tokens, page))
        self.tokens += tokens
        if page is not None:
            self.page_end = page if self.page_end is None else max(self.page_end, page)
            self.page = page if self.page is None else self.page

    @property
    def own_tokens(self) -> int:
        return self.tokens - self.overlap_tokens

    def finish(self, labels: dict[int, str | None]) -> None:
        """Join the units into the text and note where each page begins in it."""
        self.text = "\n".join(self.units)
        self.page_starts = []
        offset = 0
        for unit, (_, page) in zip(self.units, self.unit_info, strict=True):
            if page is not None and (not self.page_starts or self.page_starts[-1].page != page):
                at = offset if self.page_starts else 0  # the text before a first page is on it
                self.page_starts.append(PageStart(offset=at, page=page, label=labels.get(page)))
            offset += len(unit) + 1


def approx_tokens(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free estimate (≈ word pieces) for tests and tools without the model."""
    return [len(re.findall(r"\w+|[^\w\s]", t)) + len(re.findall(r"\w{8,}", t)) for t in texts]


def _split_long(text: str, limit: int, count: TokenCounter) -> list[str]:
    """Split an over-long block at sentence ends, then at spaces, into parts within `limit`."""
    sentences = [s for s in SENTENCE_END.split(text) if s and s.strip()]
    parts: list[str] = []
    for sentence, n in zip(sentences, count(sentences), strict=True):
        if n <= limit:
            parts.append(sentence)
            continue
        words = sentence.split()
        step = max(1, int(len(words) * limit / max(n, 1) * 0.9))
        parts.extend(" ".join(words[i : i + step]) for i in range(0, len(words), step))
    return parts


class Chunker:
    """Greedy packer of blocks into pieces of at most `max_tokens` word pieces."""

    def __init__(
        self, count: TokenCounter, max_tokens: int = 220, min_tokens: int = 60, overlap_tokens: int = 30
    ) -> None:
        self.count = count
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.overlap_tokens = overlap_tokens

    def _units(self, blocks: Sequence[Block]) -> Iterator[tuple[Block, str, int]]:
        """Blocks cut into units that each fit a chunk, with their token counts."""
        for start in range(0, len(blocks), UNIT_BATCH):
            batch = blocks[start : start + UNIT_BATCH]
            texts = [b.text.strip() for b in batch]
            for block, text, n in zip(batch, texts, self.count(texts), strict=True):
                if not text:
                    continue
                if n <= self.max_tokens:
                    yield block, text, n
                    continue
                parts = _split_long(text, self.max_tokens - self.overlap_tokens, self.count)
                yield from ((block, p, c) for p, c in zip(parts, self.count(parts), strict=True))

    def chunk(self, blocks: Sequence[Block], limit: int | None = None) -> list[Piece]:
        """The blocks packed into pieces; with `limit`, stop once that many pieces are made (the
        first pieces are the same as without it)."""
        pieces: list[Piece] = []
        current: Piece | None = None
        labels: dict[int, str | None] = {}
        for block, text, n in self._units(blocks):
            if block.page is not None:
                labels[block.page] = block.page_label
            if current is not None and self._must_close(current, block, n):
                lead = self._pop_lead_in(current, block)
                pieces.append(current)
                if limit is not None and len(pieces) >= limit:
                    current = None
                    break
                current = self._start_after(current, block, n + sum(k for _, k in lead))
                for lead_text, k in lead:
                    current.add(lead_text, k, block.page)
            if current is None:
                current = Piece("", block.page, block.page, list(block.heading))
            current.add(text, n, block.page)
        if current is not None and current.own_tokens > 0:
            pieces.append(current)
        for piece in pieces:
            piece.finish(labels)
        return pieces

    def _must_close(self, current: Piece, block: Block, n: int) -> bool:
        if current.tokens + n > self.max_tokens:
            return True
        # Run onto the next page only while the chunk is still too short to stand alone,
        # and never further than one page past its start (nor across blank pages).
        if (block.page is not None and block.page != current.page_end
                and (current.own_tokens >= self.min_tokens or current.page != current.page_end
                     or (current.page_end is not None and block.page > current.page_end + 1))):
            return True
        return block.heading != current.heading and current.own_tokens >= self.min_tokens

    def _pop_lead_in(self, current: Piece, block: Block) -> list[tuple[str, int]]:
        """Short trailing lines ("Description", "Examples:") belong with the text that follows."""
        lead: list[tuple[str, int]] = []
        first_own = 1 if current.overlap_chars else 0
        while (len(current.units) > first_own + 1 and current.unit_info[-1][0] <= LEAD_IN_TOKENS
               and current.unit_info[-1][1] == block.page and block.heading == current.heading):
            tokens, _ = current.unit_info.pop()
            lead.insert(0, (current.units.pop(), tokens))
            current.tokens -= tokens
        if lead:
            pages = [p for _, p in current.unit_info if p is not None]
            current.page_end = max(pages) if pages else current.page_end
        return lead

    def _start_after(self, previous: Piece, block: Block, n_next: int) -> Piece:
        """A new piece that repeats the last sentences of `previous` when the text runs on."""
        gap = block.page is not None and previous.page_end is not None and block.page > previous.page_end + 1
        if block.heading != previous.heading or gap:  # nothing runs on across a heading or blank pages
            return Piece("", block.page, block.page, list(block.heading))
        carried: list[str] = []
        used = 0
        sentences = [s.strip() for s in SENTENCE_END.split(previous.units[-1]) if s and s.strip()]
        for sentence, n in reversed(list(zip(sentences, self.count(sentences), strict=True))):
            if used + n > self.overlap_tokens or used + n + n_next > self.max_tokens:
                break
            carried.insert(0, sentence)
            used += n
        if not carried:
            return Piece("", block.page, block.page, list(block.heading))
        overlap = " ".join(carried)
        piece = Piece("", None, None, list(block.heading), overlap_chars=len(overlap) + 1, overlap_tokens=used)
        piece.add(overlap, used, previous.page_end)
        return piece
