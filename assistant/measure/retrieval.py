"""Retrieval quality over a question file (the format of shared/eval): hit@k and MRR@10, for each
search mode (`mcdewey eval`) and for the bench's encoder comparison.

A retrieved chunk answers a question when its source is the question's source and, where pages are
given, its page span overlaps them. Unanswerable questions (no source) are left out of these figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexing.chunk import Chunk

Search = Callable[[str, int], list[Chunk]]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    style: str
    source: str | None
    pages: list[int] | None
    product: str | None = None
    version: str | None = None
    evidence: str | None = None


@dataclass
class Scores:
    n: int = 0
    hit1: float = 0.0
    hit5: float = 0.0
    hit10: float = 0.0
    mrr10: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "hit@1": round(self.hit1, 3), "hit@5": round(self.hit5, 3),
                "hit@10": round(self.hit10, 3), "mrr@10": round(self.mrr10, 3)}


@dataclass
class EvalResult:
    overall: Scores
    by_style: dict[str, Scores] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        out.append(Question(
            id=str(row.get("id", len(out))), question=row["question"], style=row.get("style", ""),
            source=row.get("source"), pages=row.get("pages"), product=row.get("product"),
            version=row.get("version"), evidence=row.get("evidence"),
        ))
    return out


def answers(chunk: Chunk, q: Question) -> bool:
    if chunk.source != q.source:
        return False
    if not q.pages or chunk.page is None:
        return True
    end = chunk.page_end or chunk.page
    return any(chunk.page <= p <= end for p in q.pages)


def first_hit(chunks: list[Chunk], q: Question) -> int | None:
    """1-based rank of the first chunk that answers q, or None."""
    return next((i + 1 for i, c in enumerate(chunks) if answers(c, q)), None)


def evaluate(questions: list[Question], search: Search) -> EvalResult:
    totals: dict[str, list[int | None]] = {}
    misses: list[str] = []
    for q in questions:
        if not q.source:
            continue
        rank = first_hit(search(q.question, 10), q)
        totals.setdefault(q.style, []).append(rank)
        if rank is None or rank > 5:
            misses.append(q.id)

    def score(ranks: list[int | None]) -> Scores:
        n = len(ranks) or 1
        return Scores(
            n=len(ranks),
            hit1=sum(1 for r in ranks if r == 1) / n,
            hit5=sum(1 for r in ranks if r and r <= 5) / n,
            hit10=sum(1 for r in ranks if r and r <= 10) / n,
            mrr10=sum(1 / r for r in ranks if r and r <= 10) / n,
        )

    everything = [r for ranks in totals.values() for r in ranks]
    return EvalResult(score(everything), {s: score(r) for s, r in sorted(totals.items())}, misses)


# --- `mcdewey eval`: the search modes side by side ------------------------------------------------

COMPARED_MODES = ("hybrid", "keyword", "dense")  # the table's rows: the default, then BM25 and dense alone
ModeSearch = Callable[[str, int, str], list[Chunk]]
"""(query, top_k, mode) -> chunks, best first: the service's search with its mode."""


def evaluate_modes(questions: list[Question], search: ModeSearch) -> dict[str, EvalResult]:
    """Every question through each search mode, hybrid first."""
    return {mode: evaluate(questions, lambda q, k, m=mode: search(q, k, m)) for mode in COMPARED_MODES}


def modes_json(results: dict[str, EvalResult]) -> dict[str, Any]:
    return {m: {"overall": r.overall.as_dict(), "by_style": {s: v.as_dict() for s, v in r.by_style.items()},
                "misses": r.misses} for m, r in results.items()}


def modes_tables(results: dict[str, EvalResult]) -> str:
    """Markdown: the modes overall, hybrid by question style, and hybrid's misses at 5."""
    lines = ["| retrieval | n | hit@1 | hit@5 | hit@10 | MRR@10 |", "|---|---|---|---|---|---|"]
    for mode, r in results.items():
        o = r.overall.as_dict()
        lines.append(f"| {mode} | {o['n']} | {o['hit@1']} | {o['hit@5']} | {o['hit@10']} | {o['mrr@10']} |")
    lines += ["", "| style (hybrid) | n | hit@1 | hit@5 | hit@10 | MRR@10 |", "|---|---|---|---|---|---|"]
    for style, s in results["hybrid"].by_style.items():
        o = s.as_dict()
        lines.append(f"| {style} | {o['n']} | {o['hit@1']} | {o['hit@5']} | {o['hit@10']} | {o['mrr@10']} |")
    lines += ["", f"missed at 5 (hybrid): {', '.join(results['hybrid'].misses) or 'none'}"]
    return "\n".join(lines)
