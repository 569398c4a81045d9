"""`mcdewey bench`: how fast McDewey is, each figure beside the baseline measured in the same run.

Six sections, printed as one Markdown table (pasteable into the README) or as JSON (`--json`):

1. ingest     McDewey's whole ingest (parse, chunk, embed, Chroma, catalog, keyword index) of a set of
              files vs the raw `SentenceTransformer.encode` throughput over the same chunks.
2. encoders   encoder backends (PyTorch, ONNX Runtime, int8), threads and batch sizes on the same
              chunks: speed, cosine agreement with PyTorch's vectors, and hit@5 on a question set.
3. search     p50/p95 of `search_docs` over MCP (official client) and of `/api/search`, warm, on the
              index and on a synthetic 100,000-chunk copy, with embedded Chroma and a Chroma server;
              the serving process's RSS. Baseline: the same search called in-process.
4. reingest   an unchanged library ingested again, as a fraction of the full ingest.
5. answer     the embedded LLM: retrieval, first token, total, tokens/s (vs a retrieval-only answer).
6. concurrency 20 MCP clients searching at once vs one client alone.

The machine is shared and noisy, so every speed is a median over repeats, and options are measured
interleaved (round robin) so that a burst of load hits them alike; ratios are what to compare.

Nothing here touches the user's index: the bench builds its own library and data folders under a
temporary directory. `--quick` uses the demo library and small sizes (under three minutes); the full
run takes `--library` (a representative subset of it: a few documents of each format, preferring
those the question set asks about) and, with an explicit `--data`, searches that existing index
read-only (its Chroma folder is copied before a Chroma server is started on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.settings import Settings

SECTIONS = {
    "ingest": "1. Ingest vs the encoder's limit",
    "encoders": "2. Faster encoding at equal quality",
    "search": "3. Search latency and scale",
    "reingest": "4. Re-ingest of an unchanged library",
    "answer": "5. Answer latency (embedded LLM)",
    "concurrency": "6. Concurrency (MCP clients at once)",
}
# The figures every run emits (a number, or an explicit "na" reason); `encoder_*` rows vary with the
# backends available, so only the baseline and one ONNX row are required.
EXPECTED: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest_vs_raw_st", "ingest_vs_same_encoder", "ingest_seconds"),
    "encoders": ("encoder_torch_t0_b32", "encoder_onnx*"),
    "search": tuple(
        f"search_{size}_{chroma}_{what}" for size in ("given", "scale") for chroma in ("embedded", "server")
        for what in ("mcp_p50", "mcp_p95", "http_p50", "http_p95", "rss_mb")
    ),
    "reingest": ("reingest_fraction", "reingest_seconds"),
    "answer": ("answer_retrieval_s", "answer_first_token_s", "answer_total_s", "answer_tokens_per_s"),
    "concurrency": ("concurrency_throughput", "concurrency_p50", "concurrency_p95", "concurrency_errors"),
}
ROOT = Path(__file__).resolve().parents[1]
SHARED_EVAL = ROOT.parent / "shared" / "eval" / "dev.jsonl"

# Questions about the demo guide (McDewey's own user guide and quick reference), mostly paraphrases
# so that the encoder matters; pages are the guide's page markers / the PDF's physical pages.
DEMO_QUESTIONS: list[dict[str, Any]] = [
    {"id": "D-01", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [2],
     "question": "Which Python release and operating system does the program need?"},
    {"id": "D-02", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [2],
     "question": "Does it fetch anything from the internet at run time, or can it work offline?"},
    {"id": "D-03", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [3],
     "question": "How should I arrange the folders for each product, release and manual?"},
    {"id": "D-04", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [3],
     "question": "Where do vendor names and document titles come from?"},
    {"id": "D-05", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [4],
     "question": "Which page number is cited for a PDF whose front matter uses roman numerals?"},
    {"id": "D-06", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [4],
     "question": "How are plain text manuals divided into pages?"},
    {"id": "D-07", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [5],
     "question": "Does indexing a second time compute every vector again?"},
    {"id": "D-08", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [5],
     "question": "How big is each piece of text and what identifier does it get?"},
    {"id": "D-09", "style": "howto", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [6],
     "question": "How can I restrict a search to one product or one version?"},
    {"id": "D-10", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [6],
     "question": "What happens when the library cannot answer what I asked?"},
    {"id": "D-11", "style": "term", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [7],
     "question": "Which tools can an agent call over the Model Context Protocol?"},
    {"id": "D-12", "style": "paraphrase", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [7],
     "question": "What authentication header must an agent send when a secret is configured?"},
    {"id": "D-13", "style": "troubleshoot", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [8],
     "question": "A scanned manual has no text layer; what should I do?"},
    {"id": "D-14", "style": "troubleshoot", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [8],
     "question": "What if two indexing runs start on the same data folder at once?"},
    {"id": "D-15", "style": "term", "source": "mcdewey/1.0/quick-reference/quick-reference.pdf", "pages": [2],
     "question": "Which command reports hit@1 and MRR@10 against the baselines?"},
    {"id": "D-16", "style": "term", "source": "mcdewey/1.0/quick-reference/quick-reference.pdf", "pages": [4],
     "question": "Which endpoint returns a chunk together with its neighbours?"},
]


# --- plan and results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    quick: bool
    target_chunks: int  # size of the ingest subset (full run)
    repeats: int  # ingest / raw-encode repeats
    speed_sample: int  # texts per encoder-speed measurement
    speed_repeats: int
    requests: int  # per latency row
    scale_chunks: int
    clients: int
    seconds: float  # concurrency duration
    answers: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 0, 2, 16, 3, 15, 5_000, 20, 5.0, 1)
        return cls(False, 1000, 2, 64, 3, 100, 100_000, 20, 30.0, 3)


@dataclass
class Figure:
    key: str
    measure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    goal: str = ""
    note: str = ""
    na: str | None = None
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "measure": self.measure, "unit": self.unit}
        if self.na is not None:
            out["na"] = self.na
        else:
            out.update(value=_round(self.value), baseline=_round(self.baseline),
                       baseline_label=self.baseline_label, ratio=_round(self.ratio))
        if self.goal:
            out["goal"] = self.goal
        if self.note:
            out["note"] = self.note
        out.update({k: _round(v) if isinstance(v, float) else v for k, v in self.extra.items()})
        return out


def na(key: str, measure: str, reason: str, unit: str = "") -> Figure:
    return Figure(key, measure, None, unit, na=reason)


@dataclass
class Section:
    key: str
    setup: str = ""
    figures: list[Figure] = field(default_factory=list)
    error: str | None = None


def _round(v: Any) -> Any:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return None
        return round(v, 4) if abs(v) < 10 else round(v, 1)
    return v


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def percentile(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if xs else float("nan")


# --- progress -------------------------------------------------------------------------------------


class Progress:
    """One rich progress bar on stderr (a plain line per step when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.bar: Any = None
        self.plain = enabled and not sys.stderr.isatty()
        self.started = time.monotonic()
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("bench", total=total)

    def step(self, description: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=description)
        elif self.plain:
            print(f"[bench {time.monotonic() - self.started:6.1f}s] {description}", file=sys.stderr, flush=True)

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- libraries and questions ----------------------------------------------------------------------


def load_questions(path: Path | None) -> list[Any]:
    from indexing.evaluate import Question
    from indexing.evaluate import load_questions as load_file

    if path is not None and path.is_file():
        return load_file(path)
    return [Question(id=q["id"], question=q["question"], style=q["style"], source=q["source"], pages=q["pages"])
            for q in DEMO_QUESTIONS]


def pick_subset(library: Path, dest: Path, questions: Sequence[Any], target_chunks: int,
                count_chunks: Callable[[Any], int]) -> list[str]:
    """Copy a representative subset of `library` to `dest`: the files the questions ask about (small
    ones first) up to about `target_chunks` chunks, then the smallest file of each format not yet in."""
    from indexing.library import MANIFEST_FILE, scan_library

    files = scan_library(library).files
    by_source = {f.source: f for f in files}
    asked = sorted({q.source for q in questions if q.source in by_source},
                   key=lambda s: by_source[s].path.stat().st_size)
    chosen: list[str] = []
    total = 0

    def fmt(source: str) -> str:
        return Path(source).suffix.lower().lstrip(".").replace("htm", "html").replace("htmll", "html")

    for source in asked:
        n = count_chunks(by_source[source])
        if total + n > target_chunks * 1.15 and chosen:
            continue
        chosen.append(source)
        total += n
    for suffix in sorted({fmt(f.source) for f in files}):
        if any(fmt(s) == suffix for s in chosen):
            continue
        smallest = min((f for f in files if fmt(f.source) == suffix), key=lambda f: f.path.stat().st_size)
        chosen.append(smallest.source)
    for source in chosen:
        target = dest / source
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(by_source[source].path, target)
    for meta in [library / MANIFEST_FILE, *library.rglob("mcdewey.toml")]:
        if meta.is_file():
            rel = meta.relative_to(library)
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(meta, dest / rel)
    return sorted(chosen)


# --- encoders -------------------------------------------------------------------------------------


@dataclass
class EncoderOption:
    label: str
    backend: str
    threads: int
    batch: int
    embedder: Any = None
    speeds: list[float] = field(default_factory=list)
    sort: bool = True


def _encode_rate(encode: Callable[[list[str]], Any], texts: list[str]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    vectors = encode(texts)
    return len(texts) / (time.perf_counter() - t0), vectors


def _raw_st_encode(model: Any, batch: int) -> Callable[[list[str]], Any]:
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


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = float(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


class Proc:
    """A child process (McDewey's server or a Chroma server) with its log in the bench folder."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.fh = log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.fh, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                     start_new_session=True)

    def wait_http(self, url: str, timeout: float, ok: Callable[[Any], bool]) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited ({self.proc.returncode}): {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if ok(httpx.get(url, timeout=5)):
                    return
            time.sleep(0.25)
        raise RuntimeError(f"{self.log.name} did not answer {url} within {timeout:g} s: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-600:]
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.fh.close()


def child_env(backend: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    for key in ("MCDEWEY_MODEL_CACHE", "MCDEWEY_EMBED_THREADS", "MCDEWEY_EMBED_BATCH"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({"MCDEWEY_LLM": "none", "MCDEWEY_CHAT": "false", "MCDEWEY_EMBED_BACKEND": backend,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    env.update(extra)
    return env


def start_chroma(path: Path, work: Path, backend: str) -> tuple[Proc, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("chroma")
    args = [str(exe)] if exe.exists() else [sys.executable, "-m", "chromadb.cli.cli"]
    proc = Proc([*args, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                child_env(backend), work / f"chroma-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/api/v2/heartbeat", 90, lambda r: r.status_code == 200)
    except Exception:
        proc.stop()
        raise
    return proc, url


def start_server(library: Path, data: Path, work: Path, backend: str, chroma_url: str | None,
                 probe: str) -> tuple[Proc, str]:
    """`mcdewey serve` in a child process (its own RSS, its own GIL), warm when this returns."""
    import httpx

    port = free_port()
    args = [sys.executable, "-m", "assistant.cli", "serve", "--library", str(library), "--data", str(data),
            "--host", "127.0.0.1", "--port", str(port)]
    if chroma_url:
        args += ["--chroma-url", chroma_url]
    proc = Proc(args, child_env(backend), work / f"server-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/healthz", 180, lambda r: r.status_code in (200, 503))
        deadline = time.monotonic() + 180
        while True:  # the model and indexes load on the first search
            r = httpx.get(f"{url}/api/search", params={"q": probe}, timeout=120)
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server never answered a search: {r.status_code} {r.text[:200]}")
            time.sleep(0.5)
    except Exception:
        proc.stop()
        raise
    return proc, url


def http_latencies(url: str, queries: Sequence[str], n: int) -> tuple[list[float], int]:
    import httpx

    times: list[float] = []
    errors = 0
    with httpx.Client(timeout=60) as client:
        for q in queries[:3]:
            client.get(f"{url}/api/search", params={"q": q})
        for i in range(n):
            q = queries[i % len(queries)]
            t0 = time.perf_counter()
            r = client.get(f"{url}/api/search", params={"q": q})
            elapsed = time.perf_counter() - t0
            if r.status_code == 200:
                times.append(elapsed * 1000)
            else:
                errors += 1
    return times, errors


@contextlib.asynccontextmanager
async def mcp_session(url: str) -> Any:
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60, read=120)) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _mcp_latencies(url: str, queries: Sequence[str], n: int) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0
    async with mcp_session(url) as session:
        for q in queries[:3]:
            await session.call_tool("search_docs", {"query": q})
        for i in range(n):
            t0 = time.perf_counter()
            result = await session.call_tool("search_docs", {"query": queries[i % len(queries)]})
            elapsed = time.perf_counter() - t0
            if result.isError:
                errors += 1
            else:
                times.append(elapsed * 1000)
    return times, errors


def mcp_latencies(url: str, queries: Sequence[str], n: int) -> tuple[list[float], int]:
    return asyncio.run(_mcp_latencies(url, queries, n))


async def _mcp_load(url: str, queries: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    times: list[float] = []
    errors: list[str] = []
    connected = 0

    async def one(k: int) -> None:
        nonlocal connected
        try:
            async with mcp_session(url) as session:
                connected += 1
                await ready.wait()
                i = k
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    try:
                        result = await session.call_tool("search_docs", {"query": queries[i % len(queries)]})
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if result.isError:
                        errors.append(str(result.content)[:200])
                    else:
                        times.append((time.perf_counter() - t0) * 1000)
                    i += 1
        except Exception as exc:
            errors.append(f"session {k}: {type(exc).__name__}: {exc}")

    ready = asyncio.Event()
    deadline = float("inf")
    tasks = [asyncio.create_task(one(k)) for k in range(clients)]
    for _ in range(600):  # all sessions open before the clock starts
        if connected + len(errors) >= clients:
            break
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    deadline = started + seconds
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"requests": len(times), "errors": len(errors), "elapsed": elapsed, "times": times,
            "first_error": errors[0] if errors else None, "sessions": connected}


def mcp_load(url: str, queries: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    return asyncio.run(_mcp_load(url, queries, clients, seconds))


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
        for key, a, b in (("versions", t0, t1), ("encode", t1, t2), ("dense", t2, t3), ("keyword", t3, t4),
                          ("records", t4, t5)):
            parts[key].append((b - a) * 1000)
    return parts, filtered


# --- the synthetic large index --------------------------------------------------------------------


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


# --- the bench ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, quick: bool, progress: bool = True) -> None:
        self.settings = settings
        self.plan = Plan.make(quick)
        self.sections: dict[str, Section] = {k: Section(k) for k in SECTIONS}
        self.meta: dict[str, Any] = {}
        self.progress = Progress(total=10, enabled=progress)
        self.work = Path(tempfile.mkdtemp(prefix="mcdewey-bench-"))
        self.procs: list[Proc] = []

    # -- helpers --
    def step(self, text: str) -> None:
        self.progress.step(text)

    @contextlib.contextmanager
    def section(self, key: str) -> Iterator[Section]:
        section = self.sections[key]
        self.step(SECTIONS[key])
        try:
            yield section
        except Exception as exc:  # a broken section is reported, the others still run
            section.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.progress.advance()

    # -- setup --
    def prepare(self) -> None:
        from assistant.demo import ensure_demo_library
        from indexing.embedder import BACKENDS, Embedder, default_backend
        from indexing.index import Index
        from indexing.ingest import Ingester, embed_text

        self.step("preparing the library")
        self.adopted = default_backend()
        self.count_embedder = Embedder(backend="torch")
        prep = Ingester(Index(self.work / "prepare", embedder=self.count_embedder))  # parse + chunk only

        def chunks_of(sf: Any) -> list[Any]:
            return prep.prepare(sf, "", 0, 0).chunks

        if self.plan.quick:
            self.library = ensure_demo_library(self.work / "library")
            self.questions = load_questions(None)
            self.question_set = "built-in demo questions"
            picked = None
        else:
            library = self.settings.library
            if library == Settings.model_fields["library"].default:
                ensure_demo_library(library)
            eval_path = SHARED_EVAL if SHARED_EVAL.is_file() and (library / "MANIFEST.tsv").is_file() else None
            self.questions = load_questions(eval_path)
            self.question_set = str(eval_path) if eval_path else "built-in demo questions"
            self.library = self.work / "library"
            picked = pick_subset(library, self.library, self.questions, self.plan.target_chunks,
                                 lambda sf: len(chunks_of(sf)))
        from indexing.library import scan_library

        prepared = [prep.prepare(sf, "", 0, 0) for sf in scan_library(self.library).files]
        self.chunks = [c for p in prepared for c in p.chunks]
        self.texts = [embed_text(c) for c in self.chunks]
        self.files = [p.file.source for p in prepared]
        sources = set(self.files)
        self.eval_questions = [q for q in self.questions if q.source in sources]
        self.queries = [q.question for q in self.questions] or ["how do I configure it"]
        self.meta.update({
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "cpu": _cpu_name(), "python": platform.python_version(), "load_avg_start": list(os.getloadavg()),
            "mode": "quick" if self.plan.quick else "full",
            "library": str(self.settings.library if picked else self.library),
            "subset_files": len(self.files), "subset_chunks": len(self.chunks), "subset": picked or self.files,
            "question_set": self.question_set, "questions_in_subset": len(self.eval_questions),
            "adopted_backend": self.adopted, "backends": list(BACKENDS),
        })
        self.progress.advance()

        self.step("loading encoders (ONNX export on first use)")
        import llama_index.vector_stores.chroma  # noqa: F401  (a cold import would land in the first ingest)

        self.torch_model = self.count_embedder.model  # the SentenceTransformer itself
        self.embedders: dict[str, Any] = {}
        for backend in BACKENDS:
            try:
                e = Embedder(backend=backend)
                e.load()
                e.encode(self.texts[:2])
                self.embedders[backend] = e
            except Exception as exc:
                self.meta.setdefault("backend_errors", {})[backend] = f"{type(exc).__name__}: {exc}"
        if self.adopted not in self.embedders:
            self.adopted = "torch"
            self.embedders.setdefault("torch", Embedder(backend="torch"))
        self.progress.advance()

    # -- 2 (speed part first: it tunes the batch of the raw baseline) --
    def encoder_speeds(self) -> list[EncoderOption]:
        from indexing.embedder import Embedder

        rng = np.random.default_rng(3)
        n = min(self.plan.speed_sample, len(self.texts))
        sample = [self.texts[i] for i in sorted(rng.choice(len(self.texts), n, replace=False))]
        quick = self.plan.quick
        options = [EncoderOption("torch · batch 32 (old default)", "torch", 0, 32)]
        if not quick:
            options += [EncoderOption("torch · batch 16", "torch", 0, 16),
                        EncoderOption("torch · batch 64", "torch", 0, 64)]
        cores = os.cpu_count() or 1
        if "onnx" in self.embedders:
            shapes = ((cores, 32),) if quick else ((cores, 8), (cores, 16), (cores, 32), (1, 16))
            options += [EncoderOption(f"onnx · {t} thr · batch {b}", "onnx", t, b) for t, b in shapes]
        if "onnx-int8" in self.embedders:
            options += [EncoderOption(f"onnx-int8 · {cores} thr · batch {b}", "onnx-int8", cores, b)
                        for b in ((16,) if quick else (8, 16))]
        if "onnx" in self.embedders and not quick:
            options.append(EncoderOption(f"onnx · {cores} thr · batch 16 · not sorted by length", "onnx", cores, 16,
                                         sort=False))
        for o in options:
            if o.backend == "torch":
                o.embedder = _raw_st_encode(self.torch_model, o.batch)
            else:
                e = Embedder(threads=o.threads, batch_size=o.batch, backend=o.backend)
                e.encode(sample[:2])
                o.embedder = e.encode if o.sort else (lambda t, e=e, b=o.batch: e.onnx.encode(t, b, sort=False))
        for r in range(self.plan.speed_repeats):
            self.step(f"encoder speed, round {r + 1}/{self.plan.speed_repeats}")
            for o in options:
                o.speeds.append(_encode_rate(o.embedder, sample)[0])
        self.speed_sample_size = n
        return options

    # -- 1 --
    def ingest_section(self, options: list[EncoderOption]) -> None:
        from indexing.index import Index
        from indexing.ingest import Ingester

        torch_opts = [o for o in options if o.backend == "torch"]
        best_torch = max(torch_opts, key=lambda o: median(o.speeds))
        self.torch_batch = best_torch.batch
        raw = _raw_st_encode(self.torch_model, best_torch.batch)
        adopted = self.embedders[self.adopted]
        ingest_rates, raw_rates, same_rates, encode_share, ingest_secs = [], [], [], [], []
        self.vectors: dict[str, np.ndarray] = {}
        for r in range(self.plan.repeats):
            self.step(f"ingest vs raw encode, round {r + 1}/{self.plan.repeats}")
            data = self.work / f"ingest-{r}"
            index = Index(data, embedder=adopted)
            spent = [0.0]
            original = adopted.encode

            def timed(texts: Sequence[str], progress: bool = False, _orig: Any = original,
                      _spent: list[float] = spent) -> np.ndarray:
                t0 = time.perf_counter()
                try:
                    return _orig(texts, progress)
                finally:
                    _spent[0] += time.perf_counter() - t0

            adopted.encode = timed  # instance attribute: counts time inside the encoder during ingest
            try:
                report = Ingester(index).run(self.library)
            finally:
                del adopted.encode
            if report.failed:
                raise RuntimeError(f"ingest failed on {report.failed[0].source}: {report.failed[0].reason}")
            ingest_secs.append(report.seconds)
            ingest_rates.append(report.chunks_added / report.seconds)
            encode_share.append(spent[0] / report.seconds)
            rate, vec = _encode_rate(raw, self.texts)
            raw_rates.append(rate)
            self.vectors["torch"] = np.asarray(vec, dtype=np.float32)
            rate, vec = _encode_rate(adopted.encode, self.texts)
            same_rates.append(rate)
            self.vectors[self.adopted] = vec
            self.index_dir = data
            self.ingest_chunks = report.chunks_added
        self.full_ingest_seconds = median(ingest_secs)
        s = self.sections["ingest"]
        where = "demo library" if self.plan.quick else f"subset of {self.settings.library}"
        s.setup = (f"{len(self.files)} files, {self.ingest_chunks} chunks ({where}); "
                   f"median of {self.plan.repeats} runs, interleaved; model load excluded from both sides")
        s.figures += [
            Figure("ingest_vs_raw_st", f"whole ingest ({self.adopted}) vs raw SentenceTransformer.encode "
                   f"(torch, batch {best_torch.batch})", median(ingest_rates), "chunks/s", median(raw_rates),
                   "raw ST encode", "≥ 0.8×"),
            Figure("ingest_vs_same_encoder", f"whole ingest vs its own encoder alone ({self.adopted})",
                   median(ingest_rates), "chunks/s", median(same_rates), f"raw {self.adopted} encode"),
            Figure("ingest_seconds", "full ingest time", median(ingest_secs), "s",
                   note=f"{median(encode_share):.0%} of it inside the encoder"),
        ]

    def encoders_section(self, options: list[EncoderOption]) -> None:
        from indexing.evaluate import evaluate
        from indexing.index import Index
        from indexing.retriever import Retriever

        for backend, e in self.embedders.items():
            if backend not in self.vectors:
                self.step(f"encoding all chunks with {backend}")
                self.vectors[backend] = e.encode(self.texts)
        ref = self.vectors["torch"]
        quality: dict[str, dict[str, float]] = {}
        base_index = Index(self.index_dir, embedder=self.embedders[self.adopted])
        catalog_chunks = list(base_index.catalog.iter_chunks())
        position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        for backend, e in self.embedders.items():
            self.step(f"hit@5 with {backend} vectors")
            cos = np.sum(ref * self.vectors[backend], axis=1)
            name = "mcdewey" if backend == self.adopted else f"bench_{backend.replace('-', '_')}"
            index = Index(self.index_dir, collection=name, embedder=PrecomputedQueries(
                e, [q.question for q in self.eval_questions]))
            if backend != self.adopted:
                vecs = np.stack([self.vectors[backend][position[c.chunk_id]] for c in catalog_chunks])
                for i in range(0, len(catalog_chunks), 2000):
                    index.store.add(catalog_chunks[i : i + 2000], vecs[i : i + 2000])
            retriever = Retriever(index)
            q: dict[str, float] = {"cos_mean": float(cos.mean()), "cos_min": float(cos.min())}
            for mode in ("dense", "hybrid"):
                result = evaluate(self.eval_questions,
                                  lambda text, k, m=mode, r=retriever: r.search(text, k, mode=m))
                q[f"hit5_{mode}"] = result.overall.hit5
                q[f"hit1_{mode}"] = result.overall.hit1
                q[f"mrr10_{mode}"] = result.overall.mrr10
                q["n"] = result.overall.n
            quality[backend] = q
        base = median(options[0].speeds)
        s = self.sections["encoders"]
        s.setup = (f"speed: {self.speed_sample_size} chunks, median of {self.plan.speed_repeats} interleaved rounds; "
                   f"cosine vs torch over all {len(self.texts)} chunks; hit@5 on {quality['torch']['n']:.0f} questions "
                   f"({self.question_set}) over the same chunks; adopted default: {self.adopted}")
        for o in options:
            q = quality.get(o.backend, {})
            s.figures.append(Figure(
                f"encoder_{o.backend}_t{o.threads}_b{o.batch}{'' if o.sort else '_unsorted'}".replace("-", "_"),
                o.label, median(o.speeds),
                "chunks/s", base, "torch · batch 32",
                note=(f"cos {q['cos_mean']:.4f} (min {q['cos_min']:.4f}) · hit@5 dense {q['hit5_dense']:.2f} "
                      f"/ hybrid {q['hit5_hybrid']:.2f} · dense hit@1 {q['hit1_dense']:.2f}, "
                      f"MRR@10 {q['mrr10_dense']:.3f}") if q else "",
                extra={**{k: v for k, v in q.items() if k != "n"}, "adopted": o.backend == self.adopted}))
        for backend, err in self.meta.get("backend_errors", {}).items():
            s.figures.append(na(f"encoder_{backend}".replace("-", "_"), backend, err, "chunks/s"))

    # -- 4 --
    def reingest_section(self) -> None:
        from indexing.index import Index
        from indexing.ingest import Ingester

        times = []
        for _ in range(3):
            index = Index(self.index_dir, embedder=self.embedders[self.adopted])
            report = Ingester(index).run(self.library)
            if report.changed:
                raise RuntimeError("the unchanged library was re-embedded")
            times.append(report.seconds)
        s = self.sections["reingest"]
        s.setup = f"{len(self.files)} unchanged files, median of 3 runs, vs the full ingest of section 1"
        s.figures.append(Figure("reingest_fraction", "re-ingest time / full ingest time",
                                median(times) / self.full_ingest_seconds * 100, "%", None, goal="≤ 5%",
                                higher_is_better=False,
                                note=f"{median(times):.2f} s vs {self.full_ingest_seconds:.1f} s"))
        s.figures.append(Figure("reingest_seconds", "re-ingest time", median(times), "s",
                                self.full_ingest_seconds, "full ingest", higher_is_better=False))

    # -- 3 and 6 --
    def given_index(self) -> tuple[Path, Path, bool]:
        """(library, data dir, is_users_data): an explicit --data index, else the one built above."""
        default = Settings.model_fields["data"].default
        data = self.settings.data
        explicit = not self.plan.quick and (data != default or "MCDEWEY_DATA" in os.environ)
        if explicit and (data / "catalog.sqlite3").is_file():
            return self.settings.library, data, True
        return self.library, self.index_dir, False

    def inprocess_latency(self, library: Path, data: Path) -> tuple[list[float], Any]:
        from assistant.service import LibraryService
        from indexing.index import Index

        service = LibraryService(Settings(library=library, data=data, llm="none", chat=False),
                                 Index(data, embedder=self.embedders[self.adopted]))
        for q in self.queries[:3]:
            service.search(q)
        times = []
        for i in range(self.plan.requests):
            t0 = time.perf_counter()
            service.search(self.queries[i % len(self.queries)])
            times.append((time.perf_counter() - t0) * 1000)
        self.last_breakdown, self.last_filtered = search_breakdown(service, self.queries, self.plan.requests)
        return times, service

    def search_rows(self, label: str, size: int, library: Path, data: Path, chroma: str, server_url: str,
                    server: Proc, chroma_proc: Proc | None, base: list[float]) -> None:
        s = self.sections["search"]
        n = self.plan.requests
        tag = f"{label}_{chroma}"
        for surface, fn in (("mcp", mcp_latencies), ("http", http_latencies)):
            times, errors = fn(server_url, self.queries, n)
            for q, goal in ((50, "p50 ≤ 50 ms"), (95, "p95 ≤ 150 ms")):
                s.figures.append(Figure(
                    f"search_{tag}_{surface}_p{q}",
                    f"{'MCP search_docs' if surface == 'mcp' else 'GET /api/search'} p{q} · {size:,} chunks · "
                    f"Chroma {chroma}", percentile(times, q), "ms", percentile(base, q), "in-process search",
                    goal if label == "scale" else "", higher_is_better=False,
                    note=f"{len(times)} requests, {errors} errors" if errors else f"{len(times)} requests"))
        if chroma == "embedded":
            parts = ", ".join(f"{k} {percentile(v, 50):.1f}/{percentile(v, 95):.0f}"
                              for k, v in self.last_breakdown.items())
            for k, v in self.last_breakdown.items():
                s.figures.append(Figure(f"search_{label}_part_{k}_p50", f"in-process step p50 · {k} · {size:,} chunks",
                                        percentile(v, 50), "ms", higher_is_better=False,
                                        note=f"p95 {percentile(v, 95):.1f} ms" + (
                                            f"; {self.last_filtered}/{len(v)} queries filtered to a product"
                                            if k == "dense" else "")))
            self.meta.setdefault("search_breakdown_ms_p50_p95", {})[label] = parts
        cur, peak = rss_mb(server.proc.pid)
        note = f"peak {peak:.0f} MB"
        if chroma_proc is not None:
            ccur, cpeak = rss_mb(chroma_proc.proc.pid)
            note += f"; Chroma server {ccur:.0f} MB (peak {cpeak:.0f})"
        s.figures.append(Figure(f"search_{tag}_rss_mb", f"server RSS · {size:,} chunks · Chroma {chroma}", cur,
                                "MB", None, goal="< 2048 MB" if label == "scale" else "", higher_is_better=False,
                                note=note))

    def search_and_concurrency(self) -> None:
        from indexing.index import Index

        library, data, users = self.given_index()
        s = self.sections["search"]
        sizes: dict[str, int] = {}
        with self.section("search"):
            given_size = Index(data, embedder=self.embedders[self.adopted]).catalog.count()
            sizes["given"] = given_size
            self.step(f"search latency on the index ({given_size:,} chunks)")
            base, self.service = self.inprocess_latency(library, data)
            server, url = start_server(library, data, self.work, self.adopted, None, self.queries[0])
            self.procs.append(server)
            try:
                self.search_rows("given", given_size, library, data, "embedded", url, server, None, base)
                self.single_client = self._single_client(url)
                with self.section("concurrency"):
                    self.concurrency_section(url, given_size)
            finally:
                server.stop()
            self.step("search latency on the index, Chroma server")
            chroma_path = data / "chroma"
            if users:  # never start a server on the user's own files: work on a copy
                chroma_path = self.work / "given-chroma"
                shutil.copytree(data / "chroma", chroma_path)
            self._with_chroma_server("given", given_size, library, data, chroma_path, base)

            self.step(f"building a {self.plan.scale_chunks:,}-chunk index")
            scale_dir = self.work / "scale"
            t0 = time.perf_counter()
            total = build_scale_index(Index(data, embedder=self.embedders[self.adopted]), scale_dir,
                                      self.plan.scale_chunks, self.embedders[self.adopted], self.step)
            self.meta["scale_build_seconds"] = round(time.perf_counter() - t0, 1)
            sizes["scale"] = total
            self.step(f"search latency at {total:,} chunks")
            base, _ = self.inprocess_latency(library, scale_dir)
            server, url = start_server(library, scale_dir, self.work, self.adopted, None, self.queries[0])
            try:
                self.search_rows("scale", total, library, scale_dir, "embedded", url, server, None, base)
            finally:
                server.stop()
            self.step(f"search latency at {total:,} chunks, Chroma server")
            self._with_chroma_server("scale", total, library, scale_dir, scale_dir / "chroma", base)
            s.setup = (f"warm; {self.plan.requests} sequential requests per row ({self.question_set}, cycled); "
                       f"server = `mcdewey serve` in its own process (encoder {self.adopted}, LLM off); "
                       f"{total:,}-chunk index = the {given_size:,} real chunks copied with new ids and jittered "
                       f"vectors; queries naming a product are filtered to it (as in production)")
        self.progress.advance()  # the scale build step

    def _with_chroma_server(self, label: str, size: int, library: Path, data: Path, chroma_path: Path,
                            base: list[float]) -> None:
        chroma, chroma_url = start_chroma(chroma_path, self.work, self.adopted)
        try:
            server, url = start_server(library, data, self.work, self.adopted, chroma_url, self.queries[0])
            try:
                self.search_rows(label, size, library, data, "server", url, server, chroma, base)
            finally:
                server.stop()
        finally:
            chroma.stop()

    def _single_client(self, url: str) -> dict[str, Any]:
        return mcp_load(url, self.queries, 1, max(3.0, self.plan.seconds / 3))

    def concurrency_section(self, url: str, size: int) -> None:
        p = self.plan
        self.step(f"{p.clients} MCP clients for {p.seconds:g} s")
        load = mcp_load(url, self.queries, p.clients, p.seconds)
        one = self.single_client
        s = self.sections["concurrency"]
        s.setup = (f"{p.clients} official-client MCP sessions calling search_docs in a loop for {p.seconds:g} s on "
                   f"the {size:,}-chunk index (embedded Chroma); baseline: one client alone")
        rate = load["requests"] / load["elapsed"]
        rate1 = one["requests"] / one["elapsed"]
        s.figures += [
            Figure("concurrency_throughput", f"throughput, {p.clients} clients", rate, "req/s", rate1, "1 client"),
            Figure("concurrency_p50", f"p50 latency, {p.clients} clients", percentile(load["times"], 50), "ms",
                   percentile(one["times"], 50), "1 client", higher_is_better=False),
            Figure("concurrency_p95", f"p95 latency, {p.clients} clients", percentile(load["times"], 95), "ms",
                   percentile(one["times"], 95), "1 client", higher_is_better=False),
            Figure("concurrency_errors", f"errors, {p.clients} clients", float(load["errors"]), "count",
                   float(one["errors"]), "1 client", goal="0", higher_is_better=False,
                   note=(load["first_error"] or "")[:160]),
        ]

    # -- 5 --
    def answer_section(self) -> None:
        s = self.sections["answer"]
        keys = ("answer_retrieval_s", "answer_first_token_s", "answer_total_s", "answer_tokens_per_s")
        labels = ("retrieval", "time to first token", "total answer time", "generation speed")
        try:
            from assistant.answer import Delta, Final, stream_answer
            from assistant.llm import LLMError, make_llm
        except ImportError as exc:
            reason = f"n/a (no LLM): the answer pipeline is missing ({exc})"
            s.figures += [na(k, m, reason) for k, m in zip(keys, labels, strict=True)]
            return
        service = self.service if hasattr(self, "service") else None
        if service is None:
            raise RuntimeError("no in-process service (the search section failed)")
        try:
            llm = make_llm(Settings(llm="embedded", llm_threads=self.settings.llm_threads,
                                    llm_timeout=self.settings.llm_timeout))
            if llm is None:
                raise LLMError("no model")
            self.step("loading the embedded LLM")
            llm.load()  # type: ignore[attr-defined]
        except (LLMError, RuntimeError, OSError, ImportError, AttributeError) as exc:
            s.figures += [na(k, m, f"n/a (no LLM): {exc}") for k, m in zip(keys, labels, strict=True)]
            return

        def search(q: str, k: int, product: str | None, version: str | None) -> list[Any]:
            return service.search(q, k, product, version)

        rows: list[dict[str, float]] = []
        baseline: list[float] = []
        candidates = [q.question for q in self.eval_questions] or self.queries
        declined = 0
        for question in candidates:
            if len(rows) >= self.plan.answers:
                break
            self.step(f"answer {len(rows) + 1}/{self.plan.answers} with the embedded LLM")
            deltas, final = 0, None
            for event in stream_answer(question, search=search, llm=llm):
                if isinstance(event, Delta):
                    deltas += 1
                elif isinstance(event, Final):
                    final = event.result
            if final is None or final.timings.first_token_s is None:
                declined += 1
                continue
            t = final.timings
            gen = max(1e-6, t.total_s - t.first_token_s)
            rows.append({"retrieval": t.retrieval_s, "first": t.first_token_s, "total": t.total_s,
                         "tps": deltas / gen})
            for event in stream_answer(question, search=search, llm=None):
                if isinstance(event, Final):
                    baseline.append(event.result.timings.total_s)
        if not rows:
            s.figures += [na(k, m, f"n/a: all {declined} questions were declined before the model ran")
                          for k, m in zip(keys, labels, strict=True)]
            return
        s.setup = (f"{len(rows)} question(s) from {self.question_set}, embedded llama.cpp model "
                   f"({getattr(llm, 'name', '?')}, {self.settings.llm_threads} thread(s)), max 256 tokens; "
                   f"baseline: the same question answered retrieval-only (no model); {declined} declined")
        base = median(baseline)
        s.figures += [
            Figure("answer_retrieval_s", "retrieval", median([r["retrieval"] for r in rows]), "s",
                   higher_is_better=False),
            Figure("answer_first_token_s", "time to first token", median([r["first"] for r in rows]), "s", base,
                   "retrieval-only answer", higher_is_better=False),
            Figure("answer_total_s", "total answer time", median([r["total"] for r in rows]), "s", base,
                   "retrieval-only answer", higher_is_better=False),
            Figure("answer_tokens_per_s", "generation speed", median([r["tps"] for r in rows]), "tokens/s"),
        ]

    # -- run --
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self.prepare()
            options: list[EncoderOption] = []
            with self.section("encoders"):
                options = self.encoder_speeds()
            with self.section("ingest"):
                if not options:
                    raise RuntimeError("the encoder speed measurement failed")
                self.ingest_section(options)
            if self.sections["encoders"].error is None and hasattr(self, "index_dir"):
                with self.section("encoders"):
                    self.encoders_section(options)
            with self.section("reingest"):
                if not hasattr(self, "index_dir"):
                    raise RuntimeError("no index (the ingest section failed)")
                self.reingest_section()
            if hasattr(self, "index_dir"):
                self.search_and_concurrency()
            else:
                self.sections["search"].error = self.sections["concurrency"].error = "no index (ingest failed)"
            with self.section("answer"):
                self.answer_section()
        finally:
            for proc in self.procs:
                proc.stop()
            self.progress.stop()
            self.meta["seconds"] = round(time.monotonic() - started, 1)
            self.meta["load_avg_end"] = list(os.getloadavg())
            shutil.rmtree(self.work, ignore_errors=True)
        return self.result()

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"meta": self.meta, "sections": {}, "missing": missing_figures(self.sections)}
        for key, section in self.sections.items():
            figures = [f.as_dict() for f in section.figures]
            if not figures:
                reason = f"failed: {section.error}" if section.error else "not run"
                section.error = section.error or "not run"
                figures = [na(f"{key}_error", SECTIONS[key], f"n/a: {reason}").as_dict()]
            out["sections"][key] = {"title": SECTIONS[key], "setup": section.setup, "error": section.error,
                                    "figures": figures}
        return out


def missing_figures(sections: dict[str, Section]) -> list[str]:
    """Expected figures that are absent (a failed section), as section/key."""
    missing = []
    for key, wanted in EXPECTED.items():
        have = [f.key for f in sections[key].figures]
        for name in wanted:
            found = any(h.startswith(name[:-1]) for h in have) if name.endswith("*") else name in have
            if not found:
                missing.append(f"{key}/{name}")
    return missing


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


# --- output ---------------------------------------------------------------------------------------


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "count":
        return f"{v:.0f}"
    if isinstance(v, float):
        text = f"{v:,.3f}" if abs(v) < 1 else f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    else:
        text = str(v)
    return f"{text} {unit}".strip()


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [
        f"McDewey bench ({m.get('mode')}) — {m.get('date')} — {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('ram_gb')} GB RAM, load average {', '.join(f'{x:.1f}' for x in m.get('load_avg_start', []))} "
        f"at start — {m.get('seconds')} s",
        "",
        f"Library: {m.get('library')} → {m.get('subset_files')} files, {m.get('subset_chunks')} chunks; "
        f"questions: {m.get('question_set')} ({m.get('questions_in_subset')} about these files); "
        f"encoder adopted: `{m.get('adopted_backend')}`",
        "",
        "| Section | Measure | McDewey | Baseline | Ratio | Goal | Notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for _key, section in result["sections"].items():
        title = section["title"]
        for f in section["figures"]:
            if "na" in f:
                lines.append(f"| {title} | {f['measure']} | {f['na']} | — | — | {f.get('goal', '')} | |")
                continue
            r = f.get("ratio")
            ratio = "—" if r is None else f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"
            base = "—"
            if f.get("baseline") is not None:
                base = f"{_fmt(f.get('baseline'), f['unit'])} ({f['baseline_label']})"
            lines.append(f"| {title} | {f['measure']} | {_fmt(f['value'], f['unit'])} | {base} | {ratio} | "
                         f"{f.get('goal', '')} | {f.get('note', '')} |")
            title = ""
        if section.get("error") and section["figures"]:
            lines.append(f"| | (section error) | {section['error']} | | | | |")
    lines.append("")
    for _key, section in result["sections"].items():
        if section["setup"]:
            lines.append(f"- **{section['title']}**: {section['setup']}")
    return "\n".join(lines)


def run_bench(settings: Settings, quick: bool = False, as_json: bool = False) -> int:
    """Run the benchmarks and print the table (or JSON); 0 when every section produced its figures."""
    bench = Bench(settings, quick)
    result = bench.run()
    print(json.dumps(result, indent=2, ensure_ascii=False) if as_json else markdown(result))
    if result["missing"]:
        print(f"mcdewey bench: missing figures: {', '.join(result['missing'])}", file=sys.stderr)
    return 1 if result["missing"] or any(s["error"] for s in result["sections"].values()) else 0
