"""The state one bench run shares between its sections: the plan, the figures so far, the progress
bar, the work folder and child processes, and what each stage hands to the later ones."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.measure.bench.figures import Section
from assistant.measure.bench.plan import SECTIONS, Plan
from assistant.measure.bench.processes import Proc
from assistant.measure.retrieval import Question
from assistant.settings import Settings
from assistant.surfaces.progress import StepProgress

if TYPE_CHECKING:
    from assistant.service import LibraryService
    from indexing.chunk import Chunk
    from indexing.embedder import Embedder


class BenchRun:
    """One run of the bench. The stages set the attributes declared below in order (prepare → encoder
    speeds → ingest → search); one that a failed stage never set is absent, and the stages after it
    check with `hasattr` and report their section as failed."""

    # set by prepare
    adopted: str  # the encoder backend McDewey uses by default on this machine
    count_embedder: Embedder
    library: Path  # the library the bench ingests (a copy, under `work`)
    questions: list[Question]
    question_set: str
    eval_questions: list[Question]  # those about the files in `library`
    queries: list[str]
    chunks: list[Chunk]
    texts: list[str]  # as embedded
    files: list[str]
    torch_model: Any  # the SentenceTransformer itself
    embedders: dict[str, Any]  # backend -> loaded embedder
    # set by the encoder speeds and the ingest
    speed_sample_size: int
    torch_batch: int
    vectors: dict[str, np.ndarray]  # backend -> the vectors of `texts`
    index_dir: Path
    ingest_chunks: int
    full_ingest_seconds: float
    # set by the search
    service: LibraryService  # in-process, on the index; the answer section uses it
    last_breakdown: dict[str, list[float]]
    last_filtered: int
    single_client: dict[str, Any]

    def __init__(self, settings: Settings, quick: bool, progress: bool = True, scale_sizes: tuple[int, ...] = (),
                 scale_dir: Path | None = None, rerank_questions: Path | None = None) -> None:
        self.settings = settings
        self.plan = Plan.make(quick, scale_sizes, scale_dir, rerank_questions)
        self.sections: dict[str, Section] = {k: Section(k) for k in SECTIONS if k in self.plan.sections}
        self.meta: dict[str, Any] = {}
        steps = 3 if rerank_questions else 2 + 2 * len(scale_sizes) if scale_sizes else 10
        self.progress = StepProgress(total=steps, enabled=progress)
        self.work = Path(tempfile.mkdtemp(prefix="mcdewey-bench-"))
        self.procs: list[Proc] = []

    def step(self, text: str) -> None:
        self.progress.step(text)

    @contextlib.contextmanager
    def section(self, key: str) -> Iterator[Section]:
        """Run a section: a broken one is reported as its error, the others still run."""
        section = self.sections[key]
        self.step(SECTIONS[key])
        try:
            yield section
        except Exception as exc:
            section.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.progress.advance()
