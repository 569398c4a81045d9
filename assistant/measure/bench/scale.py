"""The bench's synthetic large indexes: a real index's chunks copied with new ids and jittered vectors
until it holds the target number of chunks (section 3's scale rows and the scale section's sizes).

Each build is timed by stage, as an ingest would spend it: the catalog rows (the ingest's
bookkeeping), the vectors into Chroma, and the BM25 keyword index (in a child process, so its peak
memory is its own). A finished index keeps those figures in `scale.json` and is reused by later runs
while the copied index is unchanged (same generation): a 1M-chunk build takes tens of minutes.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.measure.bench.plan import ROOT

MARKER = "scale.json"
# Per-component noise of a copy's vector: the copies of one chunk sit at cosine ≈ 0.94 from it, so a
# query's neighbourhood is copies of the real chunks near it, of the same products (as real growth
# of the same manuals would be), not uniform noise.
JITTER = 0.35
BATCH = 4000


@dataclass(frozen=True)
class ScaleBuild:
    """How a scale index was built: its size and the seconds (and megabytes) of each stage."""

    chunks: int
    catalog_s: float  # catalog rows, one transaction per copied file (the ingest's bookkeeping)
    chroma_s: float  # vectors added to embedded Chroma through McDewey's store
    keyword_s: float  # BM25 built from the catalog's stored terms and saved
    keyword_peak_mb: float  # peak RSS of the process that built BM25, over its RSS before the build
    keyword_disk_mb: float
    chroma_disk_mb: float
    source_generation: str
    built_at: str
    reused: bool = False


def size_label(n: int) -> str:
    """10000 → 10k, 1000000 → 1M (the table's column names)."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


def parse_sizes(text: str) -> list[int]:
    """'10k,100k,1M' → [10000, 100000, 1000000]; a clear ValueError for anything else."""
    sizes: list[int] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        scale = {"k": 1000, "m": 1_000_000}.get(part[-1], 1)
        number = part[:-1] if scale > 1 else part
        try:
            value = float(number.replace("_", ""))
        except ValueError:
            raise ValueError(f"not a size: {part!r} (write 10k, 100k, 1M or a number)") from None
        if not (math.isfinite(value) and 1 <= value * scale <= 10_000_000):
            raise ValueError(f"size {part!r} is out of range (1 to 10M chunks)")
        sizes.append(int(value * scale))
    if not sizes:
        raise ValueError("no sizes given (write e.g. 10k,100k)")
    return sorted(set(sizes))


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


def ensure_scale_index(source: Any, dest: Path, target: int, step: Callable[[str], None]) -> ScaleBuild:
    """The `target`-chunk copy of the index `source` at `dest`: reused when a finished one is there for
    the same source generation, else (re)built."""
    generation = source.catalog.get_meta("generation") or ""
    marker = dest / MARKER
    if marker.is_file():
        kept = json.loads(marker.read_text())
        if kept.pop("target", None) == target and kept.get("source_generation") == generation:
            return ScaleBuild(**{**kept, "reused": True})
    shutil.rmtree(dest, ignore_errors=True)
    build = _build(source, dest, target, generation, step)
    marker.write_text(json.dumps({**asdict(build), "target": target}, indent=1))
    return build


def _copies(source: Any, target: int) -> Any:
    """(file record, its copied chunks, their terms, their vectors) until `target` chunks."""
    from indexing.catalog import FileRecord

    files = source.catalog.files()
    by_source: dict[str, list[tuple[Any, str | None]]] = {}
    for chunk, terms in source.catalog.iter_chunks_with_terms():
        by_source.setdefault(chunk.source, []).append((chunk, terms))
    ids = [c.chunk_id for pairs in by_source.values() for c, _ in pairs]
    if not ids:
        raise RuntimeError("the index to copy is empty")
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(ids), 2000):
        vectors.update(source.store.vectors(ids[i : i + 2000]))
    rng = np.random.default_rng(7)
    total = copy = 0
    while total < target:
        # A last, partial copy takes the same share of every file, so each size holds every product,
        # version and document in the real index's proportions.
        share = min(1.0, (target - total) / len(ids))
        carry = 0.0
        for src, pairs in sorted(by_source.items()):
            if total >= target:
                return
            rec = files[src]
            want = len(pairs) * share + carry
            carry = want - int(want)
            pairs = pairs[: min(target - total, int(want))]
            if not pairs:
                continue
            name = src if copy == 0 else f"{src}~{copy}"
            stem = rec.stem if copy == 0 else f"{rec.stem}~{copy}"
            new = [c.model_copy(update={"chunk_id": f"{c.product}::{c.version}::{c.doc}::{stem}::{c.ordinal}",
                                        "source": name}) for c, _ in pairs]
            base = np.stack([vectors[c.chunk_id] for c, _ in pairs])
            if copy:
                base = base + rng.normal(0, JITTER / math.sqrt(base.shape[1]), base.shape).astype(np.float32)
                base /= np.linalg.norm(base, axis=1, keepdims=True)
            record = FileRecord(name, rec.product, rec.version, rec.doc, stem, rec.vendor, rec.doc_title,
                                rec.file_title, rec.digest, rec.size, rec.mtime_ns, rec.pages, len(new), [])
            yield record, new, [t for _, t in pairs], base
            total += len(new)
        copy += 1


def _build(source: Any, dest: Path, target: int, generation: str, step: Callable[[str], None]) -> ScaleBuild:
    from indexing.catalog import Catalog
    from indexing.store import VectorStore

    dest.mkdir(parents=True)
    catalog = Catalog(dest / "catalog.sqlite3")
    store = VectorStore(dest)
    catalog_s = chroma_s = 0.0
    total = reported = 0
    pending: list[Any] = []
    pending_vectors: list[np.ndarray] = []

    def flush() -> float:
        t0 = time.perf_counter()
        if pending:
            store.add(pending, np.concatenate(pending_vectors))
            pending.clear()
            pending_vectors.clear()
        return time.perf_counter() - t0

    for record, chunks, terms, vectors in _copies(source, target):
        t0 = time.perf_counter()
        catalog.replace_file(record, chunks, [0] * len(chunks), terms)
        catalog_s += time.perf_counter() - t0
        pending.extend(chunks)
        pending_vectors.append(vectors)
        if len(pending) >= BATCH:
            chroma_s += flush()
        total += len(chunks)
        if total - reported >= target / 10:
            reported = total
            step(f"scale index {size_label(target)}: {total:,}/{target:,} chunks")
    chroma_s += flush()
    step(f"scale index {size_label(target)}: keyword index over {total:,} chunks")
    keyword = build_keyword_in_child(dest)
    catalog.set_meta("pipeline", source.catalog.get_meta("pipeline") or "")
    catalog.set_meta("keyword_stale", "0")
    catalog.set_meta("generation", uuid.uuid4().hex)
    return ScaleBuild(total, round(catalog_s, 2), round(chroma_s, 2), keyword["seconds"], keyword["peak_mb"],
                      round(_disk_mb(dest / "keyword"), 1), round(_disk_mb(dest / "chroma"), 1), generation,
                      time.strftime("%Y-%m-%d %H:%M"))


def build_keyword_in_child(dest: Path) -> dict[str, float]:
    """BM25 over `dest`'s catalog, built and saved by a fresh Python process (its peak memory is the
    build's own, not the bench's); {seconds, peak_mb}."""
    done = subprocess.run([sys.executable, "-m", "assistant.measure.bench.keyword_build", str(dest)], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise RuntimeError(f"keyword index build failed: {done.stderr[-400:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
