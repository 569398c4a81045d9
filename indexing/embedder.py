"""Texts → unit vectors with the embedding model, on the backend chosen.

Takes texts and gives normalised vectors (cosine = dot product), 384 numbers each for the default
model; also counts a text's word pieces, which the chunker sizes chunks by. The default model comes
from an installed PyPI package (`indexing.embedding_model`): nothing is downloaded at run time.

Models (`Embedder(model=...)`, `MCDEWEY_EMBED_MODEL`): the packaged all-MiniLM-L6-v2 (the ONNX fast
path below), any other sentence-transformers folder or cached hub id (PyTorch: sentence-transformers'
own ONNX export needs `optimum-onnx`, which cannot be installed beside transformers 5), or an Ollama
embedding model (`ollama:<model>`, `indexing.ollama_embedder`). Whatever the model asks for is done
here: its query/document prompts (`indexing.embedding_spec`), its token limit (texts beyond it are
truncated by the model; the chunker's budget follows it), and unit length, since the index compares
vectors by cosine. `spec` is what the index records about the vectors.

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
from indexing.embedding_model import MODEL_NAME, ModelSource, model_dir, resolve_model
from indexing.embedding_spec import EmbeddingSpec, model_prompts, packaged_spec
from indexing.onnx_encoder import OnnxEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from indexing.ollama_embedder import OllamaEncoder

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"

log = logging.getLogger("mcdewey.embedder")


class ModelLoadError(ValueError):
    """The embedding model was found but does not load (a broken folder): the setting's fault."""


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
        device: str = "auto", model: str | ModelSource | None = None, query_prompt: str | None = None,
        document_prompt: str | None = None, ollama_host: str = "",
    ) -> None:
        """`backend`, `model_cache`, `device`, `model`, the prompts (None: the model's own) and
        `ollama_host` come from settings; None means the defaults (see module doc)."""
        backend = default_backend(backend)
        self.source = model if isinstance(model, ModelSource) else resolve_model(model)
        if self.source.kind != "packaged":
            if backend == "onnx-int8":
                raise ValueError("the onnx-int8 backend is the packaged model's only; "
                                 f"{self.source.name} runs on PyTorch (set the backend to onnx or torch)")
            backend = "ollama" if self.source.kind == "ollama" else "torch"
        self.requested_device = device
        self.threads = threads
        self.batch_size = batch_size
        self.backend = backend
        self.model_cache = model_cache
        self.ollama_host = ollama_host
        self.query_prompt, self.document_prompt = model_prompts(self.source, query_prompt, document_prompt)
        self._lock = threading.Lock()
        # torch and onnx give the same vectors (cosine ≈ 1.0); int8 vectors are another model's.
        self.name = (MODEL_NAME + ("+int8" if backend == "onnx-int8" else "") if self.source.kind == "packaged"
                     else self.source.name)

    @cached_property
    def spec(self) -> EmbeddingSpec:
        """What the index records about this model's vectors (loads a model other than the packaged one)."""
        if self.source.kind == "packaged":
            return packaged_spec(self.backend == "onnx-int8", self.backend, self.query_prompt,
                                 self.document_prompt)
        if self.source.kind == "ollama":
            return self.ollama.spec(self.query_prompt, self.document_prompt)
        from indexing.embedding_model import weights_key

        assert self.source.folder is not None
        model = self.model
        return EmbeddingSpec(
            self.source.name, self.source.kind, int(model.get_embedding_dimension() or 0),
            int(model.max_seq_length or 512), self.query_prompt, self.document_prompt,
            fingerprint=weights_key(self.source.folder), backend=self.backend,
        )

    @property
    def dimensions(self) -> int:
        return self.spec.dimensions

    @cached_property
    def chunk_tokens(self) -> int:
        """Word pieces a chunk's body may hold: the model's budget less its document prompt's."""
        prompt = self.count_tokens([self.document_prompt])[0] if self.document_prompt else 0
        return max(32, self.spec.chunk_tokens - prompt)

    @cached_property
    def device(self) -> str:
        """`cpu` or `cuda`, resolved on first use (DeviceUnavailable for `cuda` without a GPU)."""
        if self.backend in ("onnx-int8", "ollama"):  # (an Ollama server places its model itself)
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
        folder = self.source.folder or model_dir()
        try:
            return SentenceTransformer(str(folder), device=self.device, backend="torch")
        except Exception as exc:
            raise ModelLoadError(f"the embedding model {self.source.name} could not be loaded: "
                                 f"{type(exc).__name__}: {str(exc)[:300]}") from exc

    @cached_property
    def ollama(self) -> OllamaEncoder:
        from indexing.ollama_embedder import OllamaEncoder

        return OllamaEncoder(self.source.ollama_model, self.ollama_host)

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
        if self.source.kind == "ollama":
            return True
        if not self._on_onnx or "onnx" in self.__dict__:
            return "model" in self.__dict__ or self.source.kind == "packaged"
        from indexing.onnx_export import is_exported

        return is_exported(self.backend, self.model_cache) and is_exported("onnx", self.model_cache)

    def load(self) -> None:
        """Load (and for ONNX, export on first use) the model now rather than on the first encode."""
        with self._lock:
            if self.source.kind != "ollama":
                _ = self.onnx if self._on_onnx else self.model
            _ = self.spec  # (Ollama: asks the server, so one that is not there fails here, not at a search)

    @property
    def _on_onnx(self) -> bool:
        return self.source.kind == "packaged" and self.backend != "torch" and self.device == "cpu"

    @cached_property
    def tokenizer(self) -> Any:
        """The model's own fast tokenizer (no torch needed), used to size chunks."""
        from tokenizers import Tokenizer

        # An Ollama model's tokenizer is the server's: MiniLM's word pieces stand in (at least as many
        # as a modern model's tokens for English prose, so chunks fit).
        folder = self.source.folder or model_dir()
        if not (folder / "tokenizer.json").is_file():
            return self.model.tokenizer  # a slow (Python) tokenizer only; sentence-transformers loaded it
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        if not hasattr(self.tokenizer, "encode_batch"):
            return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def encode(self, texts: Sequence[str], progress: bool = False,
               on_batch: Callable[[int], None] | None = None, query: bool = False) -> np.ndarray:
        """Normalised embeddings (cosine = dot product), shape (len(texts), dimensions), of passages (or
        of questions with `query`: the model's query prompt instead of its document prompt);
        `on_batch(n)` hears of each batch of the ONNX encoder (of the whole call under torch), so
        progress moves every ~0.5 s."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        prompt = self.query_prompt if query else self.document_prompt
        with self._lock:
            if self.source.kind == "ollama":
                return self.ollama.encode([prompt + t for t in texts], self.batch_size, on_batch)
            onnx = self.onnx if self._on_onnx else None
            if onnx is not None:
                return onnx.encode([prompt + t for t in texts] if prompt else texts, self.batch_size,
                                   on_batch=on_batch)
            vectors = self.model.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        if on_batch is not None:
            on_batch(len(texts))
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query], query=True)[0]
