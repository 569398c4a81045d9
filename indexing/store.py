"""Chroma, through LlamaIndex's ChromaVectorStore: embedded (PersistentClient) or a server by URL.

Chroma holds the vectors with the few metadata fields that filters need (product, version, doc,
source); the chunk records themselves are read from the catalog.

LlamaIndex lays out what is written (`add`); everything it has no call for (collection settings, delete by
id, count, list, read vectors back, heartbeat) or does at a cost (the search) goes to the Chroma
collection directly, each place saying why.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

import httpx
import numpy as np

from indexing.chroma_deadline import PROBE_TIMEOUT_S, READ_TIMEOUT_S, Pause, bound, probe
from indexing.chunk import FILTER_KEYS, ID_SEPARATOR, Chunk

ADD_BATCH = 4000
# HNSW candidate-list size at query time. Chroma's default (100) missed about 3% of the exact top 10
# on the whole shared library (one question kept only 4 of its 10); 400 kept 99.7% at the same
# ~3 ms a query (tests/test_store.py shows the same gap on clustered vectors).
SEARCH_EF = 400
# A filtered search asks Chroma for the nearest max(SEARCH_EF, OVERFETCH × top_k) chunks unfiltered and
# keeps those the filter admits (product, version and doc are a chunk id's first three parts), then
# WIDEN times as many; Chroma's `where` runs only when both leave fewer than top_k. Chroma evaluates a
# `where` over its metadata table before it searches, at a cost that grows with the chunks it admits:
# at 100,000 chunks (the shared library copied with jittered vectors) p50/p95 60/173 ms for a product,
# 113/285 ms for a product and version, 151/378 ms for one document, against 3/8 ms for the 480
# nearest unfiltered. Too few survived the 480 for 1 of 76 dev and held-out questions filtered to
# their product (7 of 72 to their document); the 3,840 had enough for all. What survives is the
# filtered top k of the same HNSW search: on the whole shared library (168 dev, held-out and
# validation questions, each filtered to its product) the top 8 were Chroma's `where` top 8 for all
# 168 and the top 60 the same set for 166 (the exact top 60, by brute force: 163; `where`: 164).
OVERFETCH = 8
WIDEN = 8
# When both leave too few, a filter that admits at most EXACT_LIMIT chunks (a small product or manual far
# from the question) is ranked exactly over those chunks' vectors: Chroma's HNSW `where` over so few
# points missed one of the exact top 5 in a CI run (tests/test_store_filters.py). Whole shared library
# (39,450 chunks): a 115-chunk manual exactly in 8 ms, by `where` 27 ms; a larger filter costs the
# look (11-38 ms) before its `where`, which runs rarely (3,840 nearest chunks held too few of a product
# for 0 of 76 dev and held-out questions). With 2,000, a 1,213-chunk product took 35 ms exactly, 14 by
# `where`, and the look before a larger `where` 35-73 ms.
EXACT_LIMIT = 500


class StoreUnavailable(RuntimeError):
    """Chroma cannot be reached (a server that stopped, a URL that is wrong)."""


def _check_url(chroma_url: str) -> ParseResult:
    url = urlparse(chroma_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"MCDEWEY_CHROMA_URL must look like http://host:port, not {chroma_url!r}")
    return url


def _private_path(path: Path) -> str:
    """`path` spelled so that no Chroma client open in this process has it (`dir/.`, `dir/./.`, …).

    Chroma keeps one client state (its System: SQLite pool, HNSW in memory) per path spelling and
    process, and another process's writes leave that state stale: measured on chromadb 1.5.9, a
    filtered query or a read of vectors added since then fails with "Error finding id", and an
    unfiltered query still returns deleted ids. A new spelling gets a new state read from disk
    (log included), without stopping the old one under a request that is still using it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    spelling = str(path)
    while True:
        spelling += "/."
        if spelling not in SharedSystemClient._identifier_to_system:
            return spelling


def _client(data_dir: Path, chroma_url: str | None, private: bool = False, timeout: float = READ_TIMEOUT_S) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    # A fresh Settings object per client: HttpClient mutates the one it is given.
    if chroma_url:
        url = _check_url(chroma_url)
        # The client's constructor already asks the server, without a timeout: ask its heartbeat first.
        trouble = probe(chroma_url, min(timeout, PROBE_TIMEOUT_S))
        if trouble:
            raise StoreUnavailable(f"Chroma at {chroma_url} is unreachable: {trouble}")
        client = chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", settings=ChromaSettings(anonymized_telemetry=False),
        )
        bound(client, timeout)
        return client
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    spelling = _private_path(path) if private else str(path)
    return chromadb.PersistentClient(path=spelling, settings=ChromaSettings(anonymized_telemetry=False))


def _where(filters: dict[str, str]) -> dict[str, Any]:
    """Chroma's `where` for product/version/doc filters (one key alone, else `$and`)."""
    return dict(filters) if len(filters) == 1 else {"$and": [{k: v} for k, v in filters.items()]}


def _admits(chunk_id: str, filters: dict[str, str]) -> bool:
    """Whether a chunk matches every filter, read from its id (`product::version::doc::file::N`)."""
    fields = dict(zip(FILTER_KEYS, chunk_id.split(ID_SEPARATOR, len(FILTER_KEYS)), strict=False))
    return all(fields.get(k) == v for k, v in filters.items())


class VectorStore:
    """The Chroma collection of chunk vectors (cosine space).

    Every call that reaches Chroma raises StoreUnavailable when it fails, so a server that stops is
    a clear 503 / tool error / ingest message rather than a stack trace; the client keeps no broken
    state, so service resumes by itself when the server is back.
    """

    def __init__(self, data_dir: Path, chroma_url: str | None = None, collection: str = "mcdewey",
                 private: bool = False, timeout: float = READ_TIMEOUT_S) -> None:
        """`private`: embedded Chroma read afresh from disk, not the client state this process may
        already hold for the directory (see `_private_path`). `timeout`: seconds a request to a Chroma
        server may take (`chroma_deadline`)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.location = chroma_url or str(data_dir / "chroma")
        self.name = collection
        self.chroma_url = chroma_url
        self.timeout = timeout
        self._pause = Pause()
        if chroma_url:
            _check_url(chroma_url)  # a malformed URL is the user's error (ValueError), not an outage
        try:
            self.client = _client(data_dir, chroma_url, private, timeout)
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
        if not self._pause.admit():
            raise StoreUnavailable(f"Chroma at {self.location} did not answer within {self.timeout:g} s a moment "
                                   "ago; it is asked again in a few seconds")
        try:
            yield
        except StoreUnavailable:
            self._pause.failed()
            raise
        except httpx.TimeoutException as exc:
            self._pause.timed_out()
            raise StoreUnavailable(f"Chroma at {self.location} did not answer within {self.timeout:g} s "
                                   f"({what})") from exc
        except Exception as exc:
            self._pause.failed()
            raise StoreUnavailable(f"Chroma at {self.location} failed ({what}): {exc}") from exc
        self._pause.answered()

    def close(self) -> None:
        """Release the client (embedded: its SQLite pool and the HNSW index in memory)."""
        try:
            self.client.close()
        except Exception:  # a server gone already: nothing left to release
            return

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add or replace: nodes in the layout of LlamaIndex's ChromaVectorStore, written with Chroma's
        upsert. (LlamaIndex's add calls Chroma's add, which keeps the old vector of an id already there:
        an edited file keeps its chunk ids, and they are replaced in place so that no reader ever finds
        one of them without a vector.)"""
        from llama_index.core.schema import MetadataMode, TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

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
            part = nodes[start : start + ADD_BATCH]
            metadatas = [node_to_metadata_dict(n, remove_text=True, flat_metadata=self.store.flat_metadata)
                         for n in part]
            with self._reaching("adding vectors"):
                self.collection.upsert(
                    ids=[n.node_id for n in part], embeddings=[n.get_embedding() for n in part],
                    metadatas=[{k: "" if v is None else v for k, v in m.items()} for m in metadatas],
                    documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in part],
                )

    def delete(self, chunk_ids: Sequence[str]) -> None:
        """Chroma directly: ChromaVectorStore.delete removes a LlamaIndex source document (ref_doc_id),
        which chunks do not carry, and its delete_nodes sends every id in one request (sliced here)."""
        ids = list(chunk_ids)
        with self._reaching("deleting vectors"):
            for i in range(0, len(ids), 5000):
                self.collection.delete(ids=ids[i : i + 5000])

    def drop(self) -> None:
        """Delete the whole collection (the vectors of a model an index switched away from)."""
        with self._reaching("deleting a collection"):
            self.client.delete_collection(self.name)

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

        A filtered search first asks for the nearest chunks unfiltered and keeps those the filter
        admits (see OVERFETCH); only when too few survive twice does it run Chroma's `where`."""
        filters = {k: v for k, v in (filters or {}).items() if v}
        if not filters:
            return self._nearest(vector, top_k)
        if set(filters) <= set(FILTER_KEYS):
            n = max(SEARCH_EF, OVERFETCH * top_k)
            for size in (n, n * WIDEN):
                hits = self._nearest(vector, size)
                kept = [(cid, s) for cid, s in hits if _admits(cid, filters)]
                # Enough survivors, or every chunk was returned (a small index): exact already.
                if len(kept) >= top_k or (len(hits) < size and len(hits) >= self.count()):
                    return kept[:top_k]
            exact = self._exact(vector, top_k, filters)
            if exact is not None:
                return exact
        return self.where_query(vector, top_k, filters)

    def _exact(self, vector: np.ndarray, top_k: int, filters: dict[str, str]) -> list[tuple[str, float]] | None:
        """The exact filtered top k by brute force over the admitted chunks' vectors, or None when the
        filter admits more than EXACT_LIMIT chunks (see EXACT_LIMIT)."""
        with self._reaching("searching"):
            got = self.collection.get(where=_where(filters), limit=EXACT_LIMIT + 1, include=["embeddings"])
        ids = got["ids"]
        if len(ids) > EXACT_LIMIT:
            return None
        if not ids:
            return []
        rows = np.asarray(got["embeddings"], dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        # Chroma's cosine distance, computed the same way: 1 - cos of the normalised vectors.
        sims = (rows @ query) / (np.linalg.norm(rows, axis=1) * float(np.linalg.norm(query)) + 1e-12)
        order = np.argsort(-sims, kind="stable")[:top_k]
        return [(ids[i], float(sims[i])) for i in order]

    def where_query(self, vector: np.ndarray, top_k: int, filters: dict[str, str]) -> list[tuple[str, float]]:
        """Chroma's own filtered search (`where`): the fallback of `query`, and the bench's baseline."""
        return self._nearest(vector, top_k, _where(filters))

    def _nearest(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Chroma directly, ids and distances only: LlamaIndex would read and parse every hit's text and
        metadata into a node (4 ms more for 60 hits; the over-fetch asks for hundreds)."""
        with self._reaching("searching"):
            got = self.collection.query(query_embeddings=[vector.tolist()], n_results=n, where=where,
                                        include=["distances"])
        # Chroma's cosine distance is 1 - cos.
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], (got["distances"] or [[]])[0], strict=True)]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Chroma directly: LlamaIndex's get_nodes returns no embeddings."""
        if not chunk_ids:
            return {}
        with self._reaching("reading vectors"):
            got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def heartbeat(self) -> None:
        """A server's heartbeat with a short timeout of its own (`/healthz` says `unavailable` within
        PROBE_TIMEOUT_S of a hung server); embedded Chroma's through its client."""
        if self.chroma_url:
            trouble = probe(self.chroma_url, min(self.timeout, PROBE_TIMEOUT_S))
            if trouble:
                raise StoreUnavailable(f"Chroma at {self.location} is unreachable: {trouble}")
            return
        try:
            self.client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} is unreachable: {exc}") from exc
