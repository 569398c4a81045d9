"""Bench section 8, the reranker: what a cross-encoder stage costs per search, at N = 20 and N = 50.

Run alone (`mcdewey bench --rerank QUESTIONS`) on the `--data` index, read-only: the same searches
(hybrid, in-process, warm) with the reranker off and with it re-ordering the first 20 and 50 fused
chunks, interleaved question by question so that a burst of load hits all three alike; p50/p95 of the
whole search beside the reranker off (ratios), and of the stage alone. The cross-encoder is
MCDEWEY_RERANK when set, else the stand-in built from the installed embedding model (the size of the
common MiniLM-L6 rerankers; its order means nothing, its cost is a real cross-encoder's). Quality is
`mcdewey eval`'s to measure, with MCDEWEY_RERANK set.
"""

from __future__ import annotations

import time
from pathlib import Path

from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure
from assistant.measure.bench.prepare import machine_meta
from assistant.measure.retrieval import load_questions
from assistant.measure.standin_cross_encoder import NAME as STANDIN_NAME
from assistant.measure.standin_cross_encoder import build_standin_cross_encoder
from assistant.measure.stats import percentile

DEPTHS = (20, 50)
SEARCHES = 50  # the questions, cycled to this many searches per setting (p95 of 50 is the 3rd slowest)
QUICK_SEARCHES = 5  # `--quick`: that it runs, not what it costs
WARM = 3


class _Timed:
    """A stage that records how long each of its runs took (ms)."""

    def __init__(self, stage: object) -> None:
        self.stage = stage
        self.name: str = stage.name  # type: ignore[attr-defined]
        self.ms: list[float] = []

    def apply(self, state: object) -> None:
        t0 = time.perf_counter()
        self.stage.apply(state)  # type: ignore[attr-defined]
        self.ms.append((time.perf_counter() - t0) * 1000)


def rerank_section(b: BenchRun) -> None:
    """The reranker's cost on the given index, against the same searches without it."""
    from assistant.service import LibraryService
    from indexing.devices import resolve_device
    from indexing.ranking.cross_encoder import load_cross_encoder
    from indexing.ranking.pipeline import default_stages
    from indexing.ranking.rerank import Rerank
    from indexing.retriever import Retriever

    questions_file = b.plan.rerank_questions
    assert questions_file is not None
    settings = b.settings
    b.meta.update(machine_meta(), mode="rerank", source_index=str(settings.data), question_set=str(questions_file))
    with b.section("rerank") as s:
        if not (settings.data / "catalog.sqlite3").is_file():
            raise RuntimeError(f"no index at {settings.data}: give --data an index (it is only read)")
        queries = [q.question for q in load_questions(Path(questions_file))]
        if not queries:
            raise RuntimeError(f"{questions_file} holds no question")
        b.step("loading the cross-encoder")
        model_name = settings.rerank or str(build_standin_cross_encoder(b.work / "standin-cross-encoder"))
        label = settings.rerank or STANDIN_NAME
        device = resolve_device(settings.embed_device)
        model = load_cross_encoder(model_name, device)
        service = LibraryService(settings.model_copy(update={"rerank": None}))  # the index as `serve` opens it
        timed = {n: _Timed(Rerank(model, n)) for n in DEPTHS}
        retrievers: dict[str, Retriever] = {"off": service.retriever}
        retrievers.update({str(n): Retriever(service.index, default_stages(timed[n])) for n in DEPTHS})
        b.meta.update(cross_encoder=label, device=device, index_chunks=service.index.catalog.count())
        searches = QUICK_SEARCHES if b.plan.quick else SEARCHES
        b.step(f"{searches} searches × {len(retrievers)} settings")
        times: dict[str, list[float]] = {k: [] for k in retrievers}
        keys = list(retrievers)
        for i in range(WARM + searches):
            query = queries[i % len(queries)]
            for key in keys[i % len(keys):] + keys[: i % len(keys)]:  # round robin: no setting always first
                service.retriever = retrievers[key]
                t0 = time.perf_counter()
                service.search(query)
                if i >= WARM:
                    times[key].append((time.perf_counter() - t0) * 1000)
        for n in DEPTHS:
            del timed[n].ms[:WARM]
        _figures(s.figures, times, timed)
        s.setup = (f"cross-encoder: {label}, on {device}; {searches} hybrid searches per setting (top_k "
                   f"{settings.top_k}, in-process, warm) over the {len(queries)} questions of {questions_file}, "
                   f"cycled, interleaved; index {settings.data} ({b.meta['index_chunks']:,} chunks, read-only)")


def _figures(out: list[Figure], times: dict[str, list[float]], timed: dict[int, _Timed]) -> None:
    for q in (50, 95):
        off = percentile(times["off"], q)
        out.append(Figure(f"rerank_off_p{q}", f"search p{q}, reranker off", off, "ms", higher_is_better=False,
                          note=f"{len(times['off'])} searches"))
        for n in DEPTHS:
            out.append(Figure(f"rerank_{n}_p{q}", f"search p{q}, reranker on the first {n}",
                              percentile(times[str(n)], q), "ms", off, "reranker off", higher_is_better=False))
    for n in DEPTHS:
        ms = timed[n].ms
        out.append(Figure(f"rerank_stage_{n}_p50", f"the rerank stage alone, N = {n}, p50", percentile(ms, 50),
                          "ms", higher_is_better=False,
                          note=f"p95 {percentile(ms, 95):,.0f} ms; {percentile(ms, 50) / n:,.0f} ms a pair"))
