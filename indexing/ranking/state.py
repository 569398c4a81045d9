"""What ranking stages share: one search's candidates and their order, and the shape of a stage.

Takes the candidates `Retriever.search` gathered (its query, the query's vector, the dense and BM25
hits); gives `RankingState`, which each stage reads and changes in turn, and `Stage`, what a stage is
(a `name` and `apply(state)`). The stages run in a list (`indexing.ranking.default_stages`), so a new
one reaches every surface at once: search, MCP, REST, the web pages and the chat all rank through
`Retriever.search`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from indexing.chunk import Chunk
from indexing.index import Index

Hits = list[tuple[str, float]]
"""(chunk id, score) pairs, best first."""


@dataclass
class RankingState:
    """One search on its way through the stages.

    `asked_dense` is the dense search under the question itself and never changes; `dense` is the dense
    ranking the fusion uses (the feedback stage replaces it). `fused` holds each candidate's score and
    `order` the current order, best first: a stage that moves chunks keeps both so that the scores read
    top-down. `sims` is each candidate's cosine to the question. The last stage fills `results`.
    """

    index: Index
    query: str
    vector: np.ndarray | None
    mode: str
    filters: dict[str, str]
    top_k: int
    asked_dense: Hits
    keyword: Hits
    dense: Hits = field(default_factory=list)
    fused: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    sims: dict[str, float] = field(default_factory=dict)
    results: list[Chunk] = field(default_factory=list)
    _records: dict[str, Chunk] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.dense:
            self.dense = list(self.asked_dense)
        self.sims.update(self.asked_dense)

    @property
    def hybrid(self) -> bool:
        return self.mode == "hybrid"

    @property
    def closest(self) -> str | None:
        """The chunk closest in meaning to the question (the dense search's first), if dense ran."""
        return self.asked_dense[0][0] if self.asked_dense else None

    def records(self, ids: list[str]) -> dict[str, Chunk]:
        """The catalog's chunks for `ids` (read once per search: a reranker and the final scores share
        them); ids the catalog does not hold (an interrupted ingest) are absent."""
        todo = [c for c in ids if c not in self._records]
        if todo:
            self._records.update(self.index.catalog.get(todo))
        return {c: self._records[c] for c in ids if c in self._records}


class Stage(Protocol):
    """One ranking step: reads and changes the state; `name` says which in logs, tests and the bench."""

    name: str

    def apply(self, state: RankingState) -> None: ...
