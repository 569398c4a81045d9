"""Which cross-encoder reranks, checked and loaded: a folder, or a model id in the local model cache.

Takes the model setting and a device; gives the loaded model (`load_cross_encoder`) or the reason it
cannot be used (`RerankerUnavailable`). `check_cross_encoder` reads only the model's config (no torch,
no numpy), so a bad setting stops every command at start; nothing is ever downloaded. Light on
purpose: the settings import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import indexing.embedding_model  # noqa: F401  (the hub is switched off before transformers is imported)

RERANK_DEPTH = 20
MAX_RERANK_DEPTH = 100  # fused candidates number at most 2 × 60, and each pair costs a model pass


class RerankerUnavailable(ValueError):
    """The cross-encoder asked for cannot be used here; the message says why."""


class PairScorer(Protocol):
    """What the stage needs of a cross-encoder: one relevance score per (query, passage) pair."""

    def predict(self, inputs: list[tuple[str, str]], *, batch_size: int, show_progress_bar: bool) -> Any: ...


def _config(model: str) -> Path:
    """The model's config.json: in the folder `model` names, else in the local model cache."""
    folder = Path(model).expanduser()
    if folder.exists() or model.startswith(("/", ".", "~")):
        if not folder.is_dir():
            raise RerankerUnavailable(f"{model} is not a folder")
        if not (folder / "config.json").is_file():
            raise RerankerUnavailable(f"{model} holds no config.json: not a model folder")
        return folder / "config.json"
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model, "config.json")
    if not isinstance(cached, str):
        raise RerankerUnavailable(
            f"no folder {model!r} and no model of that name in the local model cache; McDewey runs offline "
            "and never downloads a model: copy the cross-encoder's folder to this machine and give its path"
        )
    return Path(cached)


def check_cross_encoder(model: str) -> None:
    """Refuse, with the reason, a model that is missing or is no cross-encoder with one score per pair
    (read from its config alone: no torch, so every command can check it at start)."""
    try:
        config = json.loads(_config(model).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if isinstance(exc, RerankerUnavailable):
            raise
        raise RerankerUnavailable(f"{model}: its config.json cannot be read ({exc})") from exc
    kinds = config.get("architectures") or []
    if not any(str(k).endswith("ForSequenceClassification") for k in kinds):
        raise RerankerUnavailable(
            f"{model} is not a cross-encoder: its model is {', '.join(map(str, kinds)) or 'unnamed'}, not a "
            "…ForSequenceClassification (an embedding model's folder is not a reranker)"
        )
    labels = len(config.get("id2label") or {}) or int(config.get("num_labels", 1))
    if labels != 1:
        raise RerankerUnavailable(f"{model} gives {labels} scores per pair; a reranker gives one (relevance)")


def load_cross_encoder(model: str, device: str) -> PairScorer:
    """The cross-encoder on `device` (`cpu` or `cuda`), checked first; RerankerUnavailable says why not."""
    check_cross_encoder(model)
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(model, device=device, local_files_only=True)  # type: ignore[no-any-return]
    except Exception as exc:  # a model library's error of any kind: the setting is what the user can fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RerankerUnavailable(f"{model} could not be loaded: {reason}") from exc
