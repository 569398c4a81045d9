"""What the answer pipeline gives its callers: the result every surface renders, and the events of a stream.

Takes nothing; gives `AnswerResult` (answer text with [n] markers, the cited chunks, decline, note,
timings), the stream events `Retrieved` → `Delta`* → `Final`, and `Attribution` (an answer text
tied to its chunks, as the citation stage produces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from indexing.chunk import Chunk


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


@dataclass
class Attribution:
    answer: str
    citations: list[Chunk]
    dropped: list[str] = field(default_factory=list)

