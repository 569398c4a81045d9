"""One library file read, chunked and made ready to embed and store, before anything is written.

Takes a library file (its identity from the folder layout, its digest, size and modification time),
the chunker and the per-file chunk cap; gives a `PreparedFile`: the chunk records with their ids,
what each chunk embeds and the keyword terms it is found by, and the file's page count, title and
warnings. An ingest prepares the next files in a worker thread while it embeds the current ones, so
this step touches neither the catalog nor Chroma.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexing.chunk import Chunk, make_chunk_id
from indexing.chunk_vectors import embed_text
from indexing.chunker import Chunker
from indexing.keyword import keyword_text
from indexing.library import SourceFile
from indexing.loaders import load_file
from indexing.tokens import tokenize


@dataclass
class PreparedFile:
    file: SourceFile
    digest: str
    size: int
    mtime_ns: int
    chunks: list[Chunk]
    overlaps: list[int]
    embed_texts: list[str]
    terms: list[str]
    pages: int
    file_title: str | None
    warnings: list[str]


def prepare_file(
    sf: SourceFile, digest: str, size: int, mtime_ns: int, chunker: Chunker, max_file_chunks: int
) -> PreparedFile:
    """Parse and chunk one file, keeping its first `max_file_chunks` chunks (a warning says when cut)."""
    loaded = load_file(sf.path)
    pieces = chunker.chunk(loaded.blocks, limit=max_file_chunks + 1)  # one more: was it cut?
    warnings = list(loaded.warnings)
    if len(pieces) > max_file_chunks:
        pieces = pieces[:max_file_chunks]
        kept = sum(len(p.text) - p.overlap_chars for p in pieces)
        share = kept / max(1, sum(len(b.text) for b in loaded.blocks))
        warnings.append(f"partially indexed: first {max_file_chunks} chunks, about {share:.1%} of its "
                        "text (the per-file cap, --max-file-chunks)")
    labels = {b.page: b.page_label for b in loaded.blocks if b.page is not None}
    doc_title = sf.doc_title or loaded.title or sf.doc.replace("-", " ").title()
    chunks = [
        Chunk(
            chunk_id=make_chunk_id(sf.product, sf.version, sf.doc, sf.stem, n),
            text=p.text, vendor=sf.vendor, product=sf.product, version=sf.version, doc=sf.doc,
            doc_title=doc_title, source=sf.source, page=p.page, page_end=p.page_end,
            page_label=labels.get(p.page) if p.page is not None else None,
            heading=p.heading, ordinal=n, page_starts=p.page_starts,
        )
        for n, p in enumerate(pieces)
    ]
    return PreparedFile(
        sf, digest, size, mtime_ns, chunks, [p.overlap_chars for p in pieces],
        [embed_text(c) for c in chunks], [" ".join(tokenize(keyword_text(c))) for c in chunks],
        loaded.pages, loaded.title, warnings,
    )
