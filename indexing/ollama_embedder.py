"""Texts → unit vectors from an Ollama server's embedding model (`MCDEWEY_EMBED_MODEL=ollama:<model>`).

Takes a model name and the server's address (OLLAMA_HOST, as the ollama CLI reads it); gives
`encode(texts, batch_size)` through the official `ollama` client's `embed` call, and the model's spec
(its dimension, asked of the server once). The server truncates each text at the model's window; the
vectors are normalised here, since the index compares them by cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from indexing.embedding_spec import EmbeddingSpec
from indexing.store import StoreUnavailable

# One embedding call of 32 chunks took ~1-3 s on CPU-only Ollama servers; a server that has not answered
# in this long is down or overloaded, and an ingest says so rather than waits.
TIMEOUT_S = 120.0
# Ollama's own limit for most embedding models' windows (nomic-embed-text, mxbai-embed-large: 512+).
OLLAMA_MAX_TOKENS = 512


class OllamaUnavailable(StoreUnavailable):
    """The Ollama server is not there, or has no such model (a search answers 503 with this reason, as
    for an unreachable Chroma)."""


class OllamaEncoder:
    def __init__(self, model: str, host: str = "", timeout: float = TIMEOUT_S) -> None:
        import ollama

        self.model = model
        self.host = host or None
        self.client = ollama.Client(host=self.host, timeout=timeout)
        self._dimensions: int | None = None

    def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            response: Any = self.client.embed(model=self.model, input=texts, truncate=True)
        except Exception as exc:
            where = self.host or "the default address (127.0.0.1:11434)"
            raise OllamaUnavailable(f"the Ollama embedding model {self.model!r} at {where} did not answer: "
                                    f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        vectors = np.asarray(response["embeddings"], dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise OllamaUnavailable(f"the Ollama model {self.model!r} returned no embeddings "
                                    "(is it an embedding model?)")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = int(self._embed(["dimension probe"]).shape[1])
        return self._dimensions

    def spec(self, query_prompt: str, document_prompt: str) -> EmbeddingSpec:
        return EmbeddingSpec(f"ollama:{self.model}", "ollama", self.dimensions, OLLAMA_MAX_TOKENS, query_prompt,
                             document_prompt, backend="ollama")

    def encode(self, texts: Sequence[str], batch_size: int,
               on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            parts.append(self._embed(batch))
            if on_batch is not None:
                on_batch(len(batch))
        return np.concatenate(parts) if parts else np.zeros((0, self.dimensions), dtype=np.float32)
