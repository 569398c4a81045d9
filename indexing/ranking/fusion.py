"""Reciprocal-rank fusion: the first order of a search, from the dense and the BM25 rankings.

Dense finds paraphrases, BM25 finds exact option names; reciprocal-rank fusion keeps both without
calibrating their scores against each other.
"""

from __future__ import annotations

from indexing.ranking.state import Hits, RankingState

RRF_K = 20
DENSE_WEIGHT = 0.5
KEYWORD_WEIGHT = 1.0


def fuse(dense: Hits, keyword: Hits) -> dict[str, float]:
    """Each chunk's weighted reciprocal rank, summed over the two rankings."""
    fused: dict[str, float] = {}
    for weight, ranked in ((DENSE_WEIGHT, dense), (KEYWORD_WEIGHT, keyword)):
        for rank, (cid, _) in enumerate(ranked):
            fused[cid] = fused.get(cid, 0.0) + weight / (RRF_K + rank + 1)
    return fused


def by_score(fused: dict[str, float]) -> list[str]:
    """Chunk ids, highest fused score first (ties keep the order they were found in)."""
    return sorted(fused, key=lambda c: -fused[c])


class Fuse:
    """Reciprocal-rank fusion of the dense (weight 0.5) and BM25 (weight 1.0) rankings, k = 20.

    BM25 is weighted twice as much: on these manuals it is the stronger single retriever (exact
    option names, error strings); weights measured with `mcdewey eval` on shared/eval. In one mode
    alone the fusion is that ranking, scored by its ranks.
    """

    name = "fuse"

    def apply(self, state: RankingState) -> None:
        state.fused = fuse(state.dense, state.keyword)
        state.order = by_score(state.fused)
