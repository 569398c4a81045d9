"""Verification: a model's sentence reaches the reader only if one sentence of its passage says it.

Takes an answer sentence, the text of the passage it was attributed to, and the embedding model's
cosine; gives a `Check`: the passage sentence it rests on (so the citation can point at that
sentence's page), or why it fails. Word overlap with the whole chunk is not enough: small models
recombine a passage's words into claims the passage does not make ("the KDC listens on UDP port 88"
from "the default is 88" and "the KDC also listens for UDP requests"). So a sentence must rest on ONE
sentence of the passage (or two adjacent ones), which must hold

- every specific it names: numbers (with their sign), identifiers, option names, commands, quoted
  or code text;
- the same polarity: a negation on one side only is a contradiction, not support;
- its words, in their order, within a stretch not much longer than the sentence (`MIN_IN_ORDER`,
  `MAX_STRETCH`): a light edit of the passage's words passes, a recombination of them does not
  ("invalid data causes a gap; missing data does not" said the other way round);
- its meaning, under the embedding model (`min_cosine`).

A sentence that is the passage's own words (a run of one passage sentence) passes at once. The
constants were chosen on `tests/eval/support.jsonl` (`mcdewey eval --support`, 184 labelled pairs):
precision 1.0 (no unsupported sentence kept), recall 0.42 — the paraphrases are refused. A small
model's paraphrase is where its errors hide, so the reader gets the manual's own sentence instead
(`extract`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering.text import MARKER, chunk_sentences, fact_tokens, tokens

Similarity = Callable[[str, Sequence[str]], list[float]]
"""cosine(sentence, each candidate) under the embedding model."""

NEGATORS = frozenset(
    "not no never none nothing cannot can't don't doesn't isn't aren't won't shouldn't mustn't "
    "without neither nor unless".split()
)
OWN_WORDS_MIN = 4  # a run this long of a passage sentence, said as it stands, is the passage's words
# Chosen on tests/eval/support.jsonl (`mcdewey eval --support`). Share of the sentence's words found in
# the passage in the same order: 0.9 kept 1 unsupported of 37 (0.85: 3 of 40, 0.75: 4 of 42); the one
# left ("the default of 1" for "-1") went once numbers kept their sign: 0 of 36.
MIN_IN_ORDER = 0.9
# How far apart those words may lie, as a multiple of the sentence's length (1.5 let a swap through).
MAX_STRETCH = 1.2
# Cosine under all-MiniLM-L6-v2: a safety net below every supported pair the word checks keep; on the
# set it removes nothing (the word checks are stricter), so it cannot cost recall.
MIN_COSINE = 0.6


@dataclass(frozen=True)
class Check:
    ok: bool
    source: str | None = None  # the passage sentence(s) it rests on
    how: str = ""  # "own words", "verified", or why it failed


def _signed(text: str) -> str:
    """[n] markers out; a negative number keeps its sign as a word ("-1" is not "1")."""
    return re.sub(r"(?<![\w.])-(?=\d)", "minus", MARKER.sub(" ", text))


def _words(text: str) -> list[str]:
    return tokens(_signed(text))


def specifics(sentence: str) -> set[str]:
    """What a passage must name for the sentence to rest on it: numbers and identifiers (`fact_tokens`),
    `code`, "quoted" text, --options, CamelCase and ALL-CAPS names."""
    found = set(fact_tokens(_signed(sentence)))
    for quoted in re.findall(r"`([^`]{1,80})`|\"([^\"]{1,80})\"", sentence):
        found.update(" ".join(tokens(q)) for q in quoted if q and tokens(q))
    for word in re.findall(r"[A-Za-z][\w.-]*", sentence):
        if re.search(r"[a-z][A-Z]", word) or (len(word) >= 3 and word.isupper()) or word.startswith("--"):
            found.add(word.lower().strip(".-"))
    return {f for f in found if f}


def _negates(words: list[str]) -> bool:
    return any(w in NEGATORS or w.endswith("n't") for w in words)


def in_order(sentence: list[str], candidate: list[str]) -> tuple[int, int]:
    """(how many of `sentence`'s words `candidate` holds in the same order, over how long a stretch):
    the longest common subsequence, and the span of candidate words one such alignment covers."""
    n, m = len(sentence), len(candidate)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if sentence[i] == candidate[j] else max(
                table[i + 1][j], table[i][j + 1])
    i = j = 0
    matched: list[int] = []
    while i < n and j < m:
        if sentence[i] == candidate[j]:
            matched.append(j)
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return table[0][0], (matched[-1] - matched[0] + 1 if matched else 0)


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def candidates(passage: str) -> list[str]:
    """The passage's sentences, and runs of two and three neighbours: one claim may join a term, the
    sentence that explains it and the one that gives its default."""
    sentences = chunk_sentences(passage)
    runs = [" ".join(sentences[i : i + n]) for n in (2, 3) for i in range(len(sentences) - n + 1)]
    return sentences + runs


def verify(
    sentence: str, passage: str, similarity: Similarity | None, *,
    min_cosine: float = MIN_COSINE, min_in_order: float = MIN_IN_ORDER, max_stretch: float = MAX_STRETCH,
) -> Check:
    """Does one sentence (or a run of two or three) of `passage` say `sentence`?

    Without `similarity` the meaning is not checked; the word checks still apply.
    """
    words = _words(sentence)
    if not words:
        return Check(False, how="empty")
    pool = [(candidate, _words(candidate)) for candidate in candidates(passage)]
    for candidate, c_words in pool:
        if len(words) >= OWN_WORDS_MIN and _contains_run(c_words, words):
            return Check(True, candidate, "own words")
    wanted, polarity = specifics(sentence), _negates(words)
    fitting = []
    for candidate, c_words in pool:
        low, vocabulary = " ".join(c_words), set(c_words)
        if any((f not in low) if " " in f else (f not in vocabulary) for f in wanted):
            continue
        if _negates(c_words) != polarity:
            continue
        shared, stretch = in_order(words, c_words)
        if shared >= min_in_order * len(words) and stretch <= max_stretch * len(words):
            fitting.append(candidate)
    if not fitting:
        return Check(False, how="no passage sentence says it in its words, specifics and polarity")
    if similarity is None:
        return Check(True, fitting[0], "its words")
    cosines = similarity(sentence, fitting)
    best = max(range(len(fitting)), key=lambda i: cosines[i])
    if cosines[best] < min_cosine:
        return Check(False, how=f"closest passage sentence differs in meaning (cosine {cosines[best]:.2f})")
    return Check(True, fitting[best], "verified")
