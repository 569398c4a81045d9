"""The answer pipeline, stage by stage: condense → retrieve → ground → prompt → generate → attribute.

    question ─ condense (follow-ups) ─ retrieve ─ grounded? ──no──▶ decline + closest passages
                                                    │yes
                                                    ▼
                       numbered excerpts ─▶ model ─▶ attribute sentences to chunks in code

Takes a question, the service's search and the model; yields `Retrieved`, then `Delta`*, then one
`Final`. Token deltas are provisional; `AnswerResult.answer` is the checked text a UI shows once
`Final` arrives. Callers go through `assistant.answerer.Answerer`, which checks the input first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from assistant import prompts
from assistant.answering.citations import attribute
from assistant.answering.context import build_context, passage_label, render_messages
from assistant.answering.extract import Following, extractive_answer
from assistant.answering.followups import condense
from assistant.answering.grounding import GroundingPolicy, assess
from assistant.answering.results import AnswerEvent, AnswerResult, Attribution, Delta, Final, Retrieved, Timings
from assistant.answering.scope import describe_scope, named_version, scope_label
from assistant.answering.text import MARKER, split_sentences
from assistant.answering.verify import Similarity
from assistant.llm import ChatLLM, LLMFailed, LLMUnavailable
from indexing.chunk import Chunk

SearchFn = Callable[[str, int, str | None, str | None], list[Chunk]]
"""The service's search: (query, top_k, product, version) -> chunks, best first, `score` set."""

DEFAULT_TOP_K = 8
DEFAULT_MAX_TOKENS = 200


def _decline_text(scope: str, closest: Sequence[Chunk]) -> str:
    tail = ""
    if closest:
        where = ", ".join(dict.fromkeys(describe_scope(c.product, c.version, [c]) for c in closest))
        tail = f" The closest passages (from {where}) are listed below; they may be related but do not answer it."
    return prompts.render("refusal", scope=scope, closest=tail)


def _state_version(answer: str, cited: Sequence[Chunk], retrieved: Sequence[Chunk], named: bool) -> str:
    """Say which version the answer describes when the question named one or several are in play."""
    versions = {(c.product, c.version) for c in cited}
    if len(versions) != 1 or not answer:
        return answer
    product, version = next(iter(versions))
    others = {c.version for c in retrieved if c.product == product} - {version}
    if not named and not others:
        return answer
    if re.search(rf"(?<![\w.]){re.escape(version)}(?![\w]|\.\d)", answer):
        return answer
    return f"According to the {scope_label(cited[0])}: {answer}"


def stream_answer(
    question: str,
    *,
    search: SearchFn,
    llm: ChatLLM | None,
    history: Sequence[dict[str, str]] = (),
    product: str | None = None,
    version: str | None = None,
    top_k: int = DEFAULT_TOP_K,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    policy: GroundingPolicy | None = None,
    similarity: Similarity | None = None,
    following: Following | None = None,
    holdings: str = "",
) -> Iterator[AnswerEvent]:
    """Answer `question` from the library, yielding Retrieved, then Delta*, then one Final.

    `holdings` names what the whole library holds ("bind9 9.18, haproxy 2.6, …"): a decline says where
    it looked."""
    started = time.monotonic()
    timings = Timings()
    llm_name = llm.name if llm is not None else None

    def finish(**fields: Any) -> Final:
        timings.total_s = round(time.monotonic() - started, 3)
        return Final(AnswerResult(question=question, llm=llm_name, timings=timings, **fields))

    # (a) condense a follow-up into a standalone query
    query = condense(question, history, llm if getattr(llm, "rewrites_questions", True) else None)
    timings.condense_s = round(time.monotonic() - started, 3)

    # (b) retrieve; honour a version the question names ("in BIRD 2.0") by searching that version
    t0 = time.monotonic()
    chunks = search(query, top_k, product, version)
    first_found = list(chunks)
    named = None if version else named_version(query, chunks)
    version_asked = named is not None or version is not None
    if named and any((c.product, c.version) != named for c in chunks):
        chunks = search(query, top_k, product or named[0], named[1])
    timings.retrieval_s = round(time.monotonic() - t0, 3)
    scope_product = product or (named[0] if named else None)
    scope_version = version or (named[1] if named else None)
    scope = describe_scope(scope_product, scope_version, chunks)
    searched = f"{scope} ({holdings})" if holdings and not (scope_product or scope_version) else scope
    yield Retrieved(query, list(chunks))

    # (c) does the library hold an answer?
    verdict = assess(query, chunks, policy or GroundingPolicy())
    if not verdict.answerable:
        closest = list((chunks or first_found)[:3])
        yield finish(
            query=query, answer=_decline_text(searched, closest), declined=True, passages=closest, scope=scope,
            note=f"Declined: {verdict.reason}.",
        )
        return

    if llm is None:  # the default: the manual's own words, quoted with their source
        quoted = extractive_answer(query, chunks, similarity=similarity, following=following)
        if not quoted.citations:
            closest = list(chunks[:3])
            yield finish(query=query, answer=_decline_text(searched, closest), declined=True, passages=closest,
                         scope=scope, note="Declined: no passage is close enough to the question to quote.")
            return
        yield finish(
            query=query, answer=_state_version(quoted.answer, quoted.citations, chunks, version_asked),
            citations=quoted.citations, passages=list(chunks[:3]), scope=scope,
        )
        return

    # (d) prompt the model with fenced, numbered excerpts
    context = build_context(chunks, query, llm.prompt_budget)
    scope_note = ""
    if version_asked:
        scope_note = f"The question is about {scope}; answer for that version.\n"
    messages = render_messages(query, context, scope_note, quoting=getattr(llm, "quotes_passages", False))

    # (e) stream
    pieces: list[str] = []
    note: str | None = None
    looping = False
    deltas = llm.stream(messages, max_tokens)
    try:
        for delta in deltas:
            if timings.first_token_s is None:
                timings.first_token_s = round(time.monotonic() - started, 3)
            pieces.append(delta)
            yield Delta(delta)
            if re.search(r"[.!?]", delta) and _repeats_itself("".join(pieces)):
                looping = True  # small models loop; the repeat would be dropped anyway
                break
    except LLMUnavailable as exc:
        note = f"The language model is unavailable ({exc.reason}); here are the passages."
    except LLMFailed as exc:
        note = f"The answer was cut off ({exc.reason})."
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()  # stops generation when we leave early
    raw = "".join(pieces)
    if note is None and not looping and len(pieces) >= max_tokens - 1 and not re.search(r"[.!?\]]\s*$", raw):
        note = "The answer was cut off at the length limit."
        raw = raw[: max((raw.rfind(p) for p in ".!?"), default=-1) + 1] or raw

    # (f) attribute citations in code
    shown = [c for c, _ in context]
    labels = [passage_label(c) for c in shown]
    result = (attribute(raw, shown, labels=labels, similarity=similarity, question=query) if raw.strip()
              else Attribution("", []))
    passages: list[Chunk] = []
    if not result.citations:
        dropped = result.dropped
        result = extractive_answer(query, chunks, similarity=similarity, following=following)
        result.dropped = dropped
        passages = list(chunks[:3])
        if not result.citations:  # nothing the model wrote holds, and no passage is close enough to quote
            yield finish(query=query, answer=_decline_text(searched, passages), declined=True, passages=passages,
                         scope=scope, note=note, dropped=dropped)
            return
        if note is None and raw.strip():
            note = "The model's answer could not be tied to the passages, so these are the passages' own words."
        elif note is not None and raw.strip():
            note += " What it wrote could not be tied to the passages, so these are the passages' own words."
    elif result.dropped and note is None:
        note = (f"{len(result.dropped)} sentence(s) of the model's answer were left out: no passage supports "
                "them, or they repeat themselves.")
    yield finish(
        query=query, answer=_state_version(result.answer, result.citations, chunks, version_asked),
        citations=result.citations, passages=passages, scope=scope, note=note, dropped=result.dropped,
    )


def _repeats_itself(text: str) -> bool:
    """True once a completed sentence of `text` says again what an earlier one said."""
    sentences = split_sentences(text)
    if sentences and not re.search(r"[.!?\]]\s*$", text):
        sentences = sentences[:-1]  # the last one is still being written
    keys = [" ".join(MARKER.sub(" ", s).lower().split()).strip(" .") for s in sentences]
    keys = [k for k in keys if k]
    return len(set(keys)) < len(keys)


def answer(question: str, **kwargs: Any) -> AnswerResult:
    """`stream_answer` run to the end (CLI, REST)."""
    for event in stream_answer(question, **kwargs):
        if isinstance(event, Final):
            return event.result
    raise RuntimeError("stream_answer ended without a result")  # pragma: no cover - a bug if reached
