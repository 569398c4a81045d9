"""An opened index: the catalog, the Chroma collection, the keyword index and the embedder.

Readers (the server) keep what they derive from the index (the keyword index, the products and
versions, the documents) through `derived`, which rebuilds a value only when an ingest has published
a new generation: one cheap catalog read per call, never a reload per query.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

from indexing.catalog import Catalog
from indexing.embedder import Embedder
from indexing.keyword import KeywordIndex
from indexing.store import VectorStore

GENERATION_KEY = "generation"
T = TypeVar("T")


class Index:
    def __init__(
        self,
        data_dir: Path,
        chroma_url: str | None = None,
        collection: str = "mcdewey",
        embedder: Embedder | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.chroma_url = chroma_url
        self.collection_name = collection
        self.embedder = embedder or Embedder()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(data_dir / "catalog.sqlite3")
        self._derived: dict[str, tuple[str | None, Any]] = {}
        self._lock = threading.RLock()

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(self.data_dir, self.chroma_url, self.collection_name)

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"

    def derived(self, name: str, build: Callable[[Catalog], T]) -> T:
        """`build(catalog)`, kept under `name` until an ingest publishes a new generation.

        Every reader's cache of the index goes through here, so they all reload after the same ingest;
        `build` must depend on nothing but the index, since readers sharing the name share the value.
        """
        generation = self.catalog.get_meta(GENERATION_KEY)
        with self._lock:
            kept = self._derived.get(name)
            if kept is None or kept[0] != generation:
                kept = self._derived[name] = (generation, build(self.catalog))
            return cast(T, kept[1])

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index of the latest published generation."""
        return self.derived("keyword", lambda _: KeywordIndex.load(self.keyword_dir) or KeywordIndex.build([]))
