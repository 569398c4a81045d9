"""Bench section 2, encoders: speed of each backend (PyTorch, ONNX Runtime, int8), thread count and
batch size on the same chunks, interleaved; their cosine agreement with PyTorch's vectors and the
hit@5 each reaches on the question set."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure, na
from assistant.measure.stats import median


@dataclass
class EncoderOption:
    """One encoder set-up to time: backend, threads (0: its default) and batch size."""

    label: str
    backend: str
    threads: int
    batch: int
    embedder: Any = None
    speeds: list[float] = field(default_factory=list)
    sort: bool = True


def encode_rate(encode: Callable[[list[str]], Any], texts: list[str]) -> tuple[float, Any]:
    """(texts per second, the vectors) of one call."""
    t0 = time.perf_counter()
    vectors = encode(texts)
    return len(texts) / (time.perf_counter() - t0), vectors


def raw_st_encode(model: Any, batch: int) -> Callable[[list[str]], Any]:
    """Plain `SentenceTransformer.encode`, as a user of the library would call it."""

    def run(texts: list[str]) -> Any:
        return model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    return run


class PrecomputedQueries:
    """An embedder whose query vectors for a known question set are encoded in one batch (the same
    vectors, without one slow first call per question shape on torch)."""

    def __init__(self, embedder: Any, questions: Sequence[str]) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.cache = dict(zip(questions, embedder.encode(list(questions)), strict=True)) if questions else {}

    def encode_query(self, query: str) -> np.ndarray:
        hit = self.cache.get(query)
        return hit if hit is not None else self.embedder.encode_query(query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)


# --- section 2 (its speed part runs first: it tunes the batch of section 1's raw baseline) ---------


def encoder_speeds(b: BenchRun) -> list[EncoderOption]:
    """The options measured (speeds only), the old default first: it is every speed's baseline."""
    from indexing.embedder import Embedder

    rng = np.random.default_rng(3)
    n = min(b.plan.speed_sample, len(b.texts))
    sample = [b.texts[i] for i in sorted(rng.choice(len(b.texts), n, replace=False))]
    quick = b.plan.quick
    options = [EncoderOption("torch · batch 32 (old default)", "torch", 0, 32)]
    if not quick:
        options += [EncoderOption("torch · batch 16", "torch", 0, 16),
                    EncoderOption("torch · batch 64", "torch", 0, 64)]
    cores = os.cpu_count() or 1
    if "onnx" in b.embedders:
        shapes = ((cores, 32),) if quick else ((cores, 8), (cores, 16), (cores, 32), (1, 16))
        options += [EncoderOption(f"onnx · {t} thr · batch {b}", "onnx", t, b) for t, b in shapes]
    if "onnx-int8" in b.embedders:
        options += [EncoderOption(f"onnx-int8 · {cores} thr · batch {b}", "onnx-int8", cores, b)
                    for b in ((16,) if quick else (8, 16))]
    if "onnx" in b.embedders and not quick:
        options.append(EncoderOption(f"onnx · {cores} thr · batch 16 · not sorted by length", "onnx", cores, 16,
                                     sort=False))
    for o in options:
        if o.backend == "torch":
            o.embedder = raw_st_encode(b.torch_model, o.batch)
        else:
            e = Embedder(threads=o.threads, batch_size=o.batch, backend=o.backend, model_cache=b.settings.model_cache)
            e.encode(sample[:2])
            o.embedder = e.encode if o.sort else (lambda t, e=e, b=o.batch: e.onnx.encode(t, b, sort=False))
    for r in range(b.plan.speed_repeats):
        b.step(f"encoder speed, round {r + 1}/{b.plan.speed_repeats}")
        for o in options:
            o.speeds.append(encode_rate(o.embedder, sample)[0])
    b.speed_sample_size = n
    return options


def encoders_section(b: BenchRun, options: list[EncoderOption]) -> None:
    """Section 2's figures: each option's speed with its backend's agreement and retrieval quality."""
    from assistant.measure.retrieval import evaluate
    from indexing.index import Index
    from indexing.retriever import Retriever

    for backend, e in b.embedders.items():
        if backend not in b.vectors:
            b.step(f"encoding all chunks with {backend}")
            b.vectors[backend] = e.encode(b.texts)
    ref = b.vectors["torch"]
    quality: dict[str, dict[str, float]] = {}
    base_index = Index(b.index_dir, embedder=b.embedders[b.adopted])
    catalog_chunks = list(base_index.catalog.iter_chunks())
    position = {c.chunk_id: i for i, c in enumerate(b.chunks)}
    for backend, e in b.embedders.items():
        b.step(f"hit@5 with {backend} vectors")
        cos = np.sum(ref * b.vectors[backend], axis=1)
        name = "mcdewey" if backend == b.adopted else f"bench_{backend.replace('-', '_')}"
        index = Index(b.index_dir, collection=name, embedder=PrecomputedQueries(
            e, [q.question for q in b.eval_questions]), pinned=True)
        if backend != b.adopted:
            vecs = np.stack([b.vectors[backend][position[c.chunk_id]] for c in catalog_chunks])
            for i in range(0, len(catalog_chunks), 2000):
                index.store.add(catalog_chunks[i : i + 2000], vecs[i : i + 2000])
        retriever = Retriever(index)
        q: dict[str, float] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
        for mode in ("dense", "hybrid"):
            result = evaluate(b.eval_questions,
                              lambda text, k, m=mode, r=retriever: r.search(text, k, mode=m))
            q[f"hit5_{mode}"] = result.overall.hit5
            q[f"hit1_{mode}"] = result.overall.hit1
            q[f"mrr10_{mode}"] = result.overall.mrr10
            q["n"] = result.overall.n
        quality[backend] = q
    base = median(options[0].speeds)
    s = b.sections["encoders"]
    s.setup = (f"speed: {b.speed_sample_size} chunks, median of {b.plan.speed_repeats} interleaved rounds; "
               f"cosine vs torch over all {len(b.texts)} chunks; hit@5 on {quality['torch']['n']:.0f} questions "
               f"({b.question_set}) over the same chunks; adopted default: {b.adopted}")
    for o in options:
        q = quality.get(o.backend, {})
        s.figures.append(Figure(
            f"encoder_{o.backend}_t{o.threads}_b{o.batch}{'' if o.sort else '_unsorted'}".replace("-", "_"),
            o.label, median(o.speeds),
            "chunks/s", base, "torch · batch 32",
            note=(f"cos {q['cos_mean']:.4f} (min {q['cos_min']:.4f}) · hit@5 dense {q['hit5_dense']:.2f} "
                  f"/ hybrid {q['hit5_hybrid']:.2f} · dense hit@1 {q['hit1_dense']:.2f}, "
                  f"MRR@10 {q['mrr10_dense']:.3f}") if q else "",
            extra={**{k: v for k, v in q.items() if k != "n"}, "adopted": o.backend == b.adopted}))
    for backend, err in b.meta.get("backend_errors", {}).items():
        s.figures.append(na(f"encoder_{backend}".replace("-", "_"), backend, err, "chunks/s"))
