"""The extractive answer: the manual's own words that answer the question, quoted with their source.

Takes the query and the retrieved chunks (best first), optionally the embedding model's cosine and a
way to read the chunk that follows one; gives an `Attribution` whose text is a short quotation:

    From the HAProxy Configuration Manual (2.6), tune.bufsize <number>:
    > Sets the buffer size to this size (in bytes). … The default value is 16384 and can be changed at build time [1].

It is the default answer (no model) and the answer when nothing a model wrote can be verified, so it
is chosen the way a reader finds an answer (`pick`):

- each sentence is read in its section (`segments`): the question's topic may be met by the heading
  trail or the label above the sentence, and then only the question's *other* words — what it asks —
  count for the sentence itself ("the default value" of tune.bufsize, not another sentence that names
  tune.bufsize again);
- the kind of answer asked (`asks`: a value, a procedure, a definition, a cause, yes/no) adds its cue:
  a number for a value, a command or a lead-in for a procedure, the opening of the section for a
  definition;
- the best sentence over the first passages wins (their retrieval rank is a prior), and the excerpt is
  that sentence with the neighbours it needs, inside its section: the one before when it leans on it
  ("It", "The default"), the one after when it carries on the ask, what a lead-in ending in ":" brings
  (the command, with its line breaks, read from the next chunk when the chunk ends there);
- up to two more excerpts follow when passages of the same manual score nearly as well (`SECOND_SHARE`),
  each under its own source line, the whole answer within `MAX_ANSWER_WORDS`;
- a passage far from the question in meaning is never quoted (`MIN_SIMILARITY`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering.asks import Ask, read_question
from assistant.answering.citations import cite
from assistant.answering.context import INSTRUCTION_LIKE
from assistant.answering.grounding import key_terms, mentions
from assistant.answering.results import Attribution
from assistant.answering.scope import product_aliases, scope_label
from assistant.answering.segments import Segment, read_passage
from assistant.answering.text import MIN_QUOTED_WORDS, STOP_WORDS, terms, tokens
from assistant.answering.verify import Similarity
from indexing.chunk import Chunk

Following = Callable[[Chunk], Chunk | None]
"""The chunk after this one in its document, or None."""

MAX_TRIED = 12  # sentences tried in turn (a lead-in whose command cannot be found, a second excerpt)
MAX_EXCERPTS = 3
REPEATED_SHARE = 0.8  # a sentence with this share of its words already quoted is not quoted again
# Sentences whose meaning is compared with the question (the embedding model's cost, ~5 ms a sentence
# here): the best by words; a sentence outside them cannot outscore them by meaning alone.
MAX_ENCODED = 16
SECOND_SHARE = 0.6  # see W_RANK; one excerpt alone held the evidence for 7 of 50 tuning questions
# The whole answer, source lines and markers included: 1.4 times the median answer before quotations
# (94-105 words on the dev, held-out and validation sets), so no answer is longer than 1.5 times it.
MAX_ANSWER_WORDS = 140
MAX_CHUNKS = 5  # passages whose sentences compete (hit@5 is where retrieval finds most answers)
MIN_PROSE = 0.6  # share of a sentence's tokens that are words: below it is a listing, not a sentence
MIN_FUNCTION_WORDS = 0.12  # a sentence has "the", "is", "to"…; an index of names run together has none
MAX_EXCERPT_WORDS = 90  # the excerpt's prose; the best sentence alone may be longer
PAYOFF_CHARS = 400  # what a lead-in ("run the following command:") may bring along
PAYOFF_LINES = 8
# A passage this far from the question in meaning (cosine under all-MiniLM-L6-v2) is not quoted: an
# unrelated manual's sentence sharing one word answered "not in the library" questions at 0.07.
MIN_SIMILARITY = 0.2
_LEANS_BACK = re.compile(r"^(?:it|its|this|that|these|those|they|their|such|otherwise|however|also|"
                         r"in this case|for example|then)\b", re.I)
# A number standing alone ("16384", "(88)", "128MB", "1.5"; not the 5 of "krb5kdc"), or a quoted value.
_VALUE = re.compile(r"(?<![\w.])\d[\d.,]*[A-Za-z]{0,3}(?!\w)|\"[^\"]+\"|`[^`]+`")
_NAMES = re.compile(r"(?<![\w.-])[a-z][\w-]*[._][a-z0-9][\w.-]*[a-z0-9]")  # tune.bufsize, max_wal_senders
_COMMANDISH = re.compile(r"`[^`]+`|(?<![\w-])--?[A-Za-z][\w-]*|\b[a-z][\w.-]*\s+<[^>]+>|\$\(|\b\w+_\w+\b")


@dataclass(frozen=True)
class Candidate:
    chunk: Chunk
    rank: int
    segments: list[Segment]
    index: int  # of the sentence in `segments`
    score: float


def _prose(sentence: str) -> bool:
    words = tokens(sentence)
    return sum(w.isalpha() and len(w) > 1 for w in words) >= MIN_PROSE * len(words)


def _quotable(segment: Segment) -> bool:
    words = tokens(segment.text)
    return (segment.kind == "sentence" and len(words) >= MIN_QUOTED_WORDS and _prose(segment.text)
            and sum(w in STOP_WORDS for w in words) >= MIN_FUNCTION_WORDS * len(words)  # not a list of names
            and not INSTRUCTION_LIKE.search(segment.text))


def _whole(segments: list[Segment]) -> list[Segment]:
    """Without the pieces a chunk boundary cut: a first sentence that starts in lower case, a last
    one that ends without an end mark."""
    out = list(segments)
    if out and out[0].kind == "sentence" and re.match(r"[a-z]+[ ,;.]", out[0].text):
        out = out[1:]
    if out and out[-1].kind == "sentence" and not re.search(r"[.!?:;)\]\"'`]$", out[-1].text):
        out = out[:-1]
    return [Segment(s.kind, s.text, s.context, i) for i, s in enumerate(out)]


def _cue(ask: Ask, segments: list[Segment], i: int, s_terms: set[str]) -> float:
    """How much sentence i looks like the kind of answer asked, 0–1."""
    text = segments[i].text
    follows = segments[i + 1] if i + 1 < len(segments) else None
    score = 0.3 if s_terms & ask.cues else 0.0
    if ask.kind == "value":  # a number or a quoted value; "defaults to", "the default is" a little less
        score += 0.7 if _VALUE.search(text) else (
            0.4 if re.search(r"\bdefaults? (?:is|to|value|setting)\b", text, re.I) else 0.0)
    elif ask.kind == "procedure":
        lead_in = text.rstrip().endswith(":") and follows is not None and follows.kind == "code"
        score += 0.7 if lead_in or _COMMANDISH.search(text) else 0.0
    elif ask.kind == "definition":
        opening = i == 0 or segments[i - 1].kind == "label"
        score += 0.7 if opening else 0.0
    elif ask.kind == "yesno":
        score += 0.7 if re.search(r"\b(?:can|cannot|can't|not|only|must|supported|possible)\b", text, re.I) else 0.0
    return min(score, 1.0)


# Weights of the sentence score, chosen on tests/eval/tune.jsonl and the dev set only (README, "The chat and
# its language model"); held-out, validation and the read-through set were measured once, afterwards.
W_ASKED = 3.0  # the question's words the sentence says that its section does not already say
W_TOPIC = 1.0  # share of the question's words met by the sentence or its section
W_CUE = 1.0
W_COSINE = 2.0
SECTION_SAID = 0.25  # a question word the sentence repeats from its own heading counts a quarter
W_SECTION = 1.0  # the section is about a name the question gives (tune.bufsize): its sentences first
# Retrieval's order, divided by the rank. Measured together with SECOND_SHARE and MAX_EXCERPTS: rank 0.6, two
# excerpts at 0.8 held the evidence for 17 of 50 tuning questions; rank 1.2, three at 0.6: 23 (dev 11 -> 17).
W_RANK = 1.2


def ranked(query: str, chunks: Sequence[Chunk], similarity: Similarity | None = None,
           max_chunks: int = MAX_CHUNKS) -> list[Candidate]:
    """The sentences of the first passages, best answer to `query` first, each with its passage."""
    ask = read_question(query)
    aliases = terms(" ".join({a for c in chunks for a in product_aliases(c)})) | {c.version.lower() for c in chunks}
    asked = {t for t in ask.terms if t not in aliases} or set(ask.terms)
    keys = [k for k in dict.fromkeys([*key_terms(query), *_NAMES.findall(query.lower())]) if k not in aliases]
    pool: list[tuple[Chunk, int, list[Segment], int, float]] = []
    for rank, chunk in enumerate(chunks[:max_chunks]):
        if chunk.similarity is not None and chunk.similarity < MIN_SIMILARITY:
            continue
        segments = _whole(read_passage(chunk))
        for i, seg in enumerate(segments):
            if not _quotable(seg):
                continue
            s_terms = terms(seg.text)
            section = terms(" ".join(seg.context))
            rest = asked - section  # what the question asks beyond what the section is about
            # The question's words the sentence says; those its section already says count a quarter.
            said = (len(rest & s_terms) + SECTION_SAID * len(asked & section & s_terms)) / len(asked) if asked else 0.0
            topic = len(asked & (s_terms | section)) / len(asked) if asked else 0.0
            heading = " ".join(seg.context).lower()
            about = W_SECTION if keys and any(mentions(heading, k) for k in keys) else 0.0
            base = (W_ASKED * said + W_TOPIC * topic + W_CUE * _cue(ask, segments, i, s_terms)
                    + W_RANK / (rank + 1) + about)
            pool.append((chunk, rank, segments, i, base))
    if not pool:
        return []
    if similarity is not None:  # the meaning, for the sentences the words put in contention
        pool.sort(key=lambda p: -p[4])
        pool = pool[:MAX_ENCODED]
        texts = [f"{seg[2][seg[3]].context[-1]}: {seg[2][seg[3]].text}" if seg[2][seg[3]].context
                 else seg[2][seg[3]].text for seg in pool]
        cosines = similarity(query, texts)
        pool = [(c, r, s, i, b + W_COSINE * cos) for (c, r, s, i, b), cos in zip(pool, cosines, strict=True)]
    pool.sort(key=lambda p: (-p[4], p[1], p[3]))
    return [Candidate(chunk, rank, segments, i, score) for chunk, rank, segments, i, score in pool]


def excerpt(best: Candidate, query: str) -> tuple[list[Segment], str]:
    """The best sentence and the neighbours it needs, inside its section; and the code it leads to."""
    segments, i = best.segments, best.index
    asked = terms(query)
    span = [i]
    words = len(segments[i].text.split())

    def fits(j: int) -> bool:
        return (0 <= j < len(segments) and segments[j].kind == "sentence"
                and segments[j].context == segments[i].context
                and words + len(segments[j].text.split()) <= MAX_EXCERPT_WORDS)

    rest = asked - terms(" ".join(segments[i].context))
    if fits(i - 1) and (_LEANS_BACK.match(segments[i].text) or terms(segments[i - 1].text) & rest):
        span.insert(0, i - 1)  # the sentence it leans on, or the one before that carries the ask too
        words += len(segments[i - 1].text.split())
    if fits(i + 1) and (terms(segments[i + 1].text) & rest or _LEANS_BACK.match(segments[i + 1].text)):
        span.append(i + 1)  # the next sentence when it carries on what was asked
    code = ""
    last = segments[span[-1]]
    if last.text.rstrip().endswith(":") and span[-1] + 1 < len(segments) and segments[span[-1] + 1].kind == "code":
        code = _trim_code(segments[span[-1] + 1].text)
    return [segments[k] for k in span], code


def _trim_code(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines():
        lines.append(line.rstrip())
        if len(lines) >= PAYOFF_LINES or sum(map(len, lines)) >= PAYOFF_CHARS:
            break
    return "\n".join(lines)


def payoff(chunk: Chunk, following: Following | None) -> tuple[str, Chunk]:
    """What a lead-in at the end of `chunk` introduces, read from the next chunk: its lines up to a
    blank line, kept as lines, and that chunk."""
    after = following(chunk) if following is not None else None
    if after is None:
        return "", chunk
    lines: list[str] = []
    for line in after.text.strip("\n").splitlines():
        if not line.strip() and lines:
            break
        if line.strip():
            lines.append(line.rstrip())
        if len(lines) >= PAYOFF_LINES or sum(map(len, lines)) >= PAYOFF_CHARS:
            break
    return _trim_code("\n".join(lines)), after


def source_line(chunk: Chunk, context: Sequence[str]) -> str:
    """'From the HAProxy Configuration Manual (2.6), tune.bufsize <number>:' — where the quote stands."""
    label = scope_label(chunk)
    section = context[-1] if context else ""
    title = label if label.lower().startswith("the ") else f"the {label}"
    if not section or section.lower() in label.lower():
        return f"From {title}:"
    return f"From {title}, `{section}`:" if _COMMANDISH.search(section) else f"From {title}, {section}:"


SOURCE_LINE = re.compile(r"^From (?:the )?[^\n]{1,400}:\n", re.M)
"""The source line that opens a quotation (not a claim: the answer audit skips it)."""


_ABBREVIATION = re.compile(r"(?:e\.g|i\.e|etc|vs|cf)\.?|\d+(?:\.\d+)*", re.I)


def as_code(text: str) -> str:
    """Principals, addresses and identifiers (`user@REALM`, `tune.bufsize`, `max_wal_senders`) shown as
    code, so a Markdown renderer never turns them into links McDewey did not mean."""

    def wrap(match: re.Match[str]) -> str:
        lead, word, tail = match.group(1), match.group(2), match.group(3)
        identifier = "@" in word or "_" in word.strip("_") or re.search(r"[A-Za-z]\.[A-Za-z]", word)
        if not identifier or "`" in word or "://" in word or _ABBREVIATION.fullmatch(word):
            return match.group(0)
        return f"{lead}`{word}`{tail}"

    return re.sub(r"(?<!\S)([(\"']?)(\S*?\w)([)\"',.;:!?]*)(?!\S)", wrap, text)


def _said(text: str, quoted: str) -> bool:
    """Most of `text`'s words are already quoted (overlapping chunks cut the same sentence differently)."""
    words = tokens(text)
    quoted_words = set(tokens(quoted))
    return bool(words) and sum(w in quoted_words for w in words) >= REPEATED_SHARE * len(words)


def extractive_answer(
    query: str, chunks: Sequence[Chunk], *, similarity: Similarity | None = None,
    following: Following | None = None, max_chunks: int = MAX_CHUNKS,
) -> Attribution:
    """A short quotation of the passage that answers `query`, cited, and a second excerpt when another
    passage of the same manual answers nearly as well; empty when no passage may be quoted."""
    cited: list[Chunk] = []
    parts: list[str] = []
    quoted: list[tuple[Candidate, list[Segment]]] = []
    words = 0
    candidates = ranked(query, chunks, similarity, max_chunks)
    for best in candidates[:MAX_TRIED]:
        if quoted:
            first = quoted[0][0]
            if (best.score < SECOND_SHARE * first.score or len(quoted) >= MAX_EXCERPTS
                    or (best.chunk.product, best.chunk.version) != (first.chunk.product, first.chunk.version)
                    or any(_said(best.segments[best.index].text, " ".join(x.text for x in sp))
                           for _, sp in quoted)):
                continue
        span, code = excerpt(best, query)
        said = " ".join(x.text for _, sp in quoted for x in sp)
        span = [x for x in span if x is best.segments[best.index] or not _said(x.text, said)]
        marks = f"[{cite(cited, best.chunk.cited_at(span[0].text))}]"
        if span[-1].text.rstrip().endswith(":") and not code:
            code, source = payoff(best.chunk, following)
            if code and source is not best.chunk:
                marks += f"[{cite(cited, source)}]"
            if not code and len(span) > 1:  # a lead-in without what it leads to says nothing
                span = span[:-1]
            elif not code:
                continue  # ... nor does a lead-in alone: the next best sentence answers
        same_section = bool(quoted) and quoted[-1][1][0].context == span[0].context \
            and quoted[-1][0].chunk.source == best.chunk.source
        part = _render(best, span, code, marks, with_source=not same_section)
        while len(span) > 1 and words + len(part.split()) > MAX_ANSWER_WORDS:  # the neighbours go first
            span = span[1:] if span[0] is not best.segments[best.index] else span[:-1]
            part = _render(best, span, code, marks, with_source=not same_section)
        if quoted and words + len(part.split()) > MAX_ANSWER_WORDS:
            continue
        words += len(part.split())
        parts.append(part)
        quoted.append((best, span))
    return Attribution("\n".join(parts), cited)


def _render(best: Candidate, span: list[Segment], code: str, marks: str, with_source: bool = True) -> str:
    quote = " ".join(s.text for s in span)
    body = f"> {as_code(quote.rstrip('.').rstrip())} {marks}."
    if quote.rstrip().endswith(":") and code:
        body = f"> {as_code(quote.rstrip())} {marks}\n\n```\n{code}\n```"
    return f"{source_line(best.chunk, span[0].context)}\n{body}" if with_source else f">\n{body}"
