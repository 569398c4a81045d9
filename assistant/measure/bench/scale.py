"""The bench's synthetic large index: a real index's chunks copied with new ids and jittered vectors
until it holds the target number of chunks (section 3's scale rows)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def build_scale_index(source: Any, dest: Path, target: int, embedder: Any,
                      step: Callable[[str], None]) -> int:
    """A copy of `source`'s chunks, repeated with new ids (vectors jittered around the originals and
    renormalised, texts unchanged) until `target` chunks, with its own catalog, Chroma and BM25."""
    from indexing.catalog import FileRecord
    from indexing.index import GENERATION_KEY, Index
    from indexing.ingest import PIPELINE_VERSION
    from indexing.keyword import KeywordIndex

    out = Index(dest, embedder=embedder)
    files = source.catalog.files()
    by_source: dict[str, list[Any]] = {}
    for chunk in source.catalog.iter_chunks():
        by_source.setdefault(chunk.source, []).append(chunk)
    ids = [c.chunk_id for cs in by_source.values() for c in cs]
    if not ids:
        raise RuntimeError("the index to copy is empty")
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(ids), 2000):
        vectors.update(source.store.vectors(ids[i : i + 2000]))
    rng = np.random.default_rng(7)
    total = 0
    copy = 0
    pending: list[Any] = []
    pending_vectors: list[np.ndarray] = []
    reported = 0

    def flush() -> None:
        if pending:
            out.store.add(pending, np.concatenate(pending_vectors))
            pending.clear()
            pending_vectors.clear()

    while total < target:
        for src, chunks in sorted(by_source.items()):
            if total >= target:
                break
            rec = files[src]
            chunks = chunks[: target - total]
            name = src if copy == 0 else f"{src}~{copy}"
            stem = rec.stem if copy == 0 else f"{rec.stem}~{copy}"
            new = [c.model_copy(update={"chunk_id": f"{c.product}::{c.version}::{c.doc}::{stem}::{c.ordinal}",
                                        "source": name}) for c in chunks]
            base = np.stack([vectors[c.chunk_id] for c in chunks])
            if copy:
                base = base + rng.normal(0, 0.35 / math.sqrt(base.shape[1]), base.shape).astype(np.float32)
                base /= np.linalg.norm(base, axis=1, keepdims=True)
            pending.extend(new)
            pending_vectors.append(base)
            if len(pending) >= 4000:
                flush()
            out.catalog.replace_file(
                FileRecord(name, rec.product, rec.version, rec.doc, stem, rec.vendor, rec.doc_title,
                           rec.file_title, rec.digest, rec.size, rec.mtime_ns, rec.pages, len(new), []),
                new, [0] * len(new))
            total += len(new)
            if total - reported >= target / 10:
                reported = total
                step(f"scale index: {total:,}/{target:,} chunks")
        copy += 1
    flush()
    step(f"scale index: keyword index over {total:,} chunks")
    KeywordIndex.build(out.catalog.iter_chunks()).save(out.keyword_dir)
    out.catalog.set_meta(GENERATION_KEY, uuid.uuid4().hex)
    out.catalog.set_meta("pipeline", f"{PIPELINE_VERSION}/{embedder.name}")
    return total
