"""A chunk's vector: the text the model embeds for it, and vectors reused when that text is unchanged.

Takes chunks (or their embed texts, grouped by file) and an opened index; gives `embed_text`, the
text embedded for a chunk (a short title/heading header, then the chunk), and `chunk_vectors`, the
vectors of a batch: the vector already in the index where a re-read file's chunk embeds the same text
as before, a fresh embedding otherwise. Embedding is most of an ingest's cost, so an edited page, or
a pipeline change that touches a few headings, costs the chunks it changed and not the whole file.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence

import numpy as np

from indexing.chunk import Chunk
from indexing.index import Index

EMBED_SLICE = 256
"""Texts encoded per call, so that progress moves inside a big file (R's reference manual is 7,712
chunks, minutes of encoding). A batch's texts are sliced longest first: the encoder sorts by length
only within a call, and on 3,000 chunks of the library, 1,024-chunk groups cut into slices of 256
this way encoded at 69 chunks/s, cut in library order 66 (one call for the 1,024: 70–71)."""


def embed_text(chunk: Chunk) -> str:
    """The text the model embeds: a short header (title, heading trail) and the chunk."""
    trail = " › ".join(chunk.heading[-2:])
    header = f"{chunk.doc_title[:50]} — {trail[-70:]}" if trail else chunk.doc_title[:80]
    return f"{header}\n{chunk.text}"


def indexed_vectors(index: Index, source: str) -> dict[str, np.ndarray]:
    """The vectors this file's chunks have in the index now, by the text they embed."""
    old = [s.chunk for s in index.catalog.file_chunks(source)]
    stored = index.store.vectors([c.chunk_id for c in old])
    return {embed_text(c): stored[c.chunk_id] for c in old if c.chunk_id in stored}


def chunk_vectors(
    index: Index, files: Sequence[tuple[str, list[str]]], reusable: Container[str],
    on_vectors: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for every embed text of a batch of files (source, embed texts), in order.

    A file whose source is in `reusable` keeps the indexed vector of each text it embedded before;
    the other texts are embedded, `EMBED_SLICE` at a time. Returns the vectors and how many texts were
    embedded; `on_vectors(done, embedded)` hears of the reused ones, then of each encoder batch embedded
    (32 texts: ~0.6 s on a quiet machine, 6 s under heavy load; README, "Managing the library")."""
    texts = [t for _, file_texts in files for t in file_texts]
    vectors = np.zeros((len(texts), index.embedder.dimensions), dtype=np.float32)
    todo: list[int] = []
    offset = 0
    for source, file_texts in files:
        indexed = indexed_vectors(index, source) if source in reusable else {}
        for i, text in enumerate(file_texts, start=offset):
            if text in indexed:
                vectors[i] = indexed[text]
            else:
                todo.append(i)
        offset += len(file_texts)
    report = on_vectors or (lambda done, embedded: None)
    if len(texts) > len(todo):
        report(len(texts) - len(todo), 0)
    todo.sort(key=lambda i: -len(texts[i]))  # slices of similar lengths: less padding (see EMBED_SLICE)
    for start in range(0, len(todo), EMBED_SLICE):
        rows = todo[start : start + EMBED_SLICE]
        vectors[rows] = index.embedder.encode([texts[i] for i in rows], on_batch=lambda n: report(n, n))
    return vectors, len(todo)
