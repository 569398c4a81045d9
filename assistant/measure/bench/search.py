"""Bench section 3, search: p50/p95 of MCP `search_docs` and of `GET /api/search` on a warm server,
with embedded Chroma and with a Chroma server, on the index and on a synthetic large copy, beside the
same search called in-process; the time of each step of one search; the server's resident memory."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.measure.bench.clients import http_latencies, mcp_latencies
from assistant.measure.bench.concurrency import concurrency_section, single_client
from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure
from assistant.measure.bench.processes import Proc, rss_mb, start_chroma, start_server
from assistant.measure.bench.scale import ensure_scale_index
from assistant.measure.stats import percentile
from assistant.settings import Settings


def search_breakdown(service: Any, queries: Sequence[str], n: int) -> tuple[dict[str, list[float]], int]:
    """Milliseconds of each step of one hybrid search, called as the retriever calls them."""
    from indexing.retriever import CANDIDATES, infer_steering

    retriever, index = service.retriever, service.index
    parts: dict[str, list[float]] = {k: [] for k in ("versions", "encode", "dense", "keyword", "records")}
    filtered = 0
    for i in range(n):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        versions = retriever.versions()
        t1 = time.perf_counter()
        steering = infer_steering(q, versions)
        filters = steering.filters if steering else {}
        filtered += bool(filters)
        vector = index.embedder.encode_query(q)
        t2 = time.perf_counter()
        dense = index.store.query(vector, CANDIDATES, filters)
        t3 = time.perf_counter()
        keyword = index.keyword.search(q, CANDIDATES, filters)
        t4 = time.perf_counter()
        index.catalog.get([c for c, _ in (dense[:4] + keyword[:4])])
        t5 = time.perf_counter()
        for key, start, end in (("versions", t0, t1), ("encode", t1, t2), ("dense", t2, t3),
                                ("keyword", t3, t4), ("records", t4, t5)):
            parts[key].append((end - start) * 1000)
    return parts, filtered


def given_index(b: BenchRun) -> tuple[Path, Path, bool]:
    """(library, data dir, is_users_data): an explicit --data index, else the one built above."""
    default = Settings.model_fields["data"].default
    data = b.settings.data
    explicit = not b.plan.quick and (data != default or "MCDEWEY_DATA" in os.environ)
    if explicit and (data / "catalog.sqlite3").is_file():
        return b.settings.library, data, True
    return b.library, b.index_dir, False


def inprocess_latency(b: BenchRun, library: Path, data: Path) -> tuple[list[float], Any]:
    """(milliseconds of each in-process search, the warm service); the steps of a search go to `b`."""
    from assistant.service import LibraryService
    from indexing.index import Index

    service = LibraryService(Settings(library=library, data=data, llm="none", chat=False),
                             Index(data, embedder=b.embedders[b.adopted]))
    for q in b.queries[:3]:
        service.search(q)
    times: list[float] = []
    for i in range(b.plan.requests):
        t0 = time.perf_counter()
        service.search(b.queries[i % len(b.queries)])
        times.append((time.perf_counter() - t0) * 1000)
    b.last_breakdown, b.last_filtered = search_breakdown(service, b.queries, b.plan.requests)
    return times, service


def search_rows(b: BenchRun, label: str, size: int, library: Path, data: Path, chroma: str, server_url: str,
                server: Proc, chroma_proc: Proc | None, base: list[float]) -> None:
    """The MCP and HTTP latency rows of one server (and, with embedded Chroma, the in-process steps), and
    its RSS."""
    s = b.sections["search"]
    n = b.plan.requests
    tag = f"{label}_{chroma}"
    for surface, fn in (("mcp", mcp_latencies), ("http", http_latencies)):
        times, errors = fn(server_url, b.queries, n)
        for q, goal in ((50, "p50 ≤ 50 ms"), (95, "p95 ≤ 150 ms")):
            s.figures.append(Figure(
                f"search_{tag}_{surface}_p{q}",
                f"{'MCP search_docs' if surface == 'mcp' else 'GET /api/search'} p{q} · {size:,} chunks · "
                f"Chroma {chroma}", percentile(times, q), "ms", percentile(base, q), "in-process search",
                goal if label == "scale" else "", higher_is_better=False,
                note=f"{len(times)} requests, {errors} errors" if errors else f"{len(times)} requests"))
    if chroma == "embedded":
        parts = ", ".join(f"{k} {percentile(v, 50):.1f}/{percentile(v, 95):.0f}"
                          for k, v in b.last_breakdown.items())
        for k, v in b.last_breakdown.items():
            s.figures.append(Figure(f"search_{label}_part_{k}_p50", f"in-process step p50 · {k} · {size:,} chunks",
                                    percentile(v, 50), "ms", higher_is_better=False,
                                    note=f"p95 {percentile(v, 95):.1f} ms" + (
                                        f"; {b.last_filtered}/{len(v)} queries filtered to a product"
                                        if k == "dense" else "")))
        b.meta.setdefault("search_breakdown_ms_p50_p95", {})[label] = parts
    cur, peak = rss_mb(server.proc.pid)
    note = f"peak {peak:.0f} MB"
    if chroma_proc is not None:
        ccur, cpeak = rss_mb(chroma_proc.proc.pid)
        note += f"; Chroma server {ccur:.0f} MB (peak {cpeak:.0f})"
    s.figures.append(Figure(f"search_{tag}_rss_mb", f"server RSS · {size:,} chunks · Chroma {chroma}", cur,
                            "MB", None, goal="< 2048 MB" if label == "scale" else "", higher_is_better=False,
                            note=note))


def search_and_concurrency(b: BenchRun) -> None:
    """Sections 3 and 6 (6 runs on section 3's first server, while it is up)."""
    from indexing.index import Index

    library, data, users = given_index(b)
    s = b.sections["search"]
    sizes: dict[str, int] = {}
    with b.section("search"):
        given_size = Index(data, embedder=b.embedders[b.adopted]).catalog.count()
        sizes["given"] = given_size
        b.step(f"search latency on the index ({given_size:,} chunks)")
        base, b.service = inprocess_latency(b, library, data)
        server, url = start_server(library, data, b.work, b.adopted, None, b.queries[0])
        b.procs.append(server)
        try:
            search_rows(b, "given", given_size, library, data, "embedded", url, server, None, base)
            b.single_client = single_client(b, url)
            with b.section("concurrency"):
                concurrency_section(b, url, given_size)
        finally:
            server.stop()
        b.step("search latency on the index, Chroma server")
        chroma_path = data / "chroma"
        if users:  # never start a server on the user's own files: work on a copy
            chroma_path = b.work / "given-chroma"
            shutil.copytree(data / "chroma", chroma_path)
        _with_chroma_server(b, "given", given_size, library, data, chroma_path, base)

        b.step(f"building a {b.plan.scale_chunks:,}-chunk index")
        scale_dir = b.work / "scale"
        t0 = time.perf_counter()
        total = ensure_scale_index(Index(data, embedder=b.embedders[b.adopted]), scale_dir,
                                   b.plan.scale_chunks, b.step).chunks
        b.meta["scale_build_seconds"] = round(time.perf_counter() - t0, 1)
        sizes["scale"] = total
        b.step(f"search latency at {total:,} chunks")
        base, _ = inprocess_latency(b, library, scale_dir)
        server, url = start_server(library, scale_dir, b.work, b.adopted, None, b.queries[0])
        try:
            search_rows(b, "scale", total, library, scale_dir, "embedded", url, server, None, base)
        finally:
            server.stop()
        b.step(f"search latency at {total:,} chunks, Chroma server")
        _with_chroma_server(b, "scale", total, library, scale_dir, scale_dir / "chroma", base)
        s.setup = (f"warm; {b.plan.requests} sequential requests per row ({b.question_set}, cycled); "
                   f"server = `mcdewey serve` in its own process (encoder {b.adopted}, LLM off); "
                   f"{total:,}-chunk index = the {given_size:,} real chunks copied with new ids and jittered "
                   f"vectors; queries naming a product are filtered to it (as in production)")
    b.progress.advance()  # the scale build step


def _with_chroma_server(b: BenchRun, label: str, size: int, library: Path, data: Path, chroma_path: Path,
                        base: list[float]) -> None:
    """The rows of a McDewey server using a Chroma server started on `chroma_path`."""
    chroma, chroma_url = start_chroma(chroma_path, b.work, b.adopted)
    try:
        server, url = start_server(library, data, b.work, b.adopted, chroma_url, b.queries[0])
        try:
            search_rows(b, label, size, library, data, "server", url, server, chroma, base)
        finally:
            server.stop()
    finally:
        chroma.stop()

