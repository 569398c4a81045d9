"""Chroma, through LlamaIndex's ChromaVectorStore: embedded (PersistentClient) or a server by URL.

Chroma holds the vectors with the few metadata fields that filters need (product, version, doc,
source); the chunk records themselves are read from the catalog.

LlamaIndex writes the vectors (`add`) and runs the filtered search (`query`); everything it has no
call for (collection settings, delete by id, count, list, read vectors back, heartbeat) goes to the
Chroma collection directly, each place saying why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

import numpy as np

from indexing.chunk import FILTER_KEYS, Chunk

ADD_BATCH = 4000
# HNSW candidate-list size at query time. Chroma's default (100) missed about 3% of the exact top 10
# on the whole shared library (one question kept only 4 of its 10); 400 kept 99.7% at the same
# ~3 ms a query (tests/test_store.py shows the same gap on clustered vectors).
SEARCH_EF = 400


class StoreUnavailable(RuntimeError):
    """Chroma cannot be reached (a server that stopped, a URL that is wrong)."""


def _check_url(chroma_url: str) -> ParseResult:
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"MCDEWEY_CHROMA_URL must look like http://host:port, not {chroma_url!r}")
    return url


def _client(data_dir: Path, chroma_url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # A fresh Settings object per client: HttpClient mutates the one it is given.
    if chroma_url:
        url = _check_url(chroma_url)
        return chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False),
        )
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


class VectorStore:
    """The Chroma collection of chunk vectors (cosine space).

    Every call that reaches Chroma raises StoreUnavailable when it fails, so a server that stops is
    a clear 503 / tool error / ingest message rather than a stack trace; the client keeps no broken
    state, so service resumes by itself when the server is back.
    """

    def __init__(self, data_dir: Path, chroma_url: str | None = None, collection: str = "mcdewey") -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.location = chroma_url or str(data_dir / "chroma")
        if chroma_url:
            _check_url(chroma_url)  # a malformed URL is the user's error (ValueError), not an outage
        try:
            self.client = _client(data_dir, chroma_url)
            # Made here, not by ChromaVectorStore.from_params: that creates the collection without an
            # HNSW configuration, and McDewey needs cosine space and a wider ef_search.
            self.collection = self.client.get_or_create_collection(
                collection, configuration={"hnsw": {"space": "cosine", "ef_search": SEARCH_EF}}
            )
            self._widen_search()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} is unreachable: {exc}") from exc
        self.store = ChromaVectorStore(chroma_collection=self.collection)

    def _widen_search(self) -> None:
        """Raise ef_search on a collection made before SEARCH_EF (or by another tool); it is persisted.

        Chroma directly: LlamaIndex has no call for a collection's configuration."""
        hnsw = (getattr(self.collection, "configuration_json", None) or {}).get("hnsw") or {}
        if int(hnsw.get("ef_search") or 0) < SEARCH_EF:
            self.collection.modify(configuration={"hnsw": {"ef_search": SEARCH_EF}})

    @contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} failed ({what}): {exc}") from exc

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Through LlamaIndex: it stores each node in the layout its own readers expect."""
        from llama_index.core.schema import TextNode

        nodes = [
            TextNode(
                id_=c.chunk_id,
                text=c.text,
                embedding=v.tolist(),
                metadata={**{k: getattr(c, k) for k in FILTER_KEYS}, "source": c.source},
                excluded_embed_metadata_keys=["source"],
            )
            for c, v in zip(chunks, vectors, strict=True)
        ]
        # Chroma refuses batches over its max batch size (5,461 here; R's reference manual alone makes
        # 7,712 chunks), so large files go in slices.
        for start in range(0, len(nodes), ADD_BATCH):
            with self._reaching("adding vectors"):
                self.store.add(nodes[start : start + ADD_BATCH])

    def delete(self, chunk_ids: Sequence[str]) -> None:
        """Chroma directly: ChromaVectorStore.delete removes a LlamaIndex source document (ref_doc_id),
        which chunks do not carry, and its delete_nodes sends every id in one request (sliced here)."""
        ids = list(chunk_ids)
        with self._reaching("deleting vectors"):
            for i in range(0, len(ids), 5000):
                self.collection.delete(ids=ids[i : i + 5000])

    def all_ids(self) -> set[str]:
        """Chroma directly, ids only: LlamaIndex's get_nodes would read and parse every node's text."""
        ids: set[str] = set()
        with self._reaching("listing ids"):
            total = self.collection.count()
            for offset in range(0, total, 10000):
                ids.update(self.collection.get(include=[], limit=10000, offset=offset)["ids"])
        return ids

    def count(self) -> int:
        """Chroma directly: LlamaIndex has no count."""
        with self._reaching("counting"):
            return int(self.collection.count())

    def query(
        self, vector: np.ndarray, top_k: int, filters: dict[str, str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first, within the product/version/doc filters.

        Through LlamaIndex, which turns the filters into Chroma's `where`; the price is a similarity
        that must be converted back (below) and hits parsed into nodes that are not used."""
        from llama_index.core.vector_stores import (
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        meta = None
        if filters:
            meta = MetadataFilters(filters=[MetadataFilter(key=k, value=v) for k, v in filters.items()])
        try:
            result = self.store.query(
                VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=top_k, filters=meta)
            )
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} failed: {exc}") from exc
        # LlamaIndex reports exp(-distance); Chroma's cosine distance is 1 - cos, so 1 + log(s) is the
        # cosine again. (Reading distances from Chroma itself would skip the round trip, but may move
        # the last bit of a score: not done in a refactor that must keep results byte-identical.)
        return [(i, 1.0 + math.log(s)) for i, s in zip(result.ids or [], result.similarities or [], strict=True)]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Chroma directly: LlamaIndex's get_nodes returns no embeddings."""
        if not chunk_ids:
            return {}
        with self._reaching("reading vectors"):
            got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def heartbeat(self) -> None:
        """Chroma's client directly: a vector store has no notion of a server to reach."""
        try:
            self.client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} is unreachable: {exc}") from exc
