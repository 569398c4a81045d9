"""An opened index: the catalog, the Chroma collection, the keyword index and the embedder.

Readers see published generations only. An ingest publishes a batch of files at once
(`indexing.publish`): their vectors go into Chroma, then their catalog rows, the id of the new
generation and the keyword index built for exactly those rows become visible in one SQLite commit. A
reader takes one generation per request (`reading`): its catalog reads share one SQLite read
transaction, its keyword index is the one of that generation, and the retriever drops Chroma hits the
generation's catalog does not hold (vectors of a batch being published, or left by a killed ingest).

Embedded Chroma needs one thing more: a client does not see what another process writes after it
opened (chromadb 1.5.9; `store._private_path` has what was measured). So an ingest writes Chroma
only while it holds the store lock exclusively, and changes the store stamp first (`writing`); a
reader holds the lock shared while it reads, and opens a fresh client when the stamp differs from the
one its client was opened under. With a Chroma server every client sees the same state, and neither is
needed (replicas on several machines share nothing but the server and the data directory).

Readers keep what they derive from the index (keyword index, products and versions, documents) through
`derived`, rebuilt only when a new generation is published: one cheap catalog read per call.

The catalog also records the model that wrote the vectors (`EMBEDDING_KEY`, an `EmbeddingSpec`) and the
Chroma collection that holds them (`COLLECTION_KEY`): another model's vectors live in another collection,
and an ingest that switches models publishes both keys with the new generation (`indexing.model_switch`).
A reader follows them: it searches the collection the generation names, and embeds the question with
the model that wrote it (`query_embedder`), loading that model when it is not the configured one; when
it cannot, the search is refused (`ModelMismatch`) rather than compare a question with vectors of
another model.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from indexing.catalog import Catalog
from indexing.embedder import Embedder
from indexing.embedding_spec import EmbeddingSpec, legacy_spec
from indexing.keyword import KeywordIndex
from indexing.store import READ_TIMEOUT_S, StoreUnavailable, VectorStore

GENERATION_KEY = "generation"
EMBEDDING_KEY = "embedding_model"  # the spec (JSON) of the model that wrote the served vectors
COLLECTION_KEY = "collection"  # the Chroma collection that holds them
PIPELINE_KEY = "pipeline"  # '<pipeline version>/<model name>': what the ingest last ran (indexes before specs)
STORE_LOCK = "store.lock"
STORE_GATE = "store.gate"  # taken first by both sides, so a steady stream of readers cannot starve a writer
STORE_STAMP = "store.stamp"
# How long a search waits for an ingest's write to embedded Chroma before it answers 503. A write is
# one publish's vectors: a publish of 279 chunks held the lock 0.15-0.3 s here, one of 2,790 chunks
# 2.1 s (Chroma's upsert, ~1,300 chunks/s on the shared 2 cores).
READ_WAIT_S = 60.0
WRITE_WAIT_S = 600.0  # an ingest waits for the searches under way; a search is never this long
POLL_S = 0.005
T = TypeVar("T")


@contextmanager
def _flock(path: Path, exclusive: bool, wait_s: float) -> Iterator[None]:
    """`flock` on `path`, polled so that it gives up after `wait_s`; released when the block ends (and
    by the kernel when the process dies). Each call opens its own descriptor: threads lock apart."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"the index at {path.parent} has been busy for over {wait_s:.0f} s "
                        "(an ingest writing it, or searches holding it)") from None
                time.sleep(POLL_S)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class IndexState:
    """What a reader serves now (for /healthz): its generation, and whether each part agrees."""

    generation: str | None
    chunks: int  # in the catalog of this generation
    keyword_chunks: int  # in the keyword index loaded for it
    vectors: int  # in Chroma (more while an ingest publishes, or after one was killed)
    missing: list[str]  # sampled chunks of the catalog that Chroma has no vector for

    @property
    def current(self) -> bool:
        return self.keyword_chunks == self.chunks and not self.missing


class ModelMismatch(StoreUnavailable):
    """The index's vectors are another model's, and this process cannot embed a question with that model."""


class Index:
    def __init__(
        self,
        data_dir: Path,
        chroma_url: str | None = None,
        collection: str = "mcdewey",
        embedder: Embedder | None = None,
        chroma_timeout: float = READ_TIMEOUT_S,
        pinned: bool = False,
    ) -> None:
        """`pinned`: search `collection` itself with `embedder` as given, whatever the catalog records
        (the bench compares encoders' vectors in collections of its own over one catalog)."""
        self.pinned = pinned
        self.data_dir = data_dir
        self.chroma_url = chroma_url
        self.chroma_timeout = chroma_timeout
        self.collection_name = collection
        self.embedder = embedder or Embedder()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(data_dir / "catalog.sqlite3")
        self._derived: dict[str, tuple[str | None, Any]] = {}
        self._lock = threading.RLock()
        self._local = threading.local()
        self._store: VectorStore | None = None
        self._stamp: str | None = None  # the store stamp the open client has seen everything up to
        self._retired: list[VectorStore] = []
        self._active: tuple[tuple[str | None, ...], str, EmbeddingSpec | None] | None = None
        self._followers: dict[tuple[object, ...], Embedder] = {}  # models of indexes another process switched

    # --- the model and collection served --------------------------------------------------------------
    def active(self) -> tuple[str, EmbeddingSpec | None]:
        """The collection readers search and the spec of its vectors (None: nothing indexed yet), as the
        catalog records them (a reader inside `reading`: its generation's)."""
        if self.pinned:
            return self.collection_name, self.embedder.spec
        meta = tuple(self.catalog.get_meta(k) for k in (COLLECTION_KEY, EMBEDDING_KEY, PIPELINE_KEY))
        kept = self._active
        if kept is not None and kept[0] == meta:
            return kept[1], kept[2]
        spec = EmbeddingSpec.from_json(meta[1]) if meta[1] else legacy_spec(meta[2])
        name = meta[0] or self.collection_name
        self._active = (meta, name, spec)
        return name, spec

    def query_embedder(self) -> Embedder:
        """The embedder of the model that wrote the served vectors: the configured one, or that model
        loaded beside it (an ingest switched the index's model while this process served it)."""
        if self.pinned:
            return self.embedder
        _, spec = self.active()
        try:
            configured = self.embedder.spec
        except ValueError as exc:  # a configured folder that does not load (ModelLoadError)
            raise ModelMismatch(str(exc)) from None
        if spec is None or spec.identity == configured.identity:
            return self.embedder
        with self._lock:
            follower = self._followers.get(spec.identity)
            if follower is None:
                follower = self._followers[spec.identity] = self._load_follower(spec)
        return follower

    def _load_follower(self, spec: EmbeddingSpec) -> Embedder:
        configured = self.embedder
        try:
            backend = "onnx-int8" if spec.variant else configured.backend if spec.kind == "packaged" else None
            follower = Embedder(configured.threads, configured.batch_size,
                                backend if backend in ("onnx", "torch", "onnx-int8") else None,
                                configured.model_cache, configured.requested_device, spec.name,
                                spec.query_prompt, spec.document_prompt, configured.ollama_host)
            if follower.spec.identity != spec.identity:
                raise ValueError("that model has changed since it wrote them (other weights, prompts or size)")
        except Exception as exc:
            raise ModelMismatch(
                f"the index at {self.data_dir} holds vectors of {spec.label}, and this process cannot embed "
                f"a question with that model ({str(exc)[:300]}); a search would compare it with another "
                f"model's vectors. Make {spec.name} available again, or re-embed the library with the model "
                f"set in MCDEWEY_EMBED_MODEL ({configured.spec.label}): run `mcdewey ingest`") from None
        return follower

    # --- Chroma ------------------------------------------------------------------------------------
    @property
    def store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                self._stamp = self._read_stamp()
                self._store = VectorStore(self.data_dir, self.chroma_url, self.active()[0],
                                          timeout=self.chroma_timeout)
            return self._store

    @property
    def embedded(self) -> bool:
        return not self.chroma_url

    def _read_stamp(self) -> str | None:
        try:
            return (self.data_dir / STORE_STAMP).read_text()
        except FileNotFoundError:
            return None

    def _refresh(self) -> None:
        """Open embedded Chroma afresh when another process wrote it since this client was opened.

        The old client is closed one refresh later, not now: a request outside `reading` may still
        hold it."""
        stamp = self._read_stamp()
        with self._lock:
            if self._store is None or stamp == self._stamp:
                return
            retired, self._retired = self._retired, [self._store]
            self._store = VectorStore(self.data_dir, self.chroma_url, self.active()[0], private=True,
                                      timeout=self.chroma_timeout)
            self._stamp = stamp
        for store in retired:
            store.close()

    def switched(self, store: VectorStore) -> None:
        """The ingest in this process published `store` as the served collection (a model switch)."""
        with self._lock:
            if self._store is not None and self._store is not store:
                self._retired.append(self._store)
            self._store = store

    def _follow(self) -> None:
        """Search the collection the generation names (an ingest switched models since the client opened)."""
        name = self.active()[0]
        with self._lock:
            if self._store is None or self._store.name == name:
                return
            retired, self._retired = self._retired, [self._store]
            self._store = VectorStore(self.data_dir, self.chroma_url, name, private=True,
                                      timeout=self.chroma_timeout)
            self._stamp = self._read_stamp()
        for store in retired:
            store.close()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One request's view: the latest published generation, held until the block ends (re-entrant).

        Embedded Chroma is held shared meanwhile, and read afresh if an ingest wrote it since."""
        if getattr(self._local, "reading", False):
            yield
            return
        self._local.reading = True
        try:
            with ExitStack() as held:
                if self.embedded:
                    held.enter_context(_flock(self.data_dir / STORE_GATE, False, READ_WAIT_S))
                    held.enter_context(_flock(self.data_dir / STORE_LOCK, False, READ_WAIT_S))
                    self._refresh()
                held.enter_context(self.catalog.snapshot())
                self._follow()
                yield
        finally:
            self._local.reading = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold embedded Chroma for writing: no reader reads it meanwhile, and every reader opens it
        afresh after (the stamp changes before the first write, so a write cut short counts too)."""
        if not self.embedded:
            yield
            return
        with (_flock(self.data_dir / STORE_GATE, True, WRITE_WAIT_S),
              _flock(self.data_dir / STORE_LOCK, True, WRITE_WAIT_S)):
            self._refresh()  # a client opened before another process wrote: read afresh first
            stamp = uuid.uuid4().hex
            tmp = self.data_dir / f"{STORE_STAMP}.tmp"
            tmp.write_text(stamp)
            tmp.replace(self.data_dir / STORE_STAMP)
            with self._lock:
                self._stamp = stamp  # this client sees its own writes
            yield

    def close(self) -> None:
        with self._lock:
            stores = [s for s in (self._store, *self._retired) if s is not None]
            self._store, self._retired = None, []
        for store in stores:
            store.close()

    # --- generations -------------------------------------------------------------------------------
    @property
    def keyword_dir(self) -> Path:
        """The keyword indexes' folder (indexes written before generations had folders sit in it)."""
        return self.data_dir / "keyword"

    def keyword_path(self, generation: str | None) -> Path:
        """The keyword index published with `generation`."""
        return self.keyword_dir / generation if generation else self.keyword_dir

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

    def _load_keyword(self, catalog: Catalog) -> KeywordIndex:
        """The generation's keyword index; built from its catalog if its folder is gone (a reader
        that started on a generation superseded minutes ago) or was never written."""
        for folder in (self.keyword_path(catalog.get_meta(GENERATION_KEY)), self.keyword_dir):
            loaded = KeywordIndex.load(folder)
            if loaded is not None:
                return loaded
        return KeywordIndex.build(catalog.iter_chunks_with_terms())

    @property
    def keyword(self) -> KeywordIndex:
        """The keyword index of the latest published generation."""
        return self.derived("keyword", self._load_keyword)

    def state(self) -> IndexState:
        """What this reader serves now; call it inside `reading`. Reads a vector of the first and the
        last chunk through the same client searches use, so a client that went stale shows here."""
        sample = self.catalog.ends()
        present = self.store.vectors(sample)
        return IndexState(
            generation=self.catalog.get_meta(GENERATION_KEY), chunks=self.catalog.count(),
            keyword_chunks=len(self.keyword.ids), vectors=self.store.count(),
            missing=[c for c in sample if c not in present],
        )
