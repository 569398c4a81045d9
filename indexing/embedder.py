"""Texts → unit vectors with the sentence-transformers embedding model, on the backend chosen.

Takes texts and gives normalised vectors (cosine = dot product), 384 numbers each; also counts a
text's word pieces, which the chunker sizes chunks by. The model comes from an installed PyPI package
(`indexing.embedding_model`): nothing is downloaded at run time.

Backends (`Embedder(backend=...)`; McDewey passes `MCDEWEY_EMBED_BACKEND` from its settings):

- ``torch``: `SentenceTransformer.encode` on PyTorch, the reference.
- ``onnx``: the same network exported once, on this machine, from the package's folder to ONNX (with
  mean pooling and normalisation inside the graph; `indexing.onnx_export`) and run by ONNX Runtime
  (`indexing.onnx_encoder`). Vectors agree with torch to cosine ≈ 1.0 (float rounding only).
- ``onnx-int8``: that graph with int8 dynamic quantisation of its MatMul weights. Faster again, but
  its vectors drift from torch's (see `mcdewey bench`), so it has its own model name: switching to or
  from it re-embeds the library once, and queries are never compared with vectors of another model.

Devices (`Embedder(device=...)`, `MCDEWEY_EMBED_DEVICE`; `indexing.devices`): `auto` (default) runs on a
CUDA GPU when one is visible, else the CPU. On a GPU the network runs in PyTorch (the ONNX Runtime wheel
is the CPU build), which gives the same vectors as the CPU backends; `onnx-int8` stays on the CPU, since
its vectors are another model's.

Settings are McDewey's to read (`assistant.settings`, which `indexing/` never imports) and reach this
module as parameters; a caller that passes none gets the documented defaults.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.devices import resolve_device
from indexing.embedding_model import DIMENSIONS, MODEL_NAME, model_dir
from indexing.onnx_encoder import OnnxEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"

log = logging.getLogger("mcdewey.embedder")


def default_backend(backend: str | None = None) -> str:
    """`backend` when given (checked), else onnx."""
    backend = (backend or DEFAULT_BACKEND).strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"the embedding backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


class Embedder:
    """Encodes texts to unit vectors; one instance per process, loaded on first use."""

    def __init__(
        self, threads: int = 0, batch_size: int = 32, backend: str | None = None, model_cache: Path | None = None,
        device: str = "auto",
    ) -> None:
        """`backend`, `model_cache` and `device` come from settings; None means the defaults (see module doc)."""
        backend = default_backend(backend)
        self.requested_device = device
        self.threads = threads
        self.batch_size = batch_size
        self.backend = backend
        self.model_cache = model_cache
        self._lock = threading.Lock()
        # torch and onnx give the same vectors (cosine ≈ 1.0); int8 vectors are another model's.
        self.name = MODEL_NAME + ("+int8" if backend == "onnx-int8" else "")

    @cached_property
    def device(self) -> str:
        """`cpu` or `cuda`, resolved on first use (DeviceUnavailable for `cuda` without a GPU)."""
        if self.backend == "onnx-int8":
            resolve_device(self.requested_device)  # still refuse `cuda` where there is none
            return "cpu"
        return resolve_device(self.requested_device)

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model (torch backend; also the reference in the benchmarks)."""
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(model_dir()), device=self.device, backend="torch")

    @cached_property
    def onnx(self) -> OnnxEncoder | None:
        """The ONNX Runtime encoder, or None when the fp32 export failed (then torch, same vectors)."""
        # Imported here: the export checks its graph against this class's torch vectors, so it imports
        # this module; and only the ONNX backends need it.
        from indexing.onnx_export import onnx_model_path

        try:
            return OnnxEncoder(onnx_model_path(self.backend, self.model_cache), self.threads)
        except Exception as exc:
            if self.backend != "onnx":  # int8 vectors are another model's: no silent substitute
                raise
            log.warning("ONNX encoder unavailable (%s: %s); using PyTorch (same vectors)", type(exc).__name__, exc)
            return None

    @property
    def prepared(self) -> bool:
        """False when the first use must export the model to ONNX for this machine (once, ~20 s)."""
        if not self._on_onnx or "onnx" in self.__dict__:
            return True
        from indexing.onnx_export import is_exported

        return is_exported(self.backend, self.model_cache) and is_exported("onnx", self.model_cache)

    def load(self) -> None:
        """Load (and for ONNX, export on first use) the model now rather than on the first encode."""
        with self._lock:
            _ = self.onnx if self._on_onnx else self.model

    @property
    def _on_onnx(self) -> bool:
        return self.backend != "torch" and self.device == "cpu"

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

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Normalised embeddings (cosine = dot product), shape (len(texts), 384); `on_batch(n)` hears of
        each batch of the ONNX encoder (of the whole call under torch), so progress moves every ~0.5 s."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            onnx = self.onnx if self._on_onnx else None
            if onnx is not None:
                return onnx.encode(texts, self.batch_size, on_batch=on_batch)
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        if on_batch is not None:
            on_batch(len(texts))
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]
