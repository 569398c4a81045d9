"""The dense-head rules of a hybrid search: what the embedding model ranks first stays near the top.

A paraphrase's answer that shares no word with the question is often among the dense search's first
three and nowhere in BM25; with BM25 weighted twice as much, fusion alone sinks it. Fusion still
decides the first two places, so hit@1 cannot drop. Then the scores are levelled to read top-down.
"""

from __future__ import annotations

from indexing.ranking.state import RankingState

DENSE_BEST_RANK = 3
DENSE_HELD = 3
HEAD = 5


def promote(order: list[str], fused: dict[str, float], cid: str, rank: int) -> list[str]:
    """`order` with `cid` moved up to `rank` (1-based) if it ranks lower, tying the score it overtakes."""
    if cid in order[:rank] or len(order) < rank:
        return order
    out = [c for c in order if c != cid]
    fused[cid] = fused[out[rank - 1]]
    out.insert(rank - 1, cid)
    return out


def hold(order: list[str], held: list[str], head: int) -> list[str]:
    """`order` with every chunk of `held` (at most `head` of them) among the first `head`.

    Those ranked lower move up to the end of the head, in their order; the lowest chunks of the head
    that are not held move down just below them, ahead of the rest.
    """
    late = [c for c in order[head:] if c in held]
    if not late:
        return order
    room = [c for c in order[:head] if c not in held][-len(late):]
    return [c for c in order[:head] if c not in room] + late + room + [c for c in order[head:] if c not in late]


def level(order: list[str], fused: dict[str, float]) -> None:
    """Raise each chunk's score to the best below it, so scores read top-down after chunks moved up
    (a moved chunk ties the score of the chunk it overtook)."""
    best = 0.0
    for cid in reversed(order):
        best = fused[cid] = max(fused[cid], best)


class PromoteClosest:
    """The chunk closest in meaning to the question never ranks below DENSE_BEST_RANK (3rd).

    With BM25 weighted twice as much, a paraphrase's right answer that shares no word with the
    question (dense rank 1, absent from BM25) fell to rank 30+ behind chunks both searches found
    half-way down. Placing it third leaves the first two to fusion: hit@1 cannot drop. Measured on
    shared/eval (+1 question at hit@5) and on the held-out tests/eval/heldout.jsonl (+1), no question
    lost on either. Since `HoldDenseHead` it adds little: without it MRR@10 is 0.713 instead of 0.714
    on the three sets. Hybrid searches only.
    """

    name = "promote_closest"

    def apply(self, state: RankingState) -> None:
        if state.hybrid and state.closest is not None:
            state.order = promote(state.order, state.fused, state.closest, DENSE_BEST_RANK)


class HoldDenseHead:
    """The dense search's first DENSE_HELD (3) chunks, under the question itself before feedback, are
    always among the first HEAD (5) results.

    Those fusion ranks lower move up to the end of the head, in their order, and the head's lowest other
    chunks make room. Fusion still orders everything else, so hit@1 cannot change. Measured offline over
    the 164 answerable questions of shared/eval/dev.jsonl, tests/eval/heldout.jsonl and
    tests/eval/validation.jsonl pooled (5-fold cross-validation chose 3 in 24 of 25 folds from 0-3 dense
    and 0-1 BM25 chunks held): hit@5 0.811 -> 0.848 (paraphrases 0.649 -> 0.703; the better of dense and
    BM25 top-5 per question reaches 0.860), MRR@10 0.707 -> 0.714, hit@10 0.860 -> 0.890; no set, and
    no question style over the three sets, lower on hit@1, hit@5 or MRR; 7 questions gained at 5, 1
    lost (a BM25-only answer at BM25 rank 3). Holding 2 gave hit@5 0.829; also holding BM25's first
    0.841. Latency unchanged (no extra read). Tried, cross-validated the same way, and not better on the
    three sets together: a convex combination of min-max cosine and BM25 (Bruch et al. 2022; MRR
    0.72-0.73 but lower on dev and held-out), query-adaptive weights (identifiers, length, agreement of
    the two searches), heading/title overlap, document support, a small learned ranker. Hybrid
    searches only.
    """

    name = "hold_dense_head"

    def __init__(self, held: int = DENSE_HELD, head: int = HEAD) -> None:
        self.held, self.head = held, head

    def apply(self, state: RankingState) -> None:
        if state.hybrid and state.closest is not None:
            state.order = hold(state.order, [c for c, _ in state.asked_dense[: self.held]], self.head)


class LevelScores:
    """Each chunk's score is raised to the best below it, so the scores users see read top-down after
    a stage moved chunks up. A no-op on an order sorted by score (any mode without moves)."""

    name = "level_scores"

    def apply(self, state: RankingState) -> None:
        level(state.order, state.fused)
