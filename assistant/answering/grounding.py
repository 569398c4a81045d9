"""Grounding: does the library hold an answer? Decided from retrieval evidence, never by the model.

Takes the query and the retrieved chunks; gives an `Assessment` (answerable or not, and why). A 135M
model says "not found" and invents answers about equally readily, so the decision rests on the terms
and meaning the passages share with the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.answering.scope import product_aliases
from assistant.answering.text import STOP_WORDS, terms
from indexing.chunk import Chunk


@dataclass(frozen=True)
class GroundingPolicy:
    """Thresholds of the decline decision; tune them on eval/dev.jsonl with the real retrieval.

    `min_score` is off by default because the search's score scale (cosine, BM25, fusion) is the
    service's business; pass its calibrated floor to use it. The similarity thresholds are cosines of
    the packaged all-MiniLM-L6-v2 (chunks carry `similarity`); they are skipped when it is absent.
    """

    top_n: int = 3
    min_coverage: float = 0.3  # share of the question's content terms found in the top chunks
    max_missing_keys: float = 0.5  # share of key terms the top chunks may lack ...
    key_coverage_floor: float = 0.6  # ... unless the coverage is at least this (never when all are missing)
    min_score: float | None = None
    weak_margin: float = 0.12  # just above min_coverage, scattered matches also decline
    # Off-topic questions ("a sourdough recipe") score at most ~0.2 against every manual; the
    # least similar answerable dev question still had a passage at 0.39.
    min_similarity: float | None = 0.3
    # Paraphrases share few words with the manual but are close in meaning: a passage this similar
    # outweighs low word coverage.
    paraphrase_similarity: float = 0.45


@dataclass(frozen=True)
class Assessment:
    answerable: bool
    coverage: float
    key_terms: tuple[str, ...] = ()
    missing_key_terms: tuple[str, ...] = ()
    reason: str = ""


def key_terms(question: str, ignore: Iterable[str] = ()) -> list[str]:
    """Distinctive words a passage should mention: identifiers, long ACRONYMS, CamelCase, Names.

    Left out on purpose: lower-case compounds ("plausible-looking", "built-in") and short acronyms
    (URL, SSL), which manuals often word differently; they still count towards coverage.
    """
    ignored = {w.lower() for w in ignore}
    found: list[str] = []
    raw = re.findall(r"[A-Za-z0-9%][A-Za-z0-9_%.\-]*", question)
    for i, word in enumerate(raw):
        word = word.strip(".-")
        low = word.lower()
        if not word or low in STOP_WORDS or low in ignored or re.fullmatch(r"\d+(\.\d+)*", word):
            continue
        identifier = bool(re.search(r"[_%]|\d", word)) and len(word) > 2
        mixed_compound = "-" in word and any(ch.isupper() for ch in word)
        acronym = len(word) >= 4 and word.isupper() and word.isalpha()
        camel = bool(re.search(r"[a-z][A-Z]", word))
        mixed_case = sum(ch.isupper() for ch in word) >= 2 and any(ch.islower() for ch in word)  # DNSCrypt
        proper = i > 0 and word[0].isupper() and word[1:].islower() and word.isalpha() and len(word) > 3
        if (identifier or mixed_compound or acronym or camel or mixed_case or proper) and low not in found:
            found.append(low)
    return found


def mentions(text: str, key: str) -> bool:
    """Whether lower-cased `text` mentions a key term; a compound also counts when every part is there
    ("TLS-wrapper" in a passage about a "TLS ... wrapper" program)."""
    if key in text:
        return True
    parts = [p for p in re.split(r"[-_./]+", key) if p]
    return len(parts) > 1 and all(re.search(rf"(?<![a-z0-9]){re.escape(p)}", text) for p in parts)


def assess(question: str, chunks: Sequence[Chunk], policy: GroundingPolicy | None = None) -> Assessment:
    """Decide from the retrieval evidence alone whether the top chunks can answer `question`.

    Evidence, in order: distinctive terms of the question that no top passage mentions (the library
    does not cover that thing), no passage close in meaning (an off-topic question), too few of the
    question's words in the passages unless one is close in meaning (a paraphrase), and weak
    matches scattered over unrelated manuals.
    """
    policy = policy or GroundingPolicy()
    if not chunks:
        return Assessment(False, 0.0, reason="nothing was found")
    top = list(chunks[: policy.top_n])
    aliases = {a for c in chunks for a in product_aliases(c)} | {c.version.lower() for c in chunks}
    q_terms = {t for t in terms(question) if t not in aliases}
    # Naming the manual ("Acme Router", "Administrator Reference Manual") does not make a question specific.
    titles = {w.lower() for c in chunks for w in re.findall(r"[A-Za-z][\w'.-]+", c.doc_title)}
    texts = " ".join(c.text.lower() for c in top)
    c_terms = terms(texts)
    coverage = len(q_terms & c_terms) / len(q_terms) if q_terms else 1.0
    keys = key_terms(question, ignore=aliases | titles)
    missing = tuple(k for k in keys if not mentions(texts, k))
    sims = [c.similarity for c in top if c.similarity is not None]
    closest = max(sims) if sims else None

    def decline(reason: str) -> Assessment:
        return Assessment(False, coverage, tuple(keys), missing, reason)

    if policy.min_score is not None and (top[0].score is None or top[0].score < policy.min_score):
        return decline("the best match scores below the floor")
    if keys and (len(missing) == len(keys) or (
        len(missing) / len(keys) > policy.max_missing_keys and coverage < policy.key_coverage_floor
    )):
        return decline(f"no passage mentions {', '.join(missing)}")
    if closest is not None and policy.min_similarity is not None and closest < policy.min_similarity:
        return decline("no passage is close in meaning to the question")
    paraphrase = closest is not None and closest >= policy.paraphrase_similarity
    if coverage < policy.min_coverage and not paraphrase:
        return decline("the passages share too few of the question's words")
    agreeing = sum(1 for c in top if (c.product, c.version) == (top[0].product, top[0].version))
    if coverage < policy.min_coverage + policy.weak_margin and len(top) >= 3 and agreeing == 1 and not paraphrase:
        return decline("weak matches scattered over unrelated manuals")
    return Assessment(True, coverage, tuple(keys), missing)

