"""Bench sections 1 and 4, ingest: McDewey's whole ingest (parse, chunk, embed, Chroma, catalog,
keyword index) against the raw encoder over the same chunks, and the re-ingest of an unchanged library
against the full ingest."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.encoders import EncoderOption, encode_rate, raw_st_encode
from assistant.measure.bench.figures import Figure
from assistant.measure.stats import median


def ingest_section(b: BenchRun, options: list[EncoderOption]) -> None:
    """Section 1: whole ingest vs the raw encoder (torch at the fastest batch measured in section 2)."""
    from indexing.index import Index
    from indexing.ingest import Ingester

    torch_opts = [o for o in options if o.backend == "torch"]
    best_torch = max(torch_opts, key=lambda o: median(o.speeds))
    b.torch_batch = best_torch.batch
    raw = raw_st_encode(b.torch_model, best_torch.batch)
    adopted = b.embedders[b.adopted]
    ingest_rates: list[float] = []
    raw_rates: list[float] = []
    same_rates: list[float] = []
    encode_share: list[float] = []
    ingest_secs: list[float] = []
    b.vectors = {}
    for r in range(b.plan.repeats):
        b.step(f"ingest vs raw encode, round {r + 1}/{b.plan.repeats}")
        data = b.work / f"ingest-{r}"
        index = Index(data, embedder=adopted)
        spent = [0.0]
        original = adopted.encode

        def timed(texts: Sequence[str], progress: bool = False, _orig: Any = original,
                  _spent: list[float] = spent, **more: Any) -> np.ndarray:
            t0 = time.perf_counter()
            try:
                return _orig(texts, progress, **more)  # (on_batch: the ingest's progress per encoder batch)
            finally:
                _spent[0] += time.perf_counter() - t0

        adopted.encode = timed  # instance attribute: counts time inside the encoder during ingest
        try:
            report = Ingester(index).run(b.library)
        finally:
            del adopted.encode
        if report.failed:
            raise RuntimeError(f"ingest failed on {report.failed[0].source}: {report.failed[0].reason}")
        ingest_secs.append(report.seconds)
        ingest_rates.append(report.chunks_added / report.seconds)
        encode_share.append(spent[0] / report.seconds)
        rate, vec = encode_rate(raw, b.texts)
        raw_rates.append(rate)
        b.vectors["torch"] = np.asarray(vec, dtype=np.float32)
        rate, vec = encode_rate(adopted.encode, b.texts)
        same_rates.append(rate)
        b.vectors[b.adopted] = vec
        b.index_dir = data
        b.ingest_chunks = report.chunks_added
    b.full_ingest_seconds = median(ingest_secs)
    s = b.sections["ingest"]
    where = "demo library" if b.plan.quick else f"subset of {b.settings.library}"
    s.setup = (f"{len(b.files)} files, {b.ingest_chunks} chunks ({where}); "
               f"median of {b.plan.repeats} runs, interleaved; model load excluded from both sides")
    s.figures += [
        Figure("ingest_vs_raw_st", f"whole ingest ({b.adopted}) vs raw SentenceTransformer.encode "
               f"(torch, batch {best_torch.batch})", median(ingest_rates), "chunks/s", median(raw_rates),
               "raw ST encode", "≥ 0.8×"),
        Figure("ingest_vs_same_encoder", f"whole ingest vs its own encoder alone ({b.adopted})",
               median(ingest_rates), "chunks/s", median(same_rates), f"raw {b.adopted} encode"),
        Figure("ingest_seconds", "full ingest time", median(ingest_secs), "s",
               note=f"{median(encode_share):.0%} of it inside the encoder"),
    ]


def reingest_section(b: BenchRun) -> None:
    """Section 4: an unchanged library ingested again, three times."""
    from indexing.index import Index
    from indexing.ingest import Ingester

    times: list[float] = []
    for _ in range(3):
        index = Index(b.index_dir, embedder=b.embedders[b.adopted])
        report = Ingester(index).run(b.library)
        if report.changed:
            raise RuntimeError("the unchanged library was re-embedded")
        times.append(report.seconds)
    s = b.sections["reingest"]
    s.setup = f"{len(b.files)} unchanged files, median of 3 runs, vs the full ingest of section 1"
    s.figures.append(Figure("reingest_fraction", "re-ingest time / full ingest time",
                            median(times) / b.full_ingest_seconds * 100, "%", None, goal="≤ 5%",
                            higher_is_better=False,
                            note=f"{median(times):.2f} s vs {b.full_ingest_seconds:.1f} s"))
    s.figures.append(Figure("reingest_seconds", "re-ingest time", median(times), "s",
                            b.full_ingest_seconds, "full ingest", higher_is_better=False))
