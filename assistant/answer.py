"""The grounded-answer pipeline, shared by the chat, `POST /api/ask` and `mcdewey ask`.

    question ─ condense (follow-ups) ─ retrieve ─ grounded? ──no──▶ decline + closest passages
                                                    │yes
                                                    ▼
                       numbered excerpts ─▶ model ─▶ attribute sentences to chunks in code

Design choices, and why:
- Whether the library holds an answer is decided from retrieval evidence (coverage of the question's
  terms by the top chunks, its distinctive terms, optional score floor, agreement), not by asking
  the model: a 135M model says "not found" and invents answers about equally readily.
- The model sees passages as fenced, numbered data blocks and only the sentences of each chunk most
  relevant to the question (`ChatLLM.prompt_budget`); retrieved text is data, never instructions.
- Citations are attributed in code: each answer sentence is tied to the chunk(s) whose words support
  it; the model's [n] markers are only hints, markers naming nothing are dropped, and citations are
  renumbered in the order they are first cited. A sentence no passage supports is DROPPED (listed in
  `AnswerResult.dropped`), as is one whose numbers or identifiers appear in no passage, one that loops
  on itself ("X is the default family of Y, which is the default family of Y"), a question the model
  asks itself, and a closing "use the following command:" whose sequel was dropped; a sentence that
  says again what a kept one said is left out. When nothing survives, the answer falls back to the
  passages' own best sentences, cited.
- Token deltas are streamed as the model writes them (`Delta` events) and are provisional; the
  final `AnswerResult.answer` is the checked text a UI should show once `Final` arrives.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from assistant import prompts
from assistant.llm import ChatLLM, LLMError, LLMFailed, LLMUnavailable
from indexing.chunk import Chunk

SearchFn = Callable[[str, int, str | None, str | None], list[Chunk]]
"""The service's search: (query, top_k, product, version) -> chunks, best first, `score` set."""

DEFAULT_TOP_K = 8
DEFAULT_MAX_TOKENS = 200
MAX_CONTEXT_CHUNKS = 8
CHARS_PER_TOKEN = 4  # rough, for budgeting excerpt sizes in English manuals


# --- results and events ---------------------------------------------------------------------------


class Timings(BaseModel):
    """Seconds since the request started (first_token_s) or spent in a step."""

    condense_s: float = 0.0
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0


class AnswerResult(BaseModel):
    """What every surface renders: the answer with [n] markers and the chunks those numbers name."""

    question: str
    query: str = Field(description="The standalone query that was searched (after condensing)")
    answer: str = Field(description="Text with [1], [2] markers; [n] is citations[n-1]")
    citations: list[Chunk] = Field(default_factory=list, description="Cited chunks, in cited order")
    declined: bool = False
    passages: list[Chunk] = Field(
        default_factory=list,
        description="Closest chunks when declined; the passages used when the answer is not the model's",
    )
    note: str | None = Field(default=None, description="Why the answer is degraded, if it is")
    scope: str = Field(default="the whole library", description="What was searched, e.g. 'BIRD 2.0'")
    dropped: list[str] = Field(default_factory=list, description="Model sentences no passage supports")
    llm: str | None = Field(default=None, description="Model name, None for retrieval-only")
    timings: Timings = Field(default_factory=Timings)


@dataclass(frozen=True)
class Retrieved:
    """Sent once retrieval is done, before any token, so a UI can show sources early."""

    query: str
    chunks: list[Chunk]


@dataclass(frozen=True)
class Delta:
    """Raw model text as it arrives (provisional; see AnswerResult.answer)."""

    text: str


@dataclass(frozen=True)
class Final:
    result: AnswerResult


AnswerEvent = Retrieved | Delta | Final


# --- text analysis --------------------------------------------------------------------------------

_STOP = frozenset(
    """a about above after again all also am an and any are as at be been being before below between
    both but by can could did do does doing done down during each either else ever every few for from
    further get gets getting got had has have having he her here hers him his how however i if in into
    is it its itself just let lets like make makes many may me might more most much must my need needs
    no nor not now of off on once one only or other our out over own per please same shall she should
    so some such than that the their theirs them then there these they this those through to too
    under until up upon us use used using very via want wants was way we were what when where whether
    which while who whom whose why will with within without would yes yet you your i'm i've don't
    doesn't isn't can't won't it's there's what's""".split()
)
_WORD = re.compile(r"[A-Za-z0-9%][A-Za-z0-9_%'.\-/]*")
_MARKER = re.compile(r"\[(\d{1,3})\]")
# A sentence ends after . ! or ? and any closing quote or bracket, which stay with it ("(Integer.)").
_SENT_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\[\"'(A-Z0-9`])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
)
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|cf|vs|approx|p|pp|no|fig|sec|ch)\.$", re.IGNORECASE)


def _normalize_word(word: str) -> str:
    """Crude stemming that is good enough for overlap: plural 's' off, long words cut to 6 letters."""
    if word.isalpha():
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        return word[:6] if len(word) > 6 else word
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with trailing punctuation trimmed ("2.0." -> "2.0")."""
    return [t.strip(".-/'").lower() for t in _WORD.findall(text) if t.strip(".-/'")]


def terms(text: str) -> set[str]:
    """Content terms: stop words out, identifiers kept whole and also split into their parts."""
    out: set[str] = set()
    for tok in tokens(text):
        if tok in _STOP:
            continue
        if len(tok) > 1 or tok.isdigit():
            out.add(_normalize_word(tok))
        if re.search(r"[_\-/.]", tok):
            for part in re.split(r"[_\-/.]+", tok):
                if len(part) > 2 and part not in _STOP:
                    out.add(_normalize_word(part))
    return out


def fact_tokens(sentence: str) -> set[str]:
    """Specifics a passage must contain for a sentence to count as supported: numbers, identifiers."""
    facts = set()
    for tok in tokens(sentence):
        if re.search(r"\d", tok) or "_" in tok or tok.startswith("%") or tok.startswith("--"):
            facts.add(tok)
    return facts


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items / paragraphs). Markers after a full stop stay with their sentence."""
    parts = [p.strip() for p in _SENT_END.split(text) if p and p.strip()]
    merged: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\[\d{1,3}\]\s*)+)(.*)$", part, re.DOTALL)
        if lead and merged:  # "... is 0. [2] Next sentence" -> marker belongs to the previous one
            merged[-1] = f"{merged[-1]} {lead.group(1).strip()}"
            part = lead.group(2).strip()
            if not part:
                continue
        if merged and _ABBREV.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return merged


MIN_QUOTED_WORDS = 5  # shorter lines of a passage are headings and terms ("max_wal_senders (integer)")


def _is_label(line: str) -> bool:
    return len(tokens(line)) < MIN_QUOTED_WORDS and not re.search(r"[.!?:;]$", line)


def _join_fragments(sentences: list[str]) -> list[str]:
    """A fragment too short to stand alone ("27.2.6.", "backlog (Integer.)") joins the sentence after it."""
    out: list[str] = []
    carry = ""
    for sentence in sentences:
        sentence = f"{carry} {sentence}" if carry else sentence
        carry = sentence if len(tokens(sentence)) < MIN_QUOTED_WORDS else ""
        if not carry:
            out.append(sentence)
    return [*out, carry] if carry else out


def _chunk_sentences(text: str, max_len: int = 400, quoting: bool = False) -> list[str]:
    """Sentences of passage text; long unpunctuated runs (tables, PDF lines) cut at whitespace.

    `quoting` (sentences shown to the reader as the answer): a short line without an end mark followed
    by a capitalised one is a heading or a term ("max_wal_senders (integer)"), set off from the sentence
    it introduces by a dash instead of running into it, and a fragment too short to stand alone joins
    the next sentence. Without it (excerpts for the model) the text is split as the answer prompt was
    measured with: changing what the 135M model reads moves its answers as much as it improves them."""
    if not quoting:
        pieces = split_sentences(re.sub(r"[ \t]+", " ", text))
    else:
        lines: list[str] = []  # runs of text, each ending where a line ends a sentence
        for line in (x.strip() for x in re.sub(r"[ \t]+", " ", text).split("\n")):
            if not line:
                continue
            if lines and _is_label(lines[-1]) and line[:1].isupper():
                lines[-1] = f"{lines[-1]} — {line}"
            elif lines and not re.search(r"[.!?:;]$", lines[-1]):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        pieces = [s for line in lines for s in _join_fragments(split_sentences(line))]
    out: list[str] = []
    for sentence in pieces:
        sentence = " ".join(sentence.split())
        while len(sentence) > max_len:
            cut = sentence.rfind(" ", 0, max_len)
            cut = cut if cut > max_len // 2 else max_len
            out.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


# --- scope: products and versions -----------------------------------------------------------------


def _product_aliases(chunk: Chunk) -> set[str]:
    """Ways a question may name a product: its id, id parts, id without digits, title's first word."""
    pid = chunk.product.lower()
    aliases = {pid, pid.replace("-", " "), re.sub(r"\d+$", "", pid)}
    aliases.update(part for part in pid.split("-") if len(part) > 3)
    first = chunk.doc_title.split()[0].lower() if chunk.doc_title.split() else ""
    if first and first not in _STOP and len(first) > 2:
        aliases.add(first)
    return {a for a in aliases if a}


def scope_label(chunk: Chunk) -> str:
    """'BIRD 2.0 User's Guide' / 'HAProxy Configuration Manual (2.6)': title plus version."""
    title = chunk.doc_title or f"{chunk.product} documentation"
    return title if re.search(rf"(?<![\w.]){re.escape(chunk.version)}(?![\w])", title) else f"{title} ({chunk.version})"


def product_version_label(chunk: Chunk) -> str:
    """'BIRD 2.0' / 'PostgreSQL 15': the product as the title spells it, and the version."""
    title_words = chunk.doc_title.split()
    aliases = _product_aliases(chunk)
    name = next((w for w in title_words if w.lower() in aliases), chunk.product)
    return f"{name} {chunk.version}"


def named_version(question: str, chunks: Sequence[Chunk]) -> tuple[str, str] | None:
    """(product, version) when the question names a version right after a product ("in BIRD 2.0").

    The product must be adjacent: in "built R with gcc 11.1", 11.1 is gcc's version, not R's.
    """
    text = question.lower()
    seen: dict[str, set[str]] = {}
    for chunk in chunks:
        seen.setdefault(chunk.product, set()).update(_product_aliases(chunk))
    for product, aliases in seen.items():
        for alias in sorted(aliases, key=len, reverse=True):
            match = re.search(
                rf"(?<![\w-]){re.escape(alias)}(?:'s)?\s+(?:version\s+|v)?(\d+(?:\.\d+)*)(?![\w]|\.\d)", text
            )
            if match:
                return product, match.group(1)
    return None


def describe_scope(product: str | None, version: str | None, chunks: Sequence[Chunk] = ()) -> str:
    """Human wording of what was searched, using titles from the chunks when they match."""
    if not product and not version:
        return "the whole library"
    for chunk in chunks:
        if chunk.product == product and (version is None or chunk.version == version):
            return product_version_label(chunk) if version else product_version_label(chunk).rsplit(" ", 1)[0]
    return " ".join(x for x in (product, version) if x)


# --- condensing follow-ups ------------------------------------------------------------------------

_ANAPHORA = re.compile(r"\b(it|its|this|that|these|those|they|them|their|there|same|above|former|latter)\b", re.I)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|but|or|so|then|instead|and what|what if)\b", re.I)


def needs_context(question: str, history: Sequence[dict[str, str]]) -> bool:
    """A follow-up that cannot be searched alone: short, or leaning on the previous turn."""
    if not any(m.get("role") == "user" for m in history):
        return False
    content = terms(question)
    if len(content) <= 2 or _CONTINUATION.search(question):
        return True
    return bool(_ANAPHORA.search(question)) and len(content) <= 6


def _previous_question(history: Sequence[dict[str, str]]) -> str | None:
    for message in reversed(history):
        if message.get("role") == "user" and message.get("content", "").strip():
            return message["content"].strip()
    return None


_VERSION = r"\d+(?:\.\d+)*"


def _carry_over(previous: str, question: str) -> str:
    """Heuristic rewrite: the previous question, with a version the follow-up names swapped in.

    "How do I build BIRD 1.6 for IPv6?" + "And in 2.0?" -> "How do I build BIRD 2.0 for IPv6? And in 2.0?"
    (only a version of the same shape — dotted or not — right after a word is replaced).
    """
    new = re.findall(rf"(?<![\w.]){_VERSION}(?![\w]|\.\d)", question)
    if len(new) == 1:
        dots = new[0].count(".")

        def swap(match: re.Match[str]) -> str:
            old = match.group(2)
            return match.group(1) + new[0] if old.count(".") == dots else match.group(0)

        previous = re.sub(rf"(\b[A-Za-z][\w-]*\s+(?:version\s+|v)?)({_VERSION})(?![\w]|\.\d)", swap, previous, count=1)
    return f"{previous} {question}"


def condense(question: str, history: Sequence[dict[str, str]], llm: ChatLLM | None = None) -> str:
    """A standalone search query for `question`.

    Without a model (or when its rewrite looks wrong) the previous user question is prepended: crude,
    but it carries the product, version and subject the follow-up leans on into retrieval.
    """
    question = question.strip()
    previous = _previous_question(history)
    if not previous or not needs_context(question, history):
        return question
    fallback = _carry_over(previous, question)
    if llm is None:
        return fallback
    turns = [f"{m['role']}: {' '.join(m.get('content', '').split())[:300]}" for m in list(history)[-4:]]
    message = prompts.render("condense", history="\n".join(turns), question=question)
    try:
        text = "".join(llm.stream([{"role": "user", "content": message}], max_tokens=60))
    except LLMError:
        return fallback
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    candidate = re.sub(r"^(rewritten question|question)\s*:\s*", "", lines[0], flags=re.I) if lines else ""
    candidate = candidate.strip(" \"'")
    # Accept only a rewrite that keeps the follow-up's own words and brings in the earlier subject.
    own, earlier, rewritten = terms(question), terms(previous), terms(candidate)
    keeps_own = len(own & rewritten) >= max(1, len(own) // 2)
    brings_context = bool(rewritten & (earlier - own))
    if 3 <= len(candidate.split()) <= 60 and keeps_own and brings_context:
        return candidate
    return fallback


# --- is the answer in the library? ----------------------------------------------------------------


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
        if not word or low in _STOP or low in ignored or re.fullmatch(r"\d+(\.\d+)*", word):
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
    aliases = {a for c in chunks for a in _product_aliases(c)} | {c.version.lower() for c in chunks}
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


# --- the prompt -----------------------------------------------------------------------------------

_FENCE_BREAKERS = re.compile(r"</?passages>|<\|[^|>]{1,40}\|>|<\/?s>", re.IGNORECASE)


_INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.!?]{0,40}\b(?:instructions?|prompts?|rules)\b"
    r"|\byou are now\b|\b(?:system|assistant)\s*prompt\b",
    re.IGNORECASE,
)


def _evidence_text(text: str) -> str:
    """Passage text that may support an answer: instruction-like sentences never count as evidence."""
    return " ".join(s for s in _chunk_sentences(text) if not _INSTRUCTION_LIKE.search(s))


def _defang(text: str) -> str:
    """Remove what could close our data fence or fake a chat-template turn inside passage text."""
    return _FENCE_BREAKERS.sub(" ", text)


def excerpt(chunk: Chunk, query_terms: set[str], max_chars: int) -> str:
    """The chunk itself when it fits; else its sentences most relevant to the query, in order."""
    text = " ".join(chunk.text.split())
    if len(text) <= max_chars:
        return text
    sentences = _chunk_sentences(chunk.text)
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(terms(sentences[i]) & query_terms), i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if used + len(sentences[i]) > max_chars and chosen:
            continue
        chosen.append(i)
        used += len(sentences[i]) + 1
        if used >= max_chars:
            break
    out, last = [], -2
    for i in sorted(chosen):
        out.append(("… " if last >= 0 and i != last + 1 else "") + sentences[i][:max_chars])
        last = i
    return " ".join(out)


def passage_label(chunk: Chunk) -> str:
    """'BIRD 2.0 User's Guide, p. 18, Remote control' — how a passage is named to the model."""
    parts = [scope_label(chunk)]
    if chunk.pages_text():
        parts.append(chunk.pages_text())
    if chunk.heading:
        parts.append(chunk.heading[-1])
    return ", ".join(parts)


def build_context(chunks: Sequence[Chunk], query: str, budget_tokens: int) -> list[tuple[Chunk, str]]:
    """The chunks shown to the model, each cut to its share of the backend's budget."""
    budget = max(budget_tokens, 100) * CHARS_PER_TOKEN
    count = max(1, min(len(chunks), MAX_CONTEXT_CHUNKS, budget // 450))
    per_chunk = budget // count
    q_terms = terms(query)
    return [(c, _defang(excerpt(c, q_terms, per_chunk))) for c in chunks[:count]]


def render_messages(question: str, context: Sequence[tuple[Chunk, str]], scope_note: str) -> list[dict[str, str]]:
    blocks = "\n\n".join(f"[{i}] {passage_label(c)}:\n{text}" for i, (c, text) in enumerate(context, 1))
    return [
        {"role": "system", "content": prompts.render("system")},
        {"role": "user", "content": prompts.render("answer", passages=blocks, scope=scope_note, question=question)},
    ]


# --- citation attribution -------------------------------------------------------------------------


@dataclass
class Attribution:
    answer: str
    citations: list[Chunk]
    dropped: list[str] = field(default_factory=list)


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


def attribute(
    text: str,
    context: Sequence[Chunk],
    *,
    labels: Iterable[str] = (),
    min_support: float = 0.5,
    hinted_support: float = 0.34,
    max_per_sentence: int = 2,
) -> Attribution:
    """Tie each sentence of `text` to the context chunks that support it; renumber; drop the rest.

    `context[i]` is what the model saw as [i+1]. A marker is a hint that lowers the bar for the chunk
    it names; a marker naming no chunk is ignored. Small models loop and wander: a sentence that
    repeats itself or asks a question is dropped, one that restates a kept sentence is left out, and
    so is a closing lead-in ("use the following command:") whose sequel did not survive.
    """
    for label in labels:  # small models echo the passage headers back
        text = text.replace(f"{label}:", " ").replace(label, " ")
    text = _FENCE_BREAKERS.sub(" ", text)  # ... and the fence tags
    evidence = [_evidence_text(c.text) for c in context]
    chunk_terms = [terms(t) for t in evidence]
    chunk_texts = [t.lower() for t in evidence]
    kept: list[tuple[str, list[int]]] = []  # (sentence, indexes of the context chunks it rests on)
    dropped: list[str] = []
    seen: set[str] = set()
    kept_terms: list[set[str]] = []
    for sentence in split_sentences(text):
        hints = {int(n) for n in _MARKER.findall(sentence)}
        clean = " ".join(_MARKER.sub(" ", sentence).split())
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
        chosen = [i for i in ranked if scores[i] >= min_support][:1]
        chosen += [i for i in ranked if (i + 1) in hints and scores[i] >= hinted_support and i not in chosen]
        if chosen and len(chosen) < max_per_sentence:  # a second chunk that supports it about as well
            chosen += [i for i in ranked if i not in chosen and scores[i] >= max(min_support, scores[chosen[0]] - 0.1)]
        chosen = chosen[:max_per_sentence]
        if not chosen:
            dropped.append(clean)
            continue
        kept_terms.append(s_terms)
        kept.append((clean, chosen))
    while kept and kept[-1][0].endswith(":"):  # "use the following command:" with nothing after it
        dropped.append(kept.pop()[0])
    order: dict[str, int] = {}
    cited: list[Chunk] = []
    out: list[str] = []
    for clean, chosen in kept:
        numbers = []
        for i in chosen:
            cid = context[i].chunk_id
            if cid not in order:
                order[cid] = len(cited) + 1
                cited.append(context[i])
            numbers.append(order[cid])
        marks = "".join(f"[{n}]" for n in sorted(set(numbers)))
        body, end = (clean[:-1], clean[-1]) if clean[-1] in ".!" else (clean, ".")
        out.append(f"{body.rstrip()} {marks}{end}")
    return Attribution(" ".join(out), cited, dropped)


def _same_words(a: str, b: str) -> bool:
    """One sentence holds the other word for word (overlapping chunks cut sentences differently)."""
    x, y = " ".join(tokens(a)), " ".join(tokens(b))
    return x in y or y in x


def extractive_answer(query: str, chunks: Sequence[Chunk], max_sentences: int = 3) -> Attribution:
    """The passages' own most relevant sentences, cited: the answer without (or despite) a model.

    One sentence per chunk, best chunks first; a later chunk is used only if its sentence matches
    the query about as well as the first (at least half as many shared terms).
    """
    q_terms = terms(query)
    picked: list[tuple[Chunk, str]] = []
    said: list[str] = []  # consecutive chunks overlap: the same sentence is quoted once
    first_overlap = 0
    for chunk in chunks[:max_sentences]:
        sentences = [
            s for s in _chunk_sentences(chunk.text, max_len=320, quoting=True)
            if len(tokens(s)) >= MIN_QUOTED_WORDS and not _INSTRUCTION_LIKE.search(s)
            and not any(_same_words(s, earlier) for earlier in said)
        ]
        if not sentences:
            continue
        overlaps = [len(terms(s) & q_terms) for s in sentences]
        best = max(range(len(sentences)), key=lambda i: (overlaps[i], -i))
        if not picked:
            first_overlap = overlaps[best]
        elif overlaps[best] == 0 or overlaps[best] * 2 < first_overlap:
            continue
        picked.append((chunk, sentences[best]))
        said.append(sentences[best])
    lines = [f"{s.rstrip('.')} [{n}]." for n, (_, s) in enumerate(picked, 1)]
    return Attribution(" ".join(lines), [c for c, _ in picked])


# --- the pipeline ---------------------------------------------------------------------------------


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
) -> Iterator[AnswerEvent]:
    """Answer `question` from the library, yielding Retrieved, then Delta*, then one Final."""
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
    yield Retrieved(query, list(chunks))

    # (c) does the library hold an answer?
    verdict = assess(query, chunks, policy or GroundingPolicy())
    if not verdict.answerable:
        closest = list((chunks or first_found)[:3])
        yield finish(
            query=query, answer=_decline_text(scope, closest), declined=True, passages=closest, scope=scope,
            note=f"Declined: {verdict.reason}.",
        )
        return

    if llm is None:
        fallback = extractive_answer(query, chunks)
        yield finish(
            query=query, answer=_state_version(fallback.answer, fallback.citations, chunks, version_asked),
            citations=fallback.citations, passages=list(chunks[:3]), scope=scope,
            note="Retrieval-only mode (no language model configured): these are the passages' own words.",
        )
        return

    # (d) prompt the model with fenced, numbered excerpts
    context = build_context(chunks, query, llm.prompt_budget)
    scope_note = ""
    if version_asked:
        scope_note = f"The question is about {scope}; answer for that version.\n"
    messages = render_messages(query, context, scope_note)

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
    result = attribute(raw, shown, labels=[passage_label(c) for c in shown]) if raw.strip() else Attribution("", [])
    passages: list[Chunk] = []
    if not result.citations:
        dropped = result.dropped
        result = extractive_answer(query, chunks)
        result.dropped = dropped
        passages = list(chunks[:3])
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
    keys = [" ".join(_MARKER.sub(" ", s).lower().split()).strip(" .") for s in sentences]
    keys = [k for k in keys if k]
    return len(set(keys)) < len(keys)


def answer(question: str, **kwargs: Any) -> AnswerResult:
    """`stream_answer` run to the end (CLI, REST)."""
    for event in stream_answer(question, **kwargs):
        if isinstance(event, Final):
            return event.result
    raise RuntimeError("stream_answer ended without a result")  # pragma: no cover - a bug if reached


async def astream_answer(question: str, **kwargs: Any) -> AsyncIterator[AnswerEvent]:
    """`stream_answer` for async callers (Chainlit, FastAPI): the blocking work runs in a thread.

    Leaving the loop early (client gone) stops generation at the next token.
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[AnswerEvent | BaseException | None] = asyncio.Queue()
    stop = threading.Event()

    def put(item: AnswerEvent | BaseException | None) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def pump() -> None:
        gen = stream_answer(question, **kwargs)
        try:
            for event in gen:
                put(event)
                if stop.is_set():
                    break
        except Exception as exc:  # re-raised in the caller's task below
            put(exc)
        finally:
            gen.close()
            put(None)

    threading.Thread(target=pump, name="mcdewey-answer", daemon=True).start()
    try:
        while (item := await events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
