"""The last stage: the first `top_k` chunks of the order, as records with the scores users see."""

from __future__ import annotations

import numpy as np

from indexing.ranking.fusion import DENSE_WEIGHT, KEYWORD_WEIGHT, RRF_K
from indexing.ranking.state import RankingState


class Scores:
    """The first `top_k` of the order as catalog records, each with `score` and `similarity`.

    `score` is the fused score over the best a chunk could have had (first in every ranking the mode
    ran), capped at 1, so 1.0 means "first everywhere" in every mode. `similarity` is the cosine to the
    question itself (also after feedback moved the vector), read from the stored vectors for chunks the
    dense search did not return; None in keyword mode. A hit without a catalog row (an interrupted
    ingest, repaired by the next) is dropped.
    """

    name = "scores"

    def apply(self, state: RankingState) -> None:
        best = state.order[: state.top_k]
        chunks = state.records(best)
        missing = [c for c in best if c not in state.sims]
        if state.vector is not None and missing:
            for cid, vec in state.index.store.vectors(missing).items():
                state.sims[cid] = float(np.dot(vec, state.vector))
        weights = ((DENSE_WEIGHT if state.mode != "keyword" else 0.0)
                   + (KEYWORD_WEIGHT if state.mode != "dense" else 0.0))
        top = weights / (RRF_K + 1)
        state.results = [
            chunk.model_copy(update={
                "score": round(min(1.0, state.fused[cid] / top), 4),
                "similarity": round(state.sims[cid], 4) if cid in state.sims else None,
            })
            for cid in best if (chunk := chunks.get(cid)) is not None
        ]
