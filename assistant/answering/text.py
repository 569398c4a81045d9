"""Text analysis shared by the stages: word tokens, content terms, facts, sentence splitting.

Takes plain text (a question, a passage, a model's answer); gives tokens, stemmed content terms,
the numbers and identifiers a claim rests on, and sentences — for the model's excerpts as measured,
or for quoting, where headings and terms stay with the sentence they introduce.
"""

from __future__ import annotations

import re

from indexing.tokens import ANSWER_STOPWORDS as STOP_WORDS

_WORD = re.compile(r"[A-Za-z0-9%][A-Za-z0-9_%'.\-/]*")
MARKER = re.compile(r"\[(\d{1,3})\]")
# A sentence ends after . ! or ? and any closing quote or bracket, which stay with it ("(Integer.)").
_SENT_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\[\"'(A-Z0-9`])|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
)
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|cf|vs|approx|p|pp|no|fig|sec|ch)\.$", re.IGNORECASE)


def _normalize_word(word: str) -> str:
    """Crude stemming that is good enough for overlap: plural 's' off, long words cut to 6 letters.

    Four-letter plurals too ("ACLs", "jobs", "keys", "logs" met "ACL", "job", …): the extractive answer
    then held the gold evidence for 36 of 92 validation questions instead of 34 (dev 14/32 and held-out
    20/40 unchanged; the support set's precision and recall unchanged)."""
    if word.isalpha():
        if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
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
        if tok in STOP_WORDS:
            continue
        if len(tok) > 1 or tok.isdigit():
            out.add(_normalize_word(tok))
        if re.search(r"[_\-/.]", tok):
            for part in re.split(r"[_\-/.]+", tok):
                if len(part) > 2 and part not in STOP_WORDS:
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


def chunk_sentences(text: str, max_len: int = 400, quoting: bool = False) -> list[str]:
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

