"""The extractive answer: the passages' own sentences that answer the question, cited.

Takes the query and the retrieved chunks (best first), optionally the embedding model's cosine and a
way to read the chunk that follows one; gives an `Attribution`. It is the answer without a model,
and the answer when nothing a model wrote can be verified, so it must be worth reading on its own:

- the sentences are chosen for the question (its words, and its meaning when `similarity` is given),
  not the chunk's first lines;
- the best sentence keeps its neighbour when that neighbour adds a word of the question ("The default
  value is 5." after the sentence that defines the setting), in document order;
- a lead-in that ends with a colon keeps what follows (the command, the list, the code block), with
  its line breaks, read from the next chunk when the chunk ends there;
- a later chunk adds one sentence only when it matches the question about as well as the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.answering.context import INSTRUCTION_LIKE
from assistant.answering.results import Attribution
from assistant.answering.text import MIN_QUOTED_WORDS, chunk_sentences, terms, tokens
from assistant.answering.verify import Similarity
from indexing.chunk import Chunk

Following = Callable[[Chunk], Chunk | None]
"""The chunk after this one in its document, or None."""

MAX_CHUNKS = 3
PAYOFF_CHARS = 400  # what a lead-in ("run the following command:") may bring along
PAYOFF_LINES = 8


def _same_words(a: str, b: str) -> bool:
    """One sentence holds the other word for word (overlapping chunks cut sentences differently)."""
    x, y = " ".join(tokens(a)), " ".join(tokens(b))
    return x in y or y in x


def _quotable(chunk: Chunk, said: Sequence[str]) -> list[str]:
    return [
        s for s in chunk_sentences(chunk.text, max_len=320, quoting=True)
        if len(tokens(s)) >= MIN_QUOTED_WORDS and not INSTRUCTION_LIKE.search(s)
        and not any(_same_words(s, earlier) for earlier in said)
    ]


def _scores(query: str, sentences: list[str], similarity: Similarity | None) -> list[float]:
    """Shared question words, plus the cosine to the question (a paraphrase shares few words)."""
    q_terms = terms(query)
    overlap = [len(terms(s) & q_terms) for s in sentences]
    if similarity is None or not sentences:
        return [float(o) for o in overlap]
    cosines = similarity(query, sentences)
    return [o + 2.0 * c for o, c in zip(overlap, cosines, strict=True)]


def payoff(chunk: Chunk, lead_in: str, following: Following | None) -> str:
    """What a lead-in ending in ':' introduces: the lines after it, kept as lines, up to a blank line."""
    words = tokens(lead_in)[-4:]
    if not words:
        return ""
    pattern = r"[\W_]+".join(re.escape(w) for w in words) + r"\W*:"
    found = next(reversed(list(re.finditer(pattern, chunk.text, re.IGNORECASE))), None)  # the last one
    rest = chunk.text[found.end():] if found else ""
    if not rest.strip() and following is not None:
        after = following(chunk)
        rest = after.text if after is not None else ""
    lines: list[str] = []
    for line in rest.strip("\n").splitlines():
        if not line.strip() and lines:
            break
        if line.strip():
            lines.append(line.rstrip())
        if len(lines) >= PAYOFF_LINES or sum(map(len, lines)) >= PAYOFF_CHARS:
            break
    return "\n".join(lines)


def extractive_answer(
    query: str, chunks: Sequence[Chunk], *, similarity: Similarity | None = None,
    following: Following | None = None, max_chunks: int = MAX_CHUNKS,
) -> Attribution:
    """The passages' own most relevant sentences, cited: the answer without (or despite) a model."""
    q_terms = terms(query)
    picked: list[tuple[Chunk, str]] = []
    said: list[str] = []  # consecutive chunks overlap: the same sentence is quoted once
    first_score = 0.0
    for chunk in chunks[:max_chunks]:
        sentences = _quotable(chunk, said)
        if not sentences:
            continue
        scores = _scores(query, sentences, similarity)
        best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
        overlap = len(terms(sentences[best]) & q_terms)
        if not picked:
            first_score = scores[best]
            span = [best]
            after = best + 1
            if after < len(sentences) and (terms(sentences[after]) & q_terms) - terms(sentences[best]):
                span.append(after)  # the neighbour adds a word of the question: the answer goes on
            text = " ".join(sentences[i] for i in span)
        elif overlap == 0 or scores[best] * 2 < first_score:
            continue
        else:
            text = sentences[best]
        if text.endswith(":"):
            more = payoff(chunk, text, following)
            if not more:
                continue  # a lead-in without what it leads to says nothing
            text = f"{text}\n{more}"
        picked.append((chunk, text))
        said.append(text)
    lines = [_cite(text, n) for n, (_, text) in enumerate(picked, 1)]
    return Attribution(" ".join(lines), [c for c, _ in picked])


def _cite(text: str, n: int) -> str:
    """'Sentence [n].' — or, after a block of lines (a command), the marker on a line of its own."""
    if "\n" in text:
        return f"{text}\n[{n}]\n"
    return f"{text.rstrip('.')} [{n}]."
