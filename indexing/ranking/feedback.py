"""Pseudo-relevance feedback (Rocchio) for the dense side of a hybrid search."""

from __future__ import annotations

import numpy as np

from indexing.ranking.fusion import by_score, fuse
from indexing.ranking.state import Hits, RankingState

FEEDBACK_CHUNKS = 3
FEEDBACK_WEIGHT = 0.3


class Feedback:
    """The query vector moves towards the first FEEDBACK_CHUNKS fused results, which BM25 made
    precise, and the candidates are ranked again by it; then the two rankings are fused again.

    Measured on shared/eval: MRR@10 0.716 → 0.757, the same for 3 or 5 feedback chunks and weights
    0.2–0.45. Only the candidates both searches found are re-scored (one read of their vectors, no
    second Chroma search): on shared/eval that ranked as well as searching the whole index again.
    Hybrid searches only, and only when both searches found something. Also fills `sims` with every
    candidate's cosine to the question itself.
    """

    name = "feedback"

    def apply(self, state: RankingState) -> None:
        if not (state.hybrid and state.vector is not None and state.keyword):
            return
        state.dense = self._moved(state, state.vector)
        state.fused = fuse(state.dense, state.keyword)
        state.order = by_score(state.fused)

    @staticmethod
    def _moved(state: RankingState, vector: np.ndarray) -> Hits:
        """Dense ranking of the candidates under a query moved towards the first fused results."""
        dense, keyword = state.dense, state.keyword
        candidates = list(dict.fromkeys([c for c, _ in dense] + [c for c, _ in keyword]))
        stored = state.index.store.vectors(candidates)
        first = [c for c in by_score(state.fused)[:FEEDBACK_CHUNKS] if c in stored]
        if not first:
            return dense
        ids = list(stored)
        matrix = np.stack([stored[c] for c in ids])
        state.sims.update(zip(ids, (matrix @ vector).tolist(), strict=True))
        moved = vector + FEEDBACK_WEIGHT * np.mean([stored[c] for c in first], axis=0)
        scores = matrix @ (moved / np.linalg.norm(moved))
        return [(ids[i], float(scores[i])) for i in np.argsort(-scores)[: len(dense) or len(ids)]]
