"""Shared fixtures: a small real library, indexed once per session with the real embedding model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from library_factory import build_library

pytest_plugins = ["fixtures_server", "fixtures_browser", "fixtures_admin"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "library"
EVAL = SHARED / "eval" / "dev.jsonl"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.local/share/mcdewey from a test."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key in list(os.environ):
        if key.startswith("MCDEWEY_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="session")
def embedder() -> object:
    from indexing.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def embedded() -> object:
    """The real embedded LLM (SmolLM2-135M in llama.cpp, one thread), loaded once for the session."""
    from assistant.llm import EmbeddedLLM

    llm = EmbeddedLLM(threads=1, timeout=120)
    llm.load()
    return llm


@pytest.fixture(scope="session")
def indexed(library: Path, tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Path]:
    """A data directory holding the session library's index (embedded Chroma)."""
    from indexing.index import Index
    from indexing.ingest import Ingester

    data = tmp_path_factory.mktemp("data")
    index = Index(data, embedder=embedder)  # type: ignore[arg-type]
    report = Ingester(index).run(library)
    assert not report.failed, report.failed
    yield data
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def service(library: Path, indexed: Path, embedder: object) -> object:
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from indexing.index import Index

    settings = Settings(library=library, data=indexed, llm="none")
    return LibraryService(settings, Index(indexed, embedder=embedder))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def standin_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cross-encoder folder built from the installed embedding model (seeded head: its order means
    nothing, its scores are its own), once per session; `CrossEncoder(folder)` loads it offline."""
    from assistant.measure.standin_cross_encoder import build_standin_cross_encoder

    return build_standin_cross_encoder(tmp_path_factory.mktemp("standin") / "cross-encoder")


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is absent ({CORPUS}); corpus tests run only beside ../shared")


@pytest.fixture(scope="session")
def similarity(embedder: object) -> object:
    """Cosine under the real embedding model, as the answer check uses it (`Answerer`)."""
    from assistant.answerer import embedding_similarity

    return embedding_similarity(embedder)  # type: ignore[arg-type]
