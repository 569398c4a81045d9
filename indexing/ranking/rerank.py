"""An optional cross-encoder stage: it re-orders the first N fused candidates by its own scores.

Takes a loaded cross-encoder (`indexing.ranking.cross_encoder`) and N; gives the `Rerank` stage. Off
unless `MCDEWEY_RERANK` names a model: no cross-encoder ships its weights inside an installable
package, and peers report cross-encoders neutral-to-negative on technical documentation (README,
"Ranking stages and the reranker").
"""

from __future__ import annotations

import threading

import numpy as np

from indexing.chunk_vectors import embed_text
from indexing.ranking.cross_encoder import MAX_RERANK_DEPTH, RERANK_DEPTH, PairScorer, RerankerUnavailable
from indexing.ranking.state import RankingState


class Rerank:
    """The first `depth` chunks of the order, re-ordered by a cross-encoder's score of (question,
    chunk text as embedded: title and heading trail, then the text), all pairs in one batch; the rest
    keeps the fused order.

    The scores users see keep reading top-down: the re-ordered chunks take the head's scores in the
    order they had (the first gets the head's best, and so on), so a score still says how well a
    place ranks in fusion's scale, and the cross-encoder's own scores, which have no common scale
    across models, are not shown. Its cost per search is measured by `mcdewey bench` (README, "Ranking
    stages and the reranker"): about a linear cost in `depth`, paid on every search of every mode.
    """

    name = "rerank"

    def __init__(self, model: PairScorer, depth: int = RERANK_DEPTH, label: str = "") -> None:
        if not 1 <= depth <= MAX_RERANK_DEPTH:
            raise RerankerUnavailable(f"the depth must be between 1 and {MAX_RERANK_DEPTH}, not {depth}")
        self.model, self.depth, self.label = model, depth, label
        self._lock = threading.Lock()  # one batch at a time: a batch already uses every core

    def scores(self, query: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's score of each (query, text) pair, in one batch."""
        with self._lock:
            out = self.model.predict([(query, t) for t in texts], batch_size=len(texts), show_progress_bar=False)
        return np.asarray(out, dtype=np.float64).reshape(len(texts))

    def apply(self, state: RankingState) -> None:
        head = state.order[: self.depth]
        chunks = state.records(head)
        kept = [c for c in head if c in chunks]  # a hit without a catalog row has no text to score
        if len(kept) < 2:
            return
        scores = self.scores(state.query, [embed_text(chunks[c]) for c in kept])
        ranked = [kept[i] for i in np.argsort(-scores, kind="stable")]
        moved = ranked + [c for c in head if c not in chunks]
        slots = sorted((state.fused[c] for c in head), reverse=True)
        state.fused.update(zip(moved, slots, strict=True))
        state.order = moved + state.order[self.depth :]
