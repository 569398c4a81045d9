"""Bench section 7, scale: the growth curve, `mcdewey bench --scale 10k,100k,300k,1M`.

At each size (a real index's chunks copied with jittered vectors, `scale.py`): what building it cost
(catalog rows, Chroma, BM25 time and memory); search p50/p95 with and without a product filter,
in-process, over REST and over MCP (official client) against `mcdewey serve` in its own process;
the product-filtered dense search against Chroma's own `where` search (time, and whether it returns
the same top 60); each step of a filtered search; the server's resident memory.

Questions: the shared dev set and the held-out and validation sets (those about a product of the
index), unfiltered when no product is named in them (so the server does not narrow them itself),
filtered with their own product given explicitly.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.measure.bench.clients import http_latencies, mcp_latencies
from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure, Section
from assistant.measure.bench.plan import ROOT
from assistant.measure.bench.prepare import machine_meta
from assistant.measure.bench.processes import rss_mb, start_server
from assistant.measure.bench.questions import SHARED_EVAL, load_questions
from assistant.measure.bench.scale import ScaleBuild, ensure_scale_index, size_label
from assistant.measure.stats import percentile
from assistant.settings import Settings

QUESTION_FILES = (SHARED_EVAL, ROOT / "tests" / "eval" / "heldout.jsonl", ROOT / "tests" / "eval" / "validation.jsonl")
FILTERED_P95_GOAL = "≤ 150 ms"
RSS_GOAL = "≤ 4096 MB"


@dataclass
class Queries:
    plain: list[str]  # name no product: searched unfiltered
    filtered: list[str]
    filters: list[dict[str, str]]  # each filtered question's own product
    steered: int  # questions left out of `plain` because they name a product


def scale_section(b: BenchRun) -> None:
    """Section 7 alone: the source index, then each size built (or reused) and measured."""
    from indexing.embedder import Embedder, default_backend
    from indexing.index import Index

    with b.section("scale") as s:
        b.meta.update(machine_meta(), mode="scale", sizes=list(b.plan.scale_sizes))
        b.adopted = default_backend(b.settings.embed_backend)
        embedder = Embedder(backend=b.adopted, model_cache=b.settings.model_cache)
        embedder.load()
        b.embedders = {b.adopted: embedder}
        root = b.plan.scale_dir or b.work / "scale"
        library, source_dir = source_index(b, root)
        source = Index(source_dir, embedder=embedder)
        queries = query_sets(source)
        b.progress.advance()
        b.meta.update(source_index=str(source_dir), source_chunks=source.catalog.count(), scale_dir=str(root),
                      question_set=", ".join(str(p) for p in QUESTION_FILES if p.is_file()) or "demo questions")
        for n in b.plan.scale_sizes:
            b.step(f"scale index of {n:,} chunks")
            build = ensure_scale_index(source, root / size_label(n), n, b.step)
            b.progress.advance()
            measure_size(b, s, build, library, root / size_label(n), queries)
            b.progress.advance()
        s.setup = (f"{source.catalog.count():,} real chunks ({source_dir}) copied with new ids and vectors "
                   f"jittered around theirs (scale.py) up to each size, kept in {root} and reused; "
                   f"{b.plan.requests} sequential warm requests per latency row; {len(queries.plain)} questions "
                   f"that name no product (unfiltered; {queries.steered} others name one and would be narrowed), "
                   f"{len(queries.filtered)} with their product as a filter; server = `mcdewey serve` "
                   f"(encoder {b.adopted}, LLM off, embedded Chroma); RSS after all its requests")


def source_index(b: BenchRun, root: Path) -> tuple[Path, Path]:
    """(library, index) the sizes copy: the `--data` index copied under `root` once per generation (the
    user's index is never opened), else the demo library ingested under `root`."""
    from assistant.demo import ensure_demo_library
    from indexing.index import Index
    from indexing.ingest import Ingester

    data = b.settings.data
    if data != Settings.model_fields["data"].default or "MCDEWEY_DATA" in os.environ:
        if not (data / "catalog.sqlite3").is_file():
            raise RuntimeError(f"no index at {data} (run `mcdewey ingest --data {data}` first)")
        copy = root / "source"
        if _generation(copy) != _generation(data) or _generation(copy) is None:
            b.step(f"copying the index at {data}")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(data, copy, ignore=shutil.ignore_patterns("ingest.lock"))
        return b.settings.library, copy
    library = ensure_demo_library(root / "demo-library")
    b.step("ingesting the demo library (no --data given)")
    Ingester(Index(root / "source", embedder=b.embedders[b.adopted])).run(library)  # unchanged: no new generation
    return library, root / "source"


def _generation(data: Path) -> str | None:
    """The index's published generation, read without writing to it."""
    path = data / "catalog.sqlite3"
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def query_sets(index: Any) -> Queries:
    """The questions about the index's products: unfiltered ones and filtered ones (see the module)."""
    from indexing.retriever import Retriever, infer_steering

    versions = Retriever(index).versions()
    pool = [q for path in QUESTION_FILES if path.is_file() for q in load_questions(path)] or load_questions(None)
    about: list[tuple[str, str]] = []
    for q in pool:
        product = q.product or (q.source or "").split("/")[0]
        if product in versions:
            about.append((q.question, product))
    if not about:
        about = [(q.question, p) for q in load_questions(None) for p in list(versions)[:1]]
    if not about:
        raise RuntimeError("the index has no products")
    plain = [text for text, _ in about if infer_steering(text, versions) is None]
    return Queries(plain or [t for t, _ in about], [t for t, _ in about], [{"product": p} for _, p in about],
                   len(about) - len(plain))


def measure_size(b: BenchRun, s: Section, build: ScaleBuild, library: Path, data: Path, q: Queries) -> None:
    """Every figure of one size (see the module docstring)."""
    from assistant.service import LibraryService
    from indexing.index import Index

    n = build.chunks
    label = size_label(n)

    def add(key: str, row: str, value: float | None, unit: str, **kw: Any) -> None:
        s.figures.append(Figure(f"scale_{label}_{key}", f"{row} · {n:,} chunks", value, unit,
                                higher_is_better=False, extra={"size": n, "row": row}, **kw))

    built = f"built {build.built_at}" + (" (reused)" if build.reused else "")
    add("catalog_s", "ingest bookkeeping: catalog rows", build.catalog_s, "s",
        note=f"{n / max(build.catalog_s, 1e-9):,.0f} chunks/s; {built}")
    add("chroma_s", "vectors into embedded Chroma", build.chroma_s, "s",
        note=f"{n / max(build.chroma_s, 1e-9):,.0f} chunks/s; {build.chroma_disk_mb:,.0f} MB on disk")
    add("keyword_s", "BM25 keyword index build", build.keyword_s, "s",
        note=f"{build.keyword_disk_mb:,.0f} MB on disk")
    add("keyword_mb", "BM25 build peak memory", build.keyword_peak_mb, "MB")

    r = b.plan.requests
    service = LibraryService(Settings(library=library, data=data, llm="none", chat=False),
                             Index(data, embedder=b.embedders[b.adopted]))
    inproc = {
        "plain": _timed(r, lambda i: service.search(q.plain[i % len(q.plain)])),
        "filtered": _timed(r, lambda i: service.search(q.filtered[i % len(q.filtered)],
                                                      **q.filters[i % len(q.filters)])),
    }
    for kind, what in (("plain", "no filter"), ("filtered", "product filter")):
        for p in (50, 95):
            add(f"inproc{'_filtered' if kind == 'filtered' else ''}_p{p}", f"in-process search p{p}, {what}",
                percentile(inproc[kind], p), "ms", goal=FILTERED_P95_GOAL if kind == "filtered" and p == 95 else "")
    _dense_rows(b, service, q, add)

    b.step(f"{label}: searches over REST and MCP")
    server, url = start_server(library, data, b.work, b.adopted, None, q.plain[0])
    b.procs.append(server)
    try:
        surfaces = (("mcp", mcp_latencies, "MCP search_docs"), ("http", http_latencies, "GET /api/search"))
        for surface, fn, name in surfaces:
            for kind, what in (("plain", "no filter"), ("filtered", "product filter")):
                texts, filters = (q.plain, None) if kind == "plain" else (q.filtered, q.filters)
                times, errors = fn(url, texts, r, filters)
                for p in (50, 95):
                    add(f"{surface}{'_filtered' if kind == 'filtered' else ''}_p{p}", f"{name} p{p}, {what}",
                        percentile(times, p), "ms", baseline=percentile(inproc[kind], p),
                        baseline_label="in-process", goal=FILTERED_P95_GOAL if kind == "filtered" and p == 95 else "",
                        note=f"{errors} of {len(times) + errors} requests failed" if errors else "")
        cur, peak = rss_mb(server.proc.pid)
        add("rss_mb", "server RSS after the searches", cur, "MB", goal=RSS_GOAL)
        add("peak_rss_mb", "server peak RSS", peak, "MB")
    finally:
        server.stop()
        b.procs.remove(server)


def _timed(n: int, call: Callable[[int], Any]) -> list[float]:
    """Milliseconds of call(i) for i < n, after three warm-up calls."""
    for i in range(3):
        call(i)
    times: list[float] = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _dense_rows(b: BenchRun, service: Any, q: Queries, add: Callable[..., None]) -> None:
    """The filtered dense search against Chroma's `where` (time, same top 60), and each step of a
    filtered hybrid search."""
    from indexing.retriever import CANDIDATES

    index = service.index
    store = index.store
    m = min(b.plan.requests, len(q.filtered))
    vectors = [index.embedder.encode_query(t) for t in q.filtered[:m]]
    ours = _timed(m, lambda i: store.query(vectors[i], CANDIDATES, q.filters[i]))
    chroma = _timed(m, lambda i: store.where_query(vectors[i], CANDIDATES, q.filters[i]))
    same = top8 = 0
    for i in range(m):
        a = [c for c, _ in store.query(vectors[i], CANDIDATES, q.filters[i])]
        w = [c for c, _ in store.where_query(vectors[i], CANDIDATES, q.filters[i])]
        same += set(a) == set(w)
        top8 += a[:8] == w[:8]
    for p in (50, 95):
        add(f"dense_filtered_p{p}", f"dense search p{p}, product filter", percentile(ours, p), "ms",
            baseline=percentile(chroma, p), baseline_label="Chroma where")
    add("filtered_same", f"filtered dense top {CANDIDATES} = Chroma where's", same / m if m else None, "share",
        note=f"{same}/{m} questions; top 8 in the same order {top8}/{m}")

    steps: dict[str, list[float]] = {k: [] for k in ("encode", "dense", "keyword", "vectors", "records")}
    for i in range(m):
        text, filters = q.filtered[i], q.filters[i]
        t0 = time.perf_counter()
        vector = index.embedder.encode_query(text)
        t1 = time.perf_counter()
        dense = store.query(vector, CANDIDATES, filters)
        t2 = time.perf_counter()
        keyword = index.keyword.search(text, CANDIDATES, filters)
        t3 = time.perf_counter()
        store.vectors(list(dict.fromkeys([c for c, _ in dense] + [c for c, _ in keyword])))
        t4 = time.perf_counter()
        index.catalog.get([c for c, _ in (dense[:4] + keyword[:4])])
        t5 = time.perf_counter()
        for key, start, end in (("encode", t0, t1), ("dense", t1, t2), ("keyword", t2, t3), ("vectors", t3, t4),
                                ("records", t4, t5)):
            steps[key].append((end - start) * 1000)
    for key, values in steps.items():
        add(f"step_{key}_p95", f"step p95, product filter: {key}", percentile(values, 95), "ms",
            note=f"p50 {percentile(values, 50):.1f} ms")
