"""Hybrid ranking rules that a user of search, MCP and the chat sees in the order of results."""

from __future__ import annotations

from typing import Any

from indexing.retriever import DENSE_BEST_RANK, _promote


def test_the_closest_chunk_in_meaning_is_moved_up_to_its_place_with_a_tied_score() -> None:
    order = ["a", "b", "c", "d", "e"]
    fused = {"a": 0.05, "b": 0.04, "c": 0.03, "d": 0.02, "e": 0.01}
    moved = _promote(list(order), fused, "e", 3)
    assert moved == ["a", "b", "e", "c", "d"]
    assert fused["e"] == fused["c"]  # scores still read top-down
    assert _promote(list(order), dict(fused), "b", 3) == order  # already high enough: untouched
    assert _promote(["a", "b"], {"a": 0.2, "b": 0.1}, "b", 3) == ["a", "b"]


PARAPHRASES = [
    "Where are letters kept after the postman fails to hand them over?",
    "How do I stop the server from answering mail for people who do not exist?",
    "what decides which routes a channel imports",
    "make the index smaller on disk",
    "UmssMtaBadMail",
]


def test_hybrid_results_keep_the_best_dense_match_near_the_top(service: Any) -> None:
    """Whatever BM25 prefers, the chunk closest in meaning to the question is within the first three,
    and the records' scores never increase down the list."""
    for question in PARAPHRASES:
        closest = service.search(question, 1, mode="dense")[0]
        hybrid = service.search(question, 8)
        assert closest.chunk_id in [h.chunk_id for h in hybrid[:DENSE_BEST_RANK]], question
        scores = [h.score for h in hybrid]
        assert scores == sorted(scores, reverse=True), question
