"""Publishing: an ingest's work becomes visible to readers a batch of whole files at a time.

The ingest stages each file as it is embedded: its catalog rows go into an open SQLite transaction,
its vectors are kept in memory. A publish then builds the keyword index of the catalog as it will
be (the transaction sees its own rows) into a folder named by the new generation, writes the staged
vectors into Chroma (upsert, `Index.writing`), and commits the rows, the removals and the generation
id together; vectors no file owns any more (removed files, chunks an edited file lost) are deleted
after the commit. A reader therefore sees every file of a publish or none: its catalog rows, its
keyword index and its vectors (the retriever drops vectors the reader's catalog does not hold).

The keyword index is rebuilt from the whole catalog each time (1.2-1.4 s at 39,450 chunks here), so
publishes are spaced by their own cost: one is due once the time since the last is PUBLISH_COST_RATIO
times what the last rebuild took, and an ingest stages a batch (1,024 chunks, ~18 s of encoding here)
between checks: every batch on the whole shared library, the rebuilds at most a tenth of the run.

A run killed before a commit leaves the previous generation whole. Chroma may then hold the staged
vectors: new ids no catalog row owns (readers drop them, the next run deletes them) and ids an edited
file kept, whose vector is the new text's while the row is still the old one. `publishing.json`
names those files while their vectors are written, so the next run reads them again and reuses none
of their vectors.

A run that switches the embedding model (`switch_to`) publishes once, at its end: each file's vectors
go into the new model's own collection as they are made (no reader searches it yet), its rows into the
one open transaction, and the commit that makes them visible also names the new collection and model,
so readers move from the old vectors to the new in one step; the old collection is then deleted. A
switch killed before that commit leaves the old index serving, untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from types import TracebackType

import numpy as np

from indexing.catalog import Catalog, FileRecord
from indexing.chunk import Chunk
from indexing.embedding_spec import EmbeddingSpec
from indexing.index import COLLECTION_KEY, EMBEDDING_KEY, GENERATION_KEY, Index
from indexing.keyword import KeywordIndex, keyword_text
from indexing.store import VectorStore
from indexing.tokens import tokenize

# Whole shared library, quiet machine, batches of 1,024: with 10, 695 s; with 30,
# 682 s and 16 publishes taking 46 s, most of it Chroma inserting the vectors, which every spacing
# pays. The 2% is within the run-to-run noise of the ratio (0.86 vs 0.83), so the fresher index stays.
PUBLISH_COST_RATIO = 10
# A superseded generation's keyword index is deleted at the publish after next, once it is this old:
# a reader loads it within its first request on that generation (milliseconds), and one that misses
# it builds it from that generation's catalog rather than fail.
KEEP_SUPERSEDED_S = 60.0
MARKER = "publishing.json"
KEYWORD_STALE_KEY = "keyword_stale"  # set by ingests before generations; a publish clears it
GENERATION_NAME = re.compile(r"[0-9a-f]{32}")


def build_keyword(catalog: Catalog) -> KeywordIndex:
    """BM25 over the catalog's stored terms; chunks stored without them (catalogs written before terms
    were kept) are tokenized once and their terms stored for the next rebuild."""
    filled: list[tuple[str, str]] = []

    def with_terms() -> Iterator[tuple[Chunk, str]]:
        for chunk, terms in catalog.iter_chunks_with_terms():
            if terms is None:
                terms = " ".join(tokenize(keyword_text(chunk)))
                filled.append((chunk.chunk_id, terms))
            yield chunk, terms

    built = KeywordIndex.build(with_terms())
    if filled:
        catalog.set_terms(filled)
    return built


def _interrupted(index: Index) -> set[str]:
    try:
        return set(json.loads((index.data_dir / MARKER).read_text()))
    except (FileNotFoundError, ValueError):
        return set()


class Publisher:
    """Stages files and removals, and publishes them; use as a context manager (a run that fails
    rolls back what it had not published)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._tx: ExitStack | None = None
        self._vectors: list[tuple[list[Chunk], np.ndarray]] = []
        self._sources: list[str] = []  # staged or removed
        # Files whose vectors a killed run was writing when it died: the ingest reads them again and
        # reuses none of their vectors; they stay in the marker until a publish holds their new state.
        self.interrupted = _interrupted(index)
        self._unowned: set[str] = set()  # deleted from Chroma once the publish is committed
        self._since = time.monotonic()
        self._cost = 0.0
        self._previous: str | None = index.catalog.get_meta(GENERATION_KEY)
        self.target: VectorStore | None = None  # the new model's collection, while switching (`switch_to`)
        self._spec: EmbeddingSpec | None = None

    def switch_to(self, target: VectorStore, spec: EmbeddingSpec) -> None:
        """Write every vector into `target` from now on and publish once, naming it and `spec`."""
        self.target, self._spec = target, spec

    @property
    def store(self) -> VectorStore:
        """Where this run's vectors go: the served collection, or the new model's while switching."""
        return self.target or self.index.store

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Whatever was staged and not published is rolled back: never committed without its vectors."""
        if exc is None:
            exc = RuntimeError("the run ended with files staged and not published")
            kind = type(exc)
        self._close(kind, exc, tb)

    @property
    def pending(self) -> bool:
        return self._tx is not None

    def staged(self) -> set[str]:
        """Chunk ids whose vectors wait for the next publish."""
        return {c.chunk_id for chunks, _ in self._vectors for c in chunks}

    def unowned(self) -> set[str]:
        """Chunk ids whose vectors the next publish deletes."""
        return set(self._unowned)

    def put(self, record: FileRecord, chunks: list[Chunk], vectors: np.ndarray, overlaps: list[int],
            terms: list[str] | None) -> None:
        """Stage a new or re-read file: its rows now (unseen until the publish), its vectors then."""
        self._begin()
        keep = {c.chunk_id for c in chunks}
        self._unowned.update(c for c in self.index.catalog.chunk_ids(record.source) if c not in keep)
        self._unowned -= keep
        self.index.catalog.replace_file(record, chunks, overlaps, terms)
        self._sources.append(record.source)
        self._vectors.append((chunks, vectors))

    def remove(self, source: str) -> None:
        """Stage the removal of a file that left the library."""
        self._begin()
        self._unowned.update(self.index.catalog.chunk_ids(source))
        self.index.catalog.remove_files([source])
        self._sources.append(source)

    def due(self) -> bool:
        return self.pending and time.monotonic() - self._since >= PUBLISH_COST_RATIO * self._cost

    def settle(self) -> None:
        """Between batches: publish when due. A switch publishes once, at its end; meanwhile each batch's
        vectors go into the new collection, which no reader searches yet (one write per batch, not per
        file: every write makes the readers of embedded Chroma open it afresh)."""
        if self.target is None:
            if self.due():
                self.publish()
            return
        if self._vectors:
            with self.index.writing():
                self.target.add([c for chunks, _ in self._vectors for c in chunks],
                                np.concatenate([vectors for _, vectors in self._vectors]))
            self._vectors = []

    def publish(self, rebuild: bool = False) -> None:
        """Make what is staged visible; `rebuild` publishes a new keyword index even with nothing staged."""
        if not self.pending and not rebuild:
            return
        self._begin()
        try:
            started = time.monotonic()
            generation = uuid.uuid4().hex
            catalog = self.index.catalog
            build_keyword(catalog).save(self.index.keyword_path(generation))
            self._cost = time.monotonic() - started
            marker = self.index.data_dir / MARKER
            # Else Chroma is not touched: readers keep their client.
            writes = bool(self._vectors or self._unowned or self.target)
            with self.index.writing() if writes else nullcontext():
                if self._vectors:  # one upsert for all files: 224 per-file upserts of 22 chunks took 2.4×
                    if self.target is None:  # (a switch's vectors go where no reader looks until the commit)
                        marker.write_text(json.dumps(sorted(self.interrupted.union(self._sources))))
                    self.store.add([c for chunks, _ in self._vectors for c in chunks],
                                         np.concatenate([vectors for _, vectors in self._vectors]))
                catalog.set_meta(GENERATION_KEY, generation)
                catalog.set_meta(KEYWORD_STALE_KEY, "0")
                old = None
                if self.target is not None and self._spec is not None:
                    old = self.index.store
                    catalog.set_meta(COLLECTION_KEY, self.target.name)
                    catalog.set_meta(EMBEDDING_KEY, self._spec.to_json())
                    self._unowned = set()  # the old collection goes whole, below
                self._close(None, None, None)  # the commit: readers see the new generation from here
                self.interrupted.difference_update(self._sources)
                if self.interrupted:
                    marker.write_text(json.dumps(sorted(self.interrupted)))
                else:
                    marker.unlink(missing_ok=True)
                if old is not None:
                    self.index.switched(self.target)  # this process's readers follow at once
                    old.drop()
                    self.target = None
                else:
                    self.index.store.delete(sorted(self._unowned))
        except BaseException:
            self._close(*sys.exc_info())
            raise
        finally:
            self._vectors, self._sources, self._unowned = [], [], set()
        self._since = time.monotonic()
        self._prune(keep={generation, self._previous})
        self._previous = generation

    def _begin(self) -> None:
        if self._tx is None:
            stack = ExitStack()
            stack.enter_context(self.index.catalog.transaction())
            self._tx = stack

    def _close(self, kind: type[BaseException] | None, exc: BaseException | None,
               tb: TracebackType | None) -> None:
        """Commit the open transaction, or roll it back when `exc` is given."""
        tx, self._tx = self._tx, None
        if tx is not None:
            tx.__exit__(kind, exc, tb)

    def _prune(self, keep: set[str | None]) -> None:
        """Delete keyword indexes of generations superseded a while ago, and the one written before
        generations had folders (its files sit in the keyword folder itself)."""
        folder = self.index.keyword_dir
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            name = entry.name.removesuffix(".tmp").removesuffix(".old")
            if name in keep:
                continue
            if GENERATION_NAME.fullmatch(name) and time.time() - entry.stat().st_mtime < KEEP_SUPERSEDED_S:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
