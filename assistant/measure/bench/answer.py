"""Bench section 5, answers: the default answer's time (a quotation of the manual, no model: p50 and
p95), and the embedded LLM's retrieval time, time to first token, total time and tokens per second
against it."""

from __future__ import annotations

from assistant.answerer import Answerer
from assistant.answering.pipeline import DEFAULT_MAX_TOKENS, DEFAULT_TOP_K
from assistant.answering.results import Delta, Final
from assistant.llm import LLMError
from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure, na
from assistant.measure.stats import median, nearest_rank
from assistant.settings import LLMSettings


def answer_section(b: BenchRun) -> None:
    """Section 5 on the in-process service of section 3: `plan.answers` questions the model answers."""
    s = b.sections["answer"]
    keys = ("answer_retrieval_s", "answer_first_token_s", "answer_total_s", "answer_tokens_per_s")
    labels = ("retrieval", "time to first token", "total answer time", "generation speed")
    service = b.service if hasattr(b, "service") else None
    if service is None:
        raise RuntimeError("no in-process service (the search section failed)")
    # One index, two answerers: the embedded model, and none (the baseline), through the one entry point.
    embedded = Answerer(service, service.settings.model_copy(update={"llm": LLMSettings(kind="embedded")}))
    retrieval_only = Answerer(service, service.settings.model_copy(update={"llm": LLMSettings(kind="none")}))
    llm = embedded.model
    try:
        if llm is None:
            raise LLMError("no model")
        b.step("loading the embedded LLM")
        llm.load()  # type: ignore[attr-defined]
    except (LLMError, RuntimeError, OSError, ImportError, AttributeError) as exc:
        s.figures += [na(k, m, f"n/a (no LLM): {exc}") for k, m in zip(keys, labels, strict=True)]
        return

    rows: list[dict[str, float]] = []
    baseline: list[float] = []
    candidates = [q.question for q in b.eval_questions] or b.queries
    declined = 0
    for question in candidates:
        if len(rows) >= b.plan.answers:
            break
        b.step(f"answer {len(rows) + 1}/{b.plan.answers} with the embedded LLM")
        deltas, final = 0, None
        for event in embedded.stream_ask(question, top_k=DEFAULT_TOP_K):
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
        for event in retrieval_only.stream_ask(question, top_k=DEFAULT_TOP_K):
            if isinstance(event, Final):
                baseline.append(event.result.timings.total_s)
    if not rows:
        s.figures += [na(k, m, f"n/a: all {declined} questions were declined before the model ran")
                      for k, m in zip(keys, labels, strict=True)]
        return
    s.setup = (f"{len(rows)} question(s) from {b.question_set}, embedded llama.cpp model "
               f"({getattr(llm, 'name', '?')}, {b.settings.llm_threads} thread(s)), max {DEFAULT_MAX_TOKENS} tokens; "
               f"baseline: the same question answered by default (a quotation, no model); {declined} declined")
    base = median(baseline)
    s.figures += [
        Figure("answer_default_p50_s", "default answer (quotation), p50", base, "s", higher_is_better=False),
        Figure("answer_default_p95_s", "default answer (quotation), p95", nearest_rank(baseline, 95), "s",
               higher_is_better=False),
        Figure("answer_retrieval_s", "retrieval", median([r["retrieval"] for r in rows]), "s",
               higher_is_better=False),
        Figure("answer_first_token_s", "time to first token", median([r["first"] for r in rows]), "s", base,
               "default answer", higher_is_better=False),
        Figure("answer_total_s", "total answer time", median([r["total"] for r in rows]), "s", base,
               "default answer", higher_is_better=False),
        Figure("answer_tokens_per_s", "generation speed", median([r["tps"] for r in rows]), "tokens/s"),
    ]
