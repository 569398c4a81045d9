"""`mcdewey eval --answers QUESTIONS.jsonl`: how good are the answers, not only the retrieval?

Each question runs through the same pipeline as the chat and `POST /api/ask` (no filters, like the
retrieval eval; the model `MCDEWEY_LLM` names). Figures:

- `cited_gold`: share of answerable questions (those with a gold `source`) whose citations include a
  chunk at the gold place (`indexing.evaluate.answers`: same file and, where given, page);
- `gold_retrieved`: the same for what retrieval returned — the ceiling `cited_gold` can reach;
- `declined_unanswerable`: share of unanswerable questions (no gold source) that were declined;
- `wrongly_declined`: share of answerable questions that were declined;
- `cited_unretrieved`: answers citing a chunk retrieval did not return (must be 0);
- latency: median and p90 of the time to the first model token and of the whole answer (answered
  questions; a decline costs one search), in seconds, after a warm-up that loads the embedding model,
  the indexes and the embedded model (`warm_up_s`: what the first question of a cold process pays).

The result is a flat dict of figures plus `per_question` (a list); a Markdown table of the questions
is written to stderr as they finish, so `--json` output stays clean.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from assistant.answer import AnswerResult, Final, Retrieved, stream_answer
from assistant.ask import default_top_k, get_llm, search_fn
from assistant.llm import LLMError
from indexing.evaluate import Question, answers

if TYPE_CHECKING:
    from assistant.service import LibraryService


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(0.9 * len(ordered))) - 1], 3)


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 3) if n else None


def evaluate_question(service: LibraryService, q: Question, top_k: int | None = None) -> dict[str, Any]:
    """One question through the pipeline: what it answered, cited and retrieved, and how fast."""
    retrieved: list[Any] = []
    result: AnswerResult | None = None
    k = default_top_k(service.settings) if top_k is None else top_k
    for event in stream_answer(q.question, search=search_fn(service), llm=get_llm(service.settings), top_k=k):
        if isinstance(event, Retrieved):
            retrieved = list(event.chunks)
        elif isinstance(event, Final):
            result = event.result
    assert result is not None  # stream_answer always ends with Final
    retrieved_ids = {c.chunk_id for c in retrieved}
    answerable = bool(q.source)
    return {
        "id": q.id,
        "style": q.style,
        "answerable": answerable,
        "declined": result.declined,
        "cited_gold": answerable and any(answers(c, q) for c in result.citations),
        "gold_retrieved": answerable and any(answers(c, q) for c in retrieved),
        "citations": len(result.citations),
        "cited_unretrieved": sum(1 for c in result.citations if c.chunk_id not in retrieved_ids),
        "note": result.note,
        "first_token_s": result.timings.first_token_s,
        "total_s": result.timings.total_s,
        "answer": result.answer,
    }


def _row(r: dict[str, Any]) -> str:
    def yes(value: bool) -> str:
        return "yes" if value else "no"

    first = "–" if r["first_token_s"] is None else f"{r['first_token_s']:.2f}"
    gold = yes(r["cited_gold"]) if r["answerable"] else "–"
    return (f"| {r['id']} | {r['style']} | {yes(r['declined'])} | {gold} | {r['citations']} | "
            f"{first} | {r['total_s']:.2f} |")


def evaluate_answers(
    service: LibraryService, questions: Sequence[Question], progress: TextIO | None = sys.stderr
) -> dict[str, Any]:
    """Run every question; return the figures (flat) and `per_question`."""
    llm = get_llm(service.settings)
    started = time.monotonic()
    service.search("warm up", 1)  # load the embedding model and the indexes: not part of any answer
    load = getattr(llm, "load", None)
    if load is not None:
        with contextlib.suppress(LLMError):  # every answer will carry the reason as its note
            load()
    warm_up_s = round(time.monotonic() - started, 3)
    if progress is not None:
        print("| id | style | declined | cited gold | citations | first token s | total s |\n"
              "|---|---|---|---|---|---|---|", file=progress, flush=True)
    rows = []
    for q in questions:
        row = evaluate_question(service, q)
        rows.append(row)
        if progress is not None:
            print(_row(row), file=progress, flush=True)
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    first_tokens = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    totals = [r["total_s"] for r in rows if not r["declined"]]  # a decline costs a search, nothing more
    return {
        "llm": llm.name if llm is not None else "none (retrieval-only)",
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "cited_gold": _share(sum(r["cited_gold"] for r in answerable), len(answerable)),
        "gold_retrieved": _share(sum(r["gold_retrieved"] for r in answerable), len(answerable)),
        "declined_unanswerable": _share(sum(r["declined"] for r in unanswerable), len(unanswerable)),
        "wrongly_declined": _share(sum(r["declined"] for r in answerable), len(answerable)),
        "cited_unretrieved": sum(r["cited_unretrieved"] for r in rows),
        "first_token_median_s": _median(first_tokens),
        "first_token_p90_s": _p90(first_tokens),
        "total_median_s": _median(totals),
        "total_p90_s": _p90(totals),
        "warm_up_s": warm_up_s,
        "per_question": rows,
    }


def answers_table(result: dict[str, Any]) -> str:
    """The figures as a small Markdown table (for a report or a terminal)."""
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result.items() if not isinstance(v, list | dict)]
    return "\n".join(lines)
