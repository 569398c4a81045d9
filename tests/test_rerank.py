"""The reranker stage: it re-orders the first N fused chunks by the cross-encoder's own scores, and a
setting naming a model it cannot use stops `mcdewey search` and `mcdewey serve` with the reason.

The cross-encoder is a stand-in built from the installed embedding model (`standin_cross_encoder`):
its order means nothing, so the expected order comes from calling `CrossEncoder.predict` directly on
the fused first N.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_server import free_port

from assistant.service import LibraryService
from assistant.settings import Settings
from indexing.chunk_vectors import embed_text
from indexing.embedding_model import model_dir
from indexing.index import Index

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))
DEPTH = 4  # a pair costs ~0.1 s of MiniLM-L6 on a quiet 2-core CPU (0.4 s loaded): few, short
QUESTIONS = [  # (question, mode)
    ("Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?", "hybrid"),
    ("What should I back up before upgrading Acme Router?", "hybrid"),
    ("How many standby servers may stream at once?", "hybrid"),
    ("How many standby servers may stream at once?", "keyword"),  # every mode goes through the stages
]


def test_the_first_n_follow_the_cross_encoders_scores_and_the_rest_the_fused_order(
    service: Any, indexed: Path, embedder: Any, standin_cross_encoder: Path
) -> None:
    from sentence_transformers import CrossEncoder

    settings = Settings(library=service.settings.library, data=indexed, llm="none",
                        rerank=str(standin_cross_encoder), rerank_depth=DEPTH)
    reranked = LibraryService(settings, Index(indexed, embedder=embedder))
    assert [s.name for s in reranked.retriever.stages][-2:] == ["rerank", "scores"]
    judge = CrossEncoder(str(standin_cross_encoder), device="cpu")
    moved = 0
    for question, mode in QUESTIONS:
        fused = service.search(question, 8, mode=mode)
        got = reranked.search(question, 8, mode=mode)
        head = fused[:DEPTH]
        scores = judge.predict([(question, embed_text(c)) for c in head])
        expected = [head[i].chunk_id for i in np.argsort(-scores, kind="stable")]
        assert [c.chunk_id for c in got[:DEPTH]] == expected, (question, mode)
        assert [c.chunk_id for c in got[DEPTH:]] == [c.chunk_id for c in fused[DEPTH:]], (question, mode)
        # the places keep their scores: they read top-down, on fusion's scale
        assert [c.score for c in got] == [c.score for c in fused], (question, mode)
        moved += expected != [c.chunk_id for c in head]
    assert moved >= 2  # the cross-encoder's order is not fusion's: the checks above could fail


def _broken_folder(tmp: Path, standin: Path) -> Path:
    """A folder whose config says cross-encoder but that holds no weights: it fails only when loaded."""
    folder = tmp / "no-weights"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_bytes((standin / "config.json").read_bytes())
    return folder


BAD = [  # (setting, value or a maker of it, what the message says)
    ("RERANK", "/nowhere/cross-encoder", "/nowhere/cross-encoder is not a folder"),
    ("RERANK", "someone/some-reranker", "no model of that name in the local model cache"),
    ("RERANK", "embedding-model", "is not a cross-encoder: its model is BertModel"),
    ("RERANK", "no-weights", "could not be loaded: "),
    ("RERANK_DEPTH", "0", "greater than or equal to 1"),
    ("RERANK_DEPTH", "101", "less than or equal to 100"),
    ("RERANK_DEPTH", "twenty", "valid integer"),
]


@pytest.mark.parametrize(("name", "value", "reason"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_reranker_setting_stops_search_and_serve_with_its_name_and_reason(
    name: str, value: str, reason: str, indexed: Path, library: Path, standin_cross_encoder: Path, tmp_path: Path,
) -> None:
    given = value
    value = {"embedding-model": str(model_dir()),
             "no-weights": str(_broken_folder(tmp_path, standin_cross_encoder))}.get(value, value)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    env.update(HOME=str(tmp_path / "home"), MCDEWEY_DATA=str(indexed), MCDEWEY_LIBRARY=str(library),
               **{f"MCDEWEY_{name}": value})
    if name == "RERANK_DEPTH":
        env["MCDEWEY_RERANK"] = str(standin_cross_encoder)
    commands = {"serve": [MCDEWEY, "serve", "--port", str(free_port())]}
    if given != "no-weights":  # the one that fails only when loaded (torch, seconds): served, the costly case
        commands["search"] = [MCDEWEY, "search", "badmail"]
    running = {cmd: subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for cmd, argv in commands.items()}  # both at once: two processes' start-up in the time of one
    for cmd, proc in running.items():
        try:
            out, err = proc.communicate(timeout=120)  # never a hang: a server that started would not end
        finally:
            proc.kill()
        assert proc.returncode == 2, (cmd, out, err)
        assert f"mcdewey: invalid setting MCDEWEY_{name}" in err and reason in err, (cmd, err)
        assert "Traceback" not in err and not out, (cmd, out, err)
