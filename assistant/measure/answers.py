"""`mcdewey eval --answers QUESTIONS.jsonl`: how good are the answers, not only the retrieval?

Each question runs through the same pipeline as the chat and `POST /api/ask` (no filters, like the
retrieval eval; the model `MCDEWEY_LLM` names). Figures:

- `cited_gold`: share of answerable questions (those with a gold `source`) whose citations include a
  chunk at the gold place (`measure.retrieval.answers`: same file and, where given, page);
- `gold_retrieved`: the same for what retrieval returned — the ceiling `cited_gold` can reach;
- `evidence_held`: share of answerable questions with a gold `evidence` quote whose answer holds at least
  70% of that quote's words (`holds_evidence`); `words_median` / `words_max`: the answers' length;
- `declined_unanswerable`: share of unanswerable questions (no gold source) that were declined;
- `wrongly_declined`: share of answerable questions that were declined;
- `cited_unretrieved`: answers citing a chunk retrieval did not return, other than the next chunk of a
  retrieved one (a lead-in's payoff is read there); must be 0;
- latency: median and p90 of the time to the first model token and of the whole answer (answered
  questions; a decline costs one search), in seconds, after a warm-up that loads the embedding model,
  the indexes and the embedded model (`warm_up_s`: what the first question of a cold process pays).

The result is a flat dict of figures plus `per_question` (a list); a Markdown table of the questions
is written to stderr as they finish, so `--json` output stays clean.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from assistant.answerer import Answerer, embedding_similarity
from assistant.answering.extract import SOURCE_LINE
from assistant.answering.results import AnswerResult
from assistant.answering.text import MARKER, split_sentences, tokens
from assistant.answering.verify import Similarity, verify
from assistant.llm import LLMError
from assistant.measure.retrieval import Question, answers
from assistant.measure.stats import median, nearest_rank

if TYPE_CHECKING:
    from assistant.service import LibraryService


def _p90(values: Sequence[float]) -> float:
    """Nearest-rank 90th percentile (an observed time, not an interpolated one)."""
    return nearest_rank(values, 90)


def _seconds(values: Sequence[float], figure: Callable[[Sequence[float]], float]) -> float | None:
    """`figure(values)` rounded to the millisecond, None for no values."""
    return round(figure(values), 3) if values else None


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 3) if n else None


def verified_share(result: AnswerResult, similarity: Similarity) -> float | None:
    """Of the answer's sentences, the share a passage it cites says (`verify`): an audit of what a
    reader is shown, whichever stage wrote it. Each run of text up to its [n] markers is split into
    sentences, and each sentence is checked against the passages those markers name. None for a
    decline or an answer without citations."""
    if result.declined:
        return None
    text = re.sub(r"^According to the [^:]{1,200}: ", "", result.answer)
    text = re.sub(r"^> ?", "", SOURCE_LINE.sub("", text), flags=re.M)  # a quotation's source line is no claim
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # nor is the command it quotes after its marker
    shown = ok = 0
    for segment in re.finditer(r"(.+?)\s*((?:\[\d{1,3}\])+)\.?", text, re.DOTALL):
        cited = [result.citations[int(n) - 1].text for n in MARKER.findall(segment.group(2))
                 if 1 <= int(n) <= len(result.citations)]
        body = segment.group(1)
        quoted = SHOWN_QUOTE.search(body)
        if quoted:  # a sentence kept on its verbatim quote (`verbatim`): the quote must be the page's words
            shown += 1
            ok += any(_squeezed(quoted.group(1)) in _squeezed(passage) for passage in cited)
            body = " ".join(split_sentences(body[: quoted.start()])[:-1])  # the sentences before it
        for sentence in split_sentences(body):
            shown += 1
            ok += any(verify(sentence, passage, similarity).ok for passage in cited)
    return round(ok / shown, 3) if shown else None


SHOWN_QUOTE = re.compile(r"\s*\(“([^”]{1,600})”\)\s*$")


def _squeezed(text: str) -> str:
    return " ".join(text.lower().split())


EVIDENCE_SHARE = 0.7  # an answer "holds the evidence" when it has this share of the gold quote's words


def holds_evidence(answer: str, evidence: str | None) -> bool:
    """Whether `answer` holds at least EVIDENCE_SHARE of the distinct words of the gold `evidence` quote:
    a proxy for "the answer says it" that tracked a human read-through (15 of 40 vs 14 correct)."""
    wanted = set(tokens(evidence or ""))
    return bool(wanted) and len(wanted & set(tokens(answer))) >= EVIDENCE_SHARE * len(wanted)


def evaluate_question(service: LibraryService, q: Question, top_k: int | None = None) -> dict[str, Any]:
    """One question through the pipeline: what it answered, cited and retrieved, and how fast."""
    answerer = Answerer(service)
    asked = answerer.ask(q.question, top_k=top_k)
    result, retrieved = asked.result, asked.retrieved
    retrieved_ids = {c.chunk_id for c in retrieved}
    answerable = bool(q.source)
    return {
        "id": q.id,
        "style": q.style,
        "answerable": answerable,
        "declined": result.declined,
        "cited_gold": answerable and any(answers(c, q) for c in result.citations),
        "gold_retrieved": answerable and any(answers(c, q) for c in retrieved),
        "evidence_held": answerable and not result.declined and holds_evidence(result.answer, q.evidence),
        "words": len(result.answer.split()),
        "citations": len(result.citations),
        # A lead-in's payoff may be read from the chunk after a retrieved one (`extract.payoff`): that
        # continuation is not an invented citation; anything else retrieval did not return is.
        "cited_unretrieved": sum(1 for c in result.citations if c.chunk_id not in retrieved_ids
                                 and (c.source, c.ordinal - 1) not in {(r.source, r.ordinal) for r in retrieved}),
        "note": result.note,
        "first_token_s": result.timings.first_token_s,
        "total_s": result.timings.total_s,
        "verified": verified_share(result, embedding_similarity(service.index)),
        "question": q.question,
        "answer": result.answer,
        "dropped": result.dropped,
        "cited": [{"n": n, "source": c.source, "pages": c.pages_text(), "heading": " › ".join(c.heading),
                   "text": c.text} for n, c in enumerate(result.citations, 1)],
    }


def _row(r: dict[str, Any]) -> str:
    def yes(value: bool) -> str:
        return "yes" if value else "no"

    first = "–" if r["first_token_s"] is None else f"{r['first_token_s']:.2f}"
    gold = yes(r["cited_gold"]) if r["answerable"] else "–"
    return (f"| {r['id']} | {r['style']} | {yes(r['declined'])} | {gold} | {r['citations']} | "
            f"{first} | {r['total_s']:.2f} |")


def evaluate_answers(
    service: LibraryService, questions: Sequence[Question], progress: TextIO | bool | None = True
) -> dict[str, Any]:
    """Run every question; return the figures (flat) and `per_question`. `progress`: True writes the
    per-question table to the stderr of the moment (not of import time), a stream writes it there."""
    progress = sys.stderr if progress is True else (progress or None)
    llm = Answerer(service).model
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
    audited = [r for r in rows if r["verified"] is not None]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_evidence = [r for r, q in zip(rows, questions, strict=True) if r["answerable"] and q.evidence]
    first_tokens = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    totals = [r["total_s"] for r in rows if not r["declined"]]  # a decline costs a search, nothing more
    return {
        "llm": llm.name if llm is not None else "none (retrieval-only)",
        "embedding": service.models()["embedding"],
        "reranker": service.models()["reranker"],
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "cited_gold": _share(sum(r["cited_gold"] for r in answerable), len(answerable)),
        "gold_retrieved": _share(sum(r["gold_retrieved"] for r in answerable), len(answerable)),
        "evidence_held": _share(sum(r["evidence_held"] for r in with_evidence), len(with_evidence)),
        "words_median": median([r["words"] for r in rows if not r["declined"]]) if totals else None,
        "words_max": max((r["words"] for r in rows if not r["declined"]), default=None),
        "declined_unanswerable": _share(sum(r["declined"] for r in unanswerable), len(unanswerable)),
        "wrongly_declined": _share(sum(r["declined"] for r in answerable), len(answerable)),
        "cited_unretrieved": sum(r["cited_unretrieved"] for r in rows),
        "verified_share": _share(sum(r["verified"] for r in audited), len(audited)) if audited else None,
        "first_token_median_s": _seconds(first_tokens, median),
        "first_token_p90_s": _seconds(first_tokens, _p90),
        "total_median_s": _seconds(totals, median),
        "total_p90_s": _seconds(totals, _p90),
        "warm_up_s": warm_up_s,
        "per_question": rows,
    }


def answers_table(result: dict[str, Any]) -> str:
    """The figures as a small Markdown table (for a report or a terminal)."""
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result.items() if not isinstance(v, list | dict)]
    return "\n".join(lines)
