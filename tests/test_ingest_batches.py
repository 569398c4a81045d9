"""How an ingest feeds the encoder: batches that span files, encoded longest text first (less padding),
with every vector still landing on its own chunk; and a batch size that must make sense."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexing import chunk_vectors
from indexing.chunk_vectors import embed_text
from indexing.embedder import Embedder
from indexing.index import Index
from indexing.ingest import Ingester

WORDS = "routing table channel protocol export filter neighbor session timer kernel device prefix".split()


def varied_library(root: Path) -> Path:
    """Six files whose paragraphs run from a few words to a few hundred: chunks of very unequal length."""
    for n in range(6):
        doc = root / "acme" / "1.0" / f"guide-{n}"
        doc.mkdir(parents=True)
        paragraphs = [f"Part {n}.{p}: " + " ".join(WORDS[(n + p + i) % len(WORDS)] for i in range(3 + 37 * p))
                      for p in range(6)]
        (doc / "guide.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return root


def test_each_vector_is_its_own_chunks_text_when_a_batch_is_encoded_longest_first(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunk_vectors, "EMBED_SLICE", 3)  # several slices a batch: the order matters
    calls: list[list[str]] = []
    encode = embedder.encode

    def recording(texts: list[str], progress: bool = False, on_batch: Any = None) -> np.ndarray:
        calls.append(list(texts))
        return encode(texts, progress, on_batch)

    monkeypatch.setattr(embedder, "encode", recording)
    index = Index(tmp_path / "data", embedder=embedder)
    report = Ingester(index, batch_chunks=1024).run(varied_library(tmp_path / "library"))
    monkeypatch.undo()
    chunks = list(index.catalog.iter_chunks())
    assert report.chunks_added == len(chunks) > 12 and not report.failed
    assert len({c.source for c in chunks}) == 6
    # One batch for all six files (else the lengths would start over at each file), sliced longest first.
    lengths = [len(t) for call in calls for t in call]
    assert len(calls) > 1 and sum(len(call) for call in calls) == len(chunks)
    assert lengths == sorted(lengths, reverse=True)
    stored = index.store.vectors([c.chunk_id for c in chunks])
    alone = embedder.encode([embed_text(c) for c in chunks])
    for c, vector in zip(chunks, alone, strict=True):
        assert float(stored[c.chunk_id] @ vector) > 0.999, c.chunk_id


def test_a_batch_of_no_chunks_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="batch_chunks must be at least 1"):
        Ingester(Index(tmp_path / "data", embedder=embedder), batch_chunks=0)
