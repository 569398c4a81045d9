"""Hybrid ranking rules that a user of search, MCP and the chat sees in the order of results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexing.index import Index
from indexing.ingest import Ingester
from indexing.ranking.dense_head import DENSE_BEST_RANK, HEAD, hold, level, promote
from indexing.ranking.pipeline import default_stages
from indexing.retriever import Retriever


def test_the_closest_chunk_in_meaning_is_moved_up_to_its_place_with_a_tied_score() -> None:
    order = ["a", "b", "c", "d", "e"]
    fused = {"a": 0.05, "b": 0.04, "c": 0.03, "d": 0.02, "e": 0.01}
    moved = promote(list(order), fused, "e", 3)
    assert moved == ["a", "b", "e", "c", "d"]
    assert fused["e"] == fused["c"]  # scores still read top-down
    assert promote(list(order), dict(fused), "b", 3) == order  # already high enough: untouched
    assert promote(["a", "b"], {"a": 0.2, "b": 0.1}, "b", 3) == ["a", "b"]


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


def test_chunks_below_the_head_move_up_to_its_end_and_scores_still_read_top_down() -> None:
    order = ["a", "b", "c", "d", "e", "f", "g", "h"]
    fused = {c: 0.1 - 0.01 * i for i, c in enumerate(order)}
    held = hold(order, ["b", "g", "h"], 5)
    assert held == ["a", "b", "c", "g", "h", "d", "e", "f"]  # d and e made room, in their order
    level(held, fused)
    assert [fused[c] for c in held] == sorted(fused.values(), reverse=True)
    assert fused["g"] == fused["h"] == fused["d"]  # each moved chunk ties the score it overtook
    assert hold(order, ["a", "c", "e"], 5) == order  # all in the head already: untouched
    assert hold(["a", "b"], ["b"], 5) == ["a", "b"]


# A paraphrase whose answer shares no word with the question ("houseplants wilting during your
# vacation" for "plants drying out while away on holiday"): the embedding model ranks it third, BM25
# never finds it, and seven chunks that share the question's words, but not its meaning, come first in
# fusion. The dense search's first three are held among the first five results.
GARDEN = {
    "reservoirs": "Houseplants wilting during your vacation: self-watering pots give them moisture for two weeks.",
    "hot-weather": "Plants dry out quickly in hot weather: keep them shaded and water them early in the morning.",
    "lights": "Holiday lights: keep plant-shaped decorations away from heaters and candles.",
    "herbs": "Drying herbs: hang cut plants upside down in a dry, airy room until the leaves crumble.",
    "thermostat": "Away mode on the thermostat keeps the house cool while you are out.",
    "pets": "Keep pets away from toxic plants such as lilies and foxgloves.",
    "seedlings": "Plant out seedlings after the last frost, and keep them covered on cold nights.",
    "hours": "Holiday opening hours of the garden centre: closed on public holidays, open late in summer.",
    "compost": "Turn the compost heap every month so that it breaks down evenly.",
    "pruning": "Prune roses in late winter, cutting just above an outward-facing bud.",
}
HOLIDAY = "How do I keep my plants from drying out while I am away on holiday?"


def test_the_dense_searchs_first_three_are_among_the_first_five_results(
    tmp_path: Path, embedder: Any
) -> None:
    guide = tmp_path / "library" / "garden" / "1.0" / "guide"
    guide.mkdir(parents=True)
    for name, text in GARDEN.items():
        (guide / f"{name}.md").write_text(f"# {name.replace('-', ' ').title()}\n\n{text}\n", encoding="utf-8")
    index = Index(tmp_path / "data", embedder=embedder)
    assert not Ingester(index).run(tmp_path / "library").failed
    retriever = Retriever(index)

    def files(mode: str) -> list[str]:
        return [c.chunk_id.split("::")[3] for c in retriever.search(HOLIDAY, 10, mode=mode)]

    # The setting this test needs: the answer is dense's 2nd or 3rd (so not the closest chunk, which
    # has a rule of its own), absent from BM25.
    assert files("dense").index("reservoirs") in (1, 2) and "reservoirs" not in files("keyword")
    assert "reservoirs" in files("hybrid")[:HEAD]
    scores = [h.score for h in retriever.search(HOLIDAY, 10)]
    assert scores == sorted(scores, reverse=True)
    retriever.stages = [s for s in default_stages() if s.name != "hold_dense_head"]
    assert "reservoirs" not in files("hybrid")[:HEAD]  # fusion alone sinks it below the words it lacks


GOLDEN = Path(__file__).with_name("golden") / "ranking_defaults.json"


def test_the_default_stages_rank_as_the_retriever_did_before_them(service: Any) -> None:
    """36 searches (12 questions x 3 modes) of the session library, recorded with the retriever whose
    steps were written inline (before `indexing.ranking`): the same chunks in the same order, with the
    same scores. The whole-library check (byte-identical `mcdewey eval`) is in the README."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [s.name for s in service.retriever.stages] == [
        "fuse", "feedback", "promote_closest", "hold_dense_head", "level_scores", "scores"]
    for search in golden["searches"]:
        hits = service.search(search["query"], search["top_k"], mode=search["mode"])
        assert [[h.chunk_id, h.score] for h in hits] == search["results"], (search["query"], search["mode"])
