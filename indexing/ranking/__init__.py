"""Ranking a search's candidates: named stages that a list composes, the default list in `pipeline`.

Takes the candidates `indexing.retriever.Retriever.search` gathered (a `RankingState`); the stages run
in order and the last fills the results. Each stage's docstring carries the measurement behind it.

Default, in order: `fuse` (reciprocal-rank fusion) → `feedback` (Rocchio, hybrid) → `promote_closest`
→ `hold_dense_head` (the dense-head rules, hybrid) → `level_scores` → [`rerank`, when a cross-encoder
is given] → `scores` (the records, with the scores users see).

Modules: `state` (the state and what a stage is), one module per kind of stage (`fusion`, `feedback`,
`dense_head`, `rerank`, `scores`), `cross_encoder` (the reranker's model, checked and loaded: light,
the settings import it) and `pipeline` (the default list). This file imports nothing, so that the
settings' check does not load the index's modules.
"""
