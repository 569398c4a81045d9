"""The default list of ranking stages, in order (see the package's docstring for what each does)."""

from __future__ import annotations

from indexing.ranking.dense_head import HoldDenseHead, LevelScores, PromoteClosest
from indexing.ranking.feedback import Feedback
from indexing.ranking.fusion import Fuse
from indexing.ranking.scores import Scores
from indexing.ranking.state import Stage


def default_stages(rerank: Stage | None = None) -> list[Stage]:
    """McDewey's ranking, with `rerank` (a `Rerank` stage) after the dense-head rules when given."""
    stages: list[Stage] = [Fuse(), Feedback(), PromoteClosest(), HoldDenseHead(), LevelScores()]
    if rerank is not None:
        stages.append(rerank)
    return [*stages, Scores()]
