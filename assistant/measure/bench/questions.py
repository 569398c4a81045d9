"""The bench's library and questions: the shared question set or built-in questions about the demo
guide, and a representative subset of a large library to ingest."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.measure.bench.plan import ROOT
from assistant.measure.retrieval import Question
from assistant.measure.retrieval import load_questions as load_file

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


def load_questions(path: Path | None) -> list[Question]:
    """The questions of the file at `path`, else the built-in questions about the demo guide."""
    if path is not None and path.is_file():
        return load_file(path)
    return [Question(id=q["id"], question=q["question"], style=q["style"], source=q["source"], pages=q["pages"])
            for q in DEMO_QUESTIONS]


def pick_subset(library: Path, dest: Path, questions: Sequence[Question], target_chunks: int,
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
