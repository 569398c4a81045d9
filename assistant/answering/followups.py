"""Follow-ups: a question that leans on the previous turn becomes a standalone search query.

Takes the question, the earlier turns and optionally the model; gives the query to search. The model's
rewrite is accepted only when it keeps the follow-up's own words and brings in the earlier subject;
otherwise the previous question is carried over (with a version the follow-up names swapped in).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant import prompts
from assistant.answering.text import STOP_WORDS, terms
from assistant.llm import ChatLLM, LLMError

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
FOLLOWUP_OWN_WORDS = 2  # a follow-up with this many content words of its own asks something new


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


# Words that say what to do rather than what it is about: a follow-up brings its own ("turn it off").
_ACTIONS = frozenset(
    """add change check configure create disable do enable find get give happen happens install keep let
    make mean means need put raise remove run see set show start stop switch tell turn undo use work""".split()
)


def _subject(previous: str, question: str) -> str:
    """What the previous question is about, without what it asked: its names, versions and nouns, less
    its verbs and the words the follow-up already has ("How do I enable TLS in Postfix?" → "TLS Postfix")."""
    own = terms(question)
    words = re.findall(r"[A-Za-z0-9][\w.+-]*[\w+]|[A-Za-z0-9]", previous)
    keep = [w for w in words if w.lower() not in STOP_WORDS and w.lower() not in _ACTIONS and not terms(w) <= own]
    return " ".join(dict.fromkeys(keep))


def _own_words(question: str) -> set[str]:
    """The follow-up's content words, less versions: what it asks that the first turn did not."""
    return {t for t in terms(question) if not re.fullmatch(_VERSION, t)}


def condense(question: str, history: Sequence[dict[str, str]], llm: ChatLLM | None = None) -> str:
    """A standalone search query for `question`.

    Without a model (or when its rewrite looks wrong): a follow-up that asks something of its own
    ("Can I do that for just one table?") is searched with its own words plus what the previous
    question was about (its names and nouns), so retrieval finds the new answer, not the first one
    again; one that only moves the first question ("And in 2.0?", "What's its default?") gets the
    previous question, with a version it names swapped in.
    """
    question = question.strip()
    previous = _previous_question(history)
    if not previous or not needs_context(question, history):
        return question
    moved = _carry_over(previous, question)
    if len(_own_words(question)) >= FOLLOWUP_OWN_WORDS:
        fallback = f"{question} {_subject(moved.removesuffix(question).strip(), question)}".strip()
    else:
        fallback = moved
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

