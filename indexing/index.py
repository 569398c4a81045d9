"""An opened index: the catalog, the Chroma collection, the keyword index and the embedder.

Readers (the server) call `refresh()` cheaply before searching; it reloads the keyword index only
when an ingest has published a new generation.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

from indexing.catalog import Catalog
from indexing.embedder import Embedder
from indexing.keyword import KeywordIndex
from indexing.store import VectorStore

GENERATION_KEY = "generation"


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
        self._keyword: KeywordIndex | None = None
        self._generation: str | None = None
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> VectorStore:
        return VectorStore(self.data_dir, self.chroma_url, self.collection_name)

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index of the latest published generation."""
        generation = self.catalog.get_meta(GENERATION_KEY)
        with self._lock:
            if self._keyword is None or generation != self._generation:
                self._keyword = KeywordIndex.load(self.keyword_dir) or KeywordIndex.build([])
                self._generation = generation
            return self._keyword
