"""The prompt: what the model is shown, as fenced, numbered data blocks.

Takes the retrieved chunks, the query and the model's budget; gives the excerpts (each chunk cut to
its sentences most relevant to the query) and the chat messages. Retrieved text is data, never
instructions: fence tags and chat-template tokens are removed from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant import prompts
from assistant.answering.scope import scope_label
from assistant.answering.text import chunk_sentences, terms
from indexing.chunk import Chunk

MAX_CONTEXT_CHUNKS = 8
CHARS_PER_TOKEN = 4  # rough, for budgeting excerpt sizes in English manuals


FENCE_BREAKERS = re.compile(r"</?passages>|<\|[^|>]{1,40}\|>|<\/?s>", re.IGNORECASE)


INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.!?]{0,40}\b(?:instructions?|prompts?|rules)\b"
    r"|\byou are now\b|\b(?:system|assistant)\s*prompt\b",
    re.IGNORECASE,
)


def evidence_text(text: str) -> str:
    """Passage text that may support an answer: instruction-like sentences never count as evidence."""
    return " ".join(s for s in chunk_sentences(text) if not INSTRUCTION_LIKE.search(s))


def _defang(text: str) -> str:
    """Remove what could close our data fence or fake a chat-template turn inside passage text."""
    return FENCE_BREAKERS.sub(" ", text)


def excerpt(chunk: Chunk, query_terms: set[str], max_chars: int) -> str:
    """The chunk itself when it fits; else its sentences most relevant to the query, in order."""
    text = " ".join(chunk.text.split())
    if len(text) <= max_chars:
        return text
    sentences = chunk_sentences(chunk.text)
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


def render_messages(question: str, context: Sequence[tuple[Chunk, str]], scope_note: str,
                    quoting: bool = False) -> list[dict[str, str]]:
    """The chat messages; `quoting` asks the model to end each sentence with its passage's own words
    (`prompts/system_quoted.md`), the second way its sentences can pass the check (`verbatim`)."""
    blocks = "\n\n".join(f"[{i}] {passage_label(c)}:\n{text}" for i, (c, text) in enumerate(context, 1))
    return [
        {"role": "system", "content": prompts.render("system_quoted" if quoting else "system")},
        {"role": "user", "content": prompts.render("answer", passages=blocks, scope=scope_note, question=question)},
    ]

