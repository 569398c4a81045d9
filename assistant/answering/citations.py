"""Citations: each sentence of an answer tied, in code, to the chunk whose words support it.

Takes the model's text and the chunks it was shown; gives an `Attribution` (the kept sentences with
renumbered [n] markers, the cited chunks, the dropped sentences). A sentence is kept only when one
sentence of its passage says it (`verify`), or its verbatim quote of the passage does (`verbatim`);
when nothing holds, the pipeline answers with the passages' own words instead (`extract`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.answering.context import FENCE_BREAKERS, evidence_text
from assistant.answering.results import Attribution
from assistant.answering.scope import scope_label
from assistant.answering.text import (
    MARKER,
    fact_tokens,
    split_sentences,
    terms,
    tokens,
)
from assistant.answering.verbatim import backs, held_quotes, lift_quotes
from assistant.answering.verify import Check, Similarity, verify
from indexing.chunk import Chunk


def _support(sentence_terms: set[str], facts: set[str], chunk_terms: set[str], chunk_text: str) -> float:
    """Share of the sentence's content terms the chunk contains; 0 if a number/identifier is missing."""
    if not sentence_terms:
        return 0.0
    if any(f not in chunk_text for f in facts):
        return 0.0
    shared = sentence_terms & chunk_terms
    if len(shared) < 2:  # one shared word ("PWNED.", "Yes.") is coincidence, not support
        return 0.0
    return len(shared) / len(sentence_terms)


LOOP_WORDS = 5  # a run of this many words said twice in one sentence is a small model looping


def loops(sentence: str) -> bool:
    """True when the sentence repeats a run of LOOP_WORDS words (of at least three different words)."""
    words = tokens(sentence)
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - LOOP_WORDS + 1):
        run = tuple(words[i : i + LOOP_WORDS])
        if run in seen and len(set(run)) >= 3:
            return True
        seen.add(run)
    return False


def restates(sentence_terms: set[str], facts: set[str], earlier: Iterable[set[str]], share: float = 0.8) -> bool:
    """True when an earlier sentence already holds (nearly) all of this sentence's content terms and
    every number or identifier it names (one that changes a number contradicts, it does not repeat)."""
    return bool(sentence_terms) and any(
        len(sentence_terms & e) >= share * len(sentence_terms) and facts <= e for e in earlier
    )


def cite(cited: list[Chunk], chunk: Chunk) -> int:
    """`chunk`'s number in `cited` (1-based), appended when new: citations are numbered in the order
    they are first cited, and a chunk cited again keeps its number (and its first sentence's page)."""
    for n, earlier in enumerate(cited, 1):
        if earlier.chunk_id == chunk.chunk_id:
            return n
    cited.append(chunk)
    return len(cited)


def attribute(
    text: str,
    context: Sequence[Chunk],
    *,
    labels: Iterable[str] = (),
    min_support: float = 0.5,
    hinted_support: float = 0.34,
    similarity: Similarity | None = None,
    question: str = "",
) -> Attribution:
    """Tie each sentence of `text` to the context chunk that says it; renumber; drop the rest.

    `context[i]` is what the model saw as [i+1]. Word overlap with a chunk (a marker naming it lowers
    the bar; a marker naming no chunk is ignored) only proposes chunks: a sentence is kept when one
    sentence of a proposed chunk says it (`verify`: its specifics, polarity, words and, with
    `similarity`, its meaning; without it only the passage's own words pass), and it cites that chunk
    alone. Small models loop and wander: a sentence that repeats itself or asks a question is dropped,
    one that restates a kept sentence is left out, and so is a closing lead-in ("use the following
    command:") whose sequel did not survive. A sentence `verify` refuses may still rest on the verbatim
    quote it gives (`[n: "…"]`, `verbatim.backs`); it is then shown with that quote, cited at it.
    """
    text, quotes = lift_quotes(text)
    for label in labels:  # small models echo the passage headers back
        text = text.replace(f"{label}:", " ").replace(label, " ")
    text = FENCE_BREAKERS.sub(" ", text)  # ... and the fence tags
    evidence = [evidence_text(c.text) for c in context]
    chunk_terms = [terms(t) for t in evidence]
    chunk_texts = [t.lower() for t in evidence]
    kept: list[tuple[str, int, str, bool]] = []  # (sentence, its context chunk, the passage's words, quoted?)
    dropped: list[str] = []
    seen: set[str] = set()
    kept_terms: list[set[str]] = []
    for sentence in split_sentences(text):
        sentence, own_quotes = held_quotes(sentence, quotes)
        hints = {int(n) for n in MARKER.findall(sentence)}
        clean = " ".join(MARKER.sub(" ", sentence).split())
        clean = re.sub(r"^(answer|the answer is)\s*:\s*", "", clean, flags=re.I).strip()
        clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
        clean = re.sub(r":\.$", ":", clean)  # "the following command: [1]." read without its marker
        key = clean.lower().strip(" .")
        if not key or key in seen or re.fullmatch(r"[\W_]*", key):
            continue
        seen.add(key)
        if loops(clean) or clean.endswith("?"):  # a loop, or a question the model asks itself
            dropped.append(clean)
            continue
        s_terms, facts = terms(clean), fact_tokens(clean)
        if restates(s_terms, facts, kept_terms):
            continue
        scores = [_support(s_terms, facts, chunk_terms[i], chunk_texts[i]) for i in range(len(context))]
        ranked = sorted(range(len(context)), key=lambda i: -scores[i])
        proposed = [i for i in ranked if scores[i] >= min_support or ((i + 1) in hints and scores[i] >= hinted_support)]
        checks = ((i, verify(clean, evidence[i], similarity)) for i in proposed)
        resting, check = next(((i, c) for i, c in checks if c.ok), (None, None))
        if resting is None:  # one quote at a time, against the passage it names
            resting, check = _quoted(clean, own_quotes, context, evidence, question, similarity)
        if resting is None or check is None:  # no passage sentence says it: reused words, or invented
            dropped.append(clean)
            continue
        kept_terms.append(s_terms)
        kept.append((clean, resting, check.source or clean, check.how == "quoted"))
    while kept and kept[-1][0].endswith(":"):  # "use the following command:" with nothing after it
        dropped.append(kept.pop()[0])
    cited: list[Chunk] = []
    out: list[str] = []
    for clean, i, source, quoted in kept:
        number = cite(cited, context[i].cited_at(source))  # the page the sentence is on
        body, end = (clean[:-1], clean[-1]) if clean[-1] in ".!" else (clean, ".")
        shown = f" (“{source.rstrip('.')}”)" if quoted else ""  # the reader sees the page's own words
        out.append(f"{body.rstrip()}{shown} [{number}]{end}")
    return Attribution(" ".join(out), cited, dropped)


def _quoted(sentence: str, quotes: Sequence[tuple[int, str]], context: Sequence[Chunk], evidence: Sequence[str],
            question: str, similarity: Similarity | None) -> tuple[int | None, Check | None]:
    """The context chunk whose verbatim quote backs `sentence` (`verbatim.backs`), and the check."""
    for n, quote in quotes:
        if 1 <= n <= len(context):
            check = backs(sentence, quote, evidence[n - 1], question, similarity, about=scope_label(context[n - 1]))
            if check.ok:
                return n - 1, check
    return None, None
