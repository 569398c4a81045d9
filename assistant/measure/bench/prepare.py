"""The bench's first stages: the library and questions it measures on, the machine it runs on, and
the encoder backends loaded before any clock starts."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.questions import SHARED_EVAL, load_questions, pick_subset
from assistant.settings import Settings

if TYPE_CHECKING:
    from indexing.chunk import Chunk
    from indexing.library import SourceFile


def prepare_library(b: BenchRun) -> None:
    """Copy the library to ingest (or build the demo one), chunk it, pick its questions; note the machine."""
    from assistant.demo import ensure_demo_library
    from indexing.chunk_vectors import embed_text
    from indexing.embedder import BACKENDS, Embedder, default_backend
    from indexing.index import Index
    from indexing.ingest import Ingester
    from indexing.library import scan_library

    b.step("preparing the library")
    b.adopted = default_backend(b.settings.embed_backend)
    b.count_embedder = Embedder(backend="torch", model_cache=b.settings.model_cache)
    prep = Ingester(Index(b.work / "prepare", embedder=b.count_embedder))  # parse + chunk only

    def chunks_of(sf: SourceFile) -> list[Chunk]:
        return prep.prepare(sf, "", 0, 0).chunks

    if b.plan.quick:
        b.library = ensure_demo_library(b.work / "library")
        b.questions = load_questions(None)
        b.question_set = "built-in demo questions"
        picked = None
    else:
        library = b.settings.library
        if library == Settings.model_fields["library"].default:
            ensure_demo_library(library)
        eval_path = SHARED_EVAL if SHARED_EVAL.is_file() and (library / "MANIFEST.tsv").is_file() else None
        b.questions = load_questions(eval_path)
        b.question_set = str(eval_path) if eval_path else "built-in demo questions"
        b.library = b.work / "library"
        picked = pick_subset(library, b.library, b.questions, b.plan.target_chunks,
                             lambda sf: len(chunks_of(sf)))
    prepared = [prep.prepare(sf, "", 0, 0) for sf in scan_library(b.library).files]
    b.chunks = [c for p in prepared for c in p.chunks]
    b.texts = [embed_text(c) for c in b.chunks]
    b.files = [p.file.source for p in prepared]
    sources = set(b.files)
    b.eval_questions = [q for q in b.questions if q.source in sources]
    b.queries = [q.question for q in b.questions] or ["how do I configure it"]
    b.meta.update(machine_meta())
    b.meta.update({
        "mode": "quick" if b.plan.quick else "full",
        "library": str(b.settings.library if picked else b.library),
        "subset_files": len(b.files), "subset_chunks": len(b.chunks), "subset": picked or b.files,
        "question_set": b.question_set, "questions_in_subset": len(b.eval_questions),
        "adopted_backend": b.adopted, "backends": list(BACKENDS), "models": bench_models(b.settings),
    })
    b.progress.advance()


def bench_models(settings: Settings) -> dict[str, str]:
    """The models the sections measure: the packaged embedding model on each backend (what the encoder,
    ingest and search figures compare), the reranker and the chat model the settings name."""
    from indexing.embedding_model import resolve_model
    from indexing.embedding_spec import packaged_spec

    embedding = packaged_spec().label
    if resolve_model(settings.embed_model).kind != "packaged":
        embedding += f" (not MCDEWEY_EMBED_MODEL={settings.embed_model}: measure that with `mcdewey eval`)"
    reranker = "off (`mcdewey bench --rerank` measures it)" if not settings.rerank else (
        f"{settings.rerank}: measured by `mcdewey bench --rerank`, not in these sections")
    return {"embedding": embedding, "reranker": reranker, "chat": str(settings.llm)}


def machine_meta() -> dict[str, Any]:
    """When and on what the bench ran (the table's first line)."""
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu": _cpu_name(), "python": platform.python_version(), "load_avg_start": list(os.getloadavg()),
    }


def load_encoders(b: BenchRun) -> None:
    """Load every encoder backend this machine has (exporting ONNX on first use); torch at least."""
    from indexing.embedder import BACKENDS, Embedder

    b.step("loading encoders (ONNX export on first use)")
    import llama_index.vector_stores.chroma  # noqa: F401  (a cold import would land in the first ingest)

    b.torch_model = b.count_embedder.model  # the SentenceTransformer itself
    b.embedders = {}
    for backend in BACKENDS:
        try:
            e = Embedder(backend=backend, model_cache=b.settings.model_cache)
            e.load()
            e.encode(b.texts[:2])
            b.embedders[backend] = e
        except Exception as exc:
            b.meta.setdefault("backend_errors", {})[backend] = f"{type(exc).__name__}: {exc}"
    if b.adopted not in b.embedders:
        b.adopted = "torch"
        b.embedders.setdefault("torch", Embedder(backend="torch", model_cache=b.settings.model_cache))
    b.progress.advance()


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"
