"""Library files → loaders → chunks → embeddings → Chroma + catalog + keyword index.

Incremental: a file is re-read only when its content changed; chunks of deleted files are
removed. Within a re-read file only the chunks whose embedded text changed are embedded again: the
others keep the vector already in Chroma, so an edited page, or a new pipeline version that changes a
few headings, costs the chunks it changed and not the whole library. Files are published a batch
at a time (`indexing.publish`): their vectors, catalog rows and the keyword index built for them
become visible to readers together, so a search during a run sees whole files and a run killed at
any point leaves the last published generation whole; every run ends by reconciling Chroma with the
catalog, so the next run repairs what a killed one left.

Bad files never stop a run: each is reported with its path and a reason, as `failed` (nothing of it
is in the index, or only its previously indexed version) or as a warning (it is in the index;
`partial` says whether some of its text is missing). A file yielding more than `max_file_chunks`
chunks keeps its first ones only, so one pathological file (a 10 MB single line) cannot hold an
ingest for an hour.

This module runs the steps over the library and keeps the stores in step; reading and chunking one
file is `indexing.prepared_file`, reusing or making its vectors `indexing.chunk_vectors`, and the
report's types are `indexing.ingest_report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from indexing.catalog import FileRecord
from indexing.chunk_vectors import chunk_vectors
from indexing.chunker import Chunker
from indexing.document import LoaderError
from indexing.index import GENERATION_KEY, PIPELINE_KEY, Index
from indexing.ingest_progress import PREPARING_MODEL, EmbedTracker, IngestProgress, Progress, no_progress
from indexing.ingest_report import IngestReport, Problem, file_problems
from indexing.library import SourceFile, file_digest, scan_library
from indexing.library_owner import claim
from indexing.locks import LockHeld, file_lock
from indexing.model_switch import SWITCHING_MODEL, begin_switch, end_switch, start_model
from indexing.prepared_file import PreparedFile, prepare_file
from indexing.publish import KEYWORD_STALE_KEY, Publisher
from indexing.run_marker import begin, end

# Bump when loading, chunking or the embedded text changes: every file is then read again once (only
# chunks whose embedded text changed are embedded again). 2: headings of admonitions (HTML "Note",
# "Warning" boxes) no longer replace the section title in the heading trail. 3: deeply nested HTML is
# read in full (it was cut at 255 levels); on the shared library no chunk changes. 4: chunks record
# where each page begins in their text (page_starts), so a chunk running onto the next page is cited
# and shown at the exact page; text and embedded text are unchanged, so no chunk is embedded again.
PIPELINE_VERSION = "4"
EMBED_BATCH_CHUNKS = 1024
"""Chunks encoded per batch by default (MCDEWEY_INGEST_BATCH); a batch spans files and is encoded
longest text first, so each encoder call pads little. On the same 3,000 library chunks, groups of
256 encoded at 66 chunks/s, of 1,024 at 70–71, of 3,000 at 71–73; new files become searchable a
batch or more later."""
PARSE_AHEAD_FILES = 64
PARSE_AHEAD_BATCHES = 2
"""How far the parse thread may run ahead of the encoder: two batches of chunks, at most 64 files.
With three files ahead (before), a batch of small files (22 chunks on average) waited for most of
them to be parsed after the last batch's encoding: 3.4 s of a 95 s ingest of every 6th library file."""
DEFAULT_MAX_FILE_CHUNKS = 10_000
"""Chunks kept per file (`mcdewey ingest --max-file-chunks`). The largest manual of the shared corpus
(R's 2,415-page reference manual, 4.3 MB of text) makes 7,712 chunks; 10,000 leaves it whole while
bounding a pathological file (a 10 MB single line would make ~25,000) to about the cost of that manual.
Chunking stops at the cap, so the rest of such a file is not even tokenized."""


class IngestBusy(RuntimeError):
    """Another ingest holds the data directory."""


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """One ingest per data directory; a second one is refused with a clear message."""
    with ExitStack() as held:
        try:
            held.enter_context(file_lock(data_dir / "ingest.lock", wait=False, holder=f"pid {os.getpid()}"))
        except LockHeld as exc:
            owner = exc.holder or "another process"
            raise IngestBusy(f"another ingest ({owner}) is running on {data_dir}; try again when it ends") from None
        yield


class Ingester:
    def __init__(self, index: Index, chunker: Chunker | None = None, progress: Progress | None = None,
                 max_file_chunks: int = DEFAULT_MAX_FILE_CHUNKS, batch_chunks: int = EMBED_BATCH_CHUNKS) -> None:
        if max_file_chunks < 1:
            raise ValueError(f"max_file_chunks must be at least 1, not {max_file_chunks}")
        if batch_chunks < 1:
            raise ValueError(f"batch_chunks must be at least 1, not {batch_chunks}")
        self.batch_chunks = batch_chunks
        self.index = index
        self.chunker = chunker or Chunker(index.embedder.count_tokens, max_tokens=index.embedder.chunk_tokens)
        self.progress = progress or no_progress
        self._on_vectors: Callable[[int, int], None] | None = None  # the pass's tracker (`_process`)
        self.max_file_chunks = max_file_chunks
        # Whether vectors in the index may stand for unchanged chunks (not after `--force`, not when
        # the embedding model changed); set by `run`.
        self._reuse = True
        self._publisher: Publisher | None = None  # the run's (`run`)
        self._dirty: set[str] = set()  # files a killed run was publishing: read again, no vector reused

    def prepare(self, sf: SourceFile, digest: str, size: int, mtime_ns: int) -> PreparedFile:
        """Parse and chunk one file (runs in a worker thread while the main thread embeds)."""
        return prepare_file(sf, digest, size, mtime_ns, self.chunker, self.max_file_chunks)

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            raise RuntimeError("files are staged for publishing only inside Ingester.run")
        return self._publisher

    def run(self, library: Path, force: bool = False) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        asked_force = force  # (a new pipeline forces re-reading below; only the caller's may replace a library)
        with ingest_lock(self.index.data_dir), Publisher(self.index) as self._publisher:
            catalog = self.index.catalog
            with self.index.reading():  # (a client opened before another process's ingest is read afresh)
                self.index.store.heartbeat()  # an unreachable Chroma fails the run now, not after parsing
            self._dirty = self.publisher.interrupted
            report.resumed = begin(self.index.data_dir)
            pipeline = f"{PIPELINE_VERSION}/{self.index.embedder.name}"
            known = catalog.files()
            self._reuse = not force
            previous = catalog.get_meta(PIPELINE_KEY)
            if not known:  # nothing to re-embed: a run killed now resumes instead of starting over
                start_model(self.index)
                catalog.set_meta(PIPELINE_KEY, pipeline)
            elif begin_switch(self.index, self.publisher):  # another model: its vectors built beside the old
                force, self._reuse = True, False
                served = self.index.active()[1]
                report.model_switch = f"{served.label if served else '?'} → {self.index.embedder.spec.label}"
                self._stage(SWITCHING_MODEL, 0, 1)
            elif previous != pipeline:
                force = True
            scan = scan_library(library)
            claim(catalog, self.index.data_dir, library, replace=asked_force)  # one library per data directory
            report.skipped = [Problem(s.source, s.reason) for s in scan.skipped]
            report.failed = [Problem(s.source, s.reason) for s in scan.failed]
            todo = self._changed(scan.files, known, force, report)
            report.repaired = len(self._dirty & {sf.source for sf, *_ in todo})  # a killed publish's files
            gone = sorted(set(known) - {f.source for f in scan.files})
            self._remove(gone, report)
            self._process(todo, known, report)
            report.repaired += self._reconcile(scan.files, report)
            # The last batch, and a keyword index that a killed run or an older McDewey left unpublished.
            rebuild = force or catalog.get_meta(KEYWORD_STALE_KEY) == "1" or not self.index.keyword_path(
                catalog.get_meta(GENERATION_KEY)).is_dir()
            if self.publisher.pending or rebuild:
                self._stage("keyword index", 0, 1)
                self.publisher.publish(rebuild)
                self._stage("keyword index", 1, 1)
            catalog.set_meta(PIPELINE_KEY, pipeline)
            if end_switch(self.index):
                self._stage(SWITCHING_MODEL, 1, 1)
            report.chunks_total = catalog.count()
            end(self.index.data_dir)
        report.warnings = list({(w.source, w.reason): w for w in report.warnings}.values())
        report.seconds = time.perf_counter() - started
        return report

    def _changed(self, files: list[SourceFile], known: dict[str, FileRecord], force: bool,
                 report: IngestReport) -> list[tuple[SourceFile, str, int, int]]:
        todo: list[tuple[SourceFile, str, int, int]] = []
        for n, sf in enumerate(files):
            self._stage("scanning", n, len(files))
            try:
                stat = sf.path.stat()
                old = None if sf.source in self._dirty else known.get(sf.source)
                if not force and old and old.size == stat.st_size and old.mtime_ns == stat.st_mtime_ns:
                    report.unchanged += 1
                    report.warnings.extend(file_problems(sf.source, old.warnings, old.chunks))
                    continue
                digest = file_digest(sf.path)
            except OSError as exc:
                report.failed.append(Problem(sf.source, f"cannot read: {exc.strerror or exc}"))
                continue
            if not force and old and old.digest == digest and self._same_identity(old, sf):
                self.index.catalog.touch_file(sf.source, stat.st_mtime_ns)
                report.unchanged += 1
                report.warnings.extend(file_problems(sf.source, old.warnings, old.chunks))
                continue
            todo.append((sf, digest, stat.st_size, stat.st_mtime_ns))
        self._stage("scanning", len(files), len(files))
        return todo

    @staticmethod
    def _same_identity(old: FileRecord, sf: SourceFile) -> bool:
        return (old.stem, old.vendor) == (sf.stem, sf.vendor) and (
            sf.doc_title is None or old.doc_title == sf.doc_title)

    def _remove(self, sources: list[str], report: IngestReport) -> None:
        for source in sources:
            self.publisher.remove(source)
            report.removed.append(source)

    def _prepared(self, todo: list[tuple[SourceFile, str, int, int]], known: dict[str, FileRecord],
                  report: IngestReport) -> Iterator[PreparedFile]:
        """Parse files ahead in a worker thread (see PARSE_AHEAD_BATCHES), in order, reporting failures."""

        def failed(source: str, reason: str) -> None:
            kept = " (its previously indexed version stays in the index)" if source in known else ""
            report.failed.append(Problem(source, reason + kept))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcdewey-parse") as pool:
            pending: list[tuple[SourceFile, Future[PreparedFile]]] = []
            items = iter(todo)

            def parsed_ahead() -> int:
                return sum(len(f.result().chunks) for _, f in pending if f.done() and f.exception() is None)

            # Queue files while fewer than PARSE_AHEAD_BATCHES batches wait parsed: the thread parses
            # them while this one encodes a batch.
            ahead = PARSE_AHEAD_BATCHES * self.batch_chunks
            try:
                while True:
                    while len(pending) < PARSE_AHEAD_FILES and parsed_ahead() < ahead:
                        nxt = next(items, None)
                        if nxt is None:
                            break
                        pending.append((nxt[0], pool.submit(self.prepare, *nxt)))
                    if not pending:
                        return
                    sf, fut = pending.pop(0)
                    try:
                        prepared = fut.result()
                    except LoaderError as exc:
                        failed(sf.source, str(exc))
                    except Exception as exc:  # a chunker bug on one odd file must not stop the run
                        failed(sf.source, f"{type(exc).__name__}: {str(exc)[:200]}")
                    else:
                        yield prepared
            finally:  # a run that stops early does not wait for the files queued ahead
                for _, queued in pending:
                    queued.cancel()

    def _process(self, todo: list[tuple[SourceFile, str, int, int]], known: dict[str, FileRecord],
                 report: IngestReport) -> None:
        batch: list[PreparedFile] = []
        size = 0
        tracker = EmbedTracker(self.progress, [(sf.source, nbytes) for sf, _, nbytes, _ in todo])
        self._on_vectors = tracker.vectors
        for n, prepared in enumerate(self._prepared(todo, known, report)):
            if n == 0:
                self._ready_model()  # while the parse thread reads the next files
            tracker.read(prepared.file.source, len(prepared.chunks))
            batch.append(prepared)
            size += len(prepared.chunks)
            if size >= self.batch_chunks:
                self._commit(batch, known, report)
                batch, size = [], 0
        if batch:
            self._commit(batch, known, report)
        tracker.finish()

    def _stage(self, stage: str, done: int, total: int) -> None:
        self.progress(IngestProgress(stage, done, total))

    def _ready_model(self) -> None:
        """Export the embedding model on its first use on this machine, and say so (~20 s, once)."""
        if not self.index.embedder.prepared:
            self._stage(PREPARING_MODEL, 0, 1)
            self.index.embedder.load()
            self._stage(PREPARING_MODEL, 1, 1)

    def _commit(self, batch: list[PreparedFile], known: dict[str, FileRecord], report: IngestReport) -> None:
        """Stage a batch of files for publishing; first publish the batches before it, when due (so the
        run's last batch is published at its end, with whatever the check of the index repairs)."""
        self.publisher.settle()
        files = [(p.file.source, p.embed_texts) for p in batch]
        reusable = {s for s in known if s not in self._dirty} if self._reuse else set()
        vectors, embedded = chunk_vectors(self.index, files, reusable, self._on_vectors)
        report.chunks_embedded += embedded
        offset = 0
        for p in batch:
            n = len(p.chunks)
            sf = p.file
            record = FileRecord(
                sf.source, sf.product, sf.version, sf.doc, sf.stem, sf.vendor,
                p.chunks[0].doc_title if p.chunks else (sf.doc_title or p.file_title or sf.doc),
                p.file_title, p.digest, p.size, p.mtime_ns, p.pages, n, p.warnings,
            )
            self.publisher.put(record, p.chunks, vectors[offset : offset + n], p.overlaps, p.terms)
            offset += n
            (report.updated if sf.source in known else report.added).append(sf.source)
            report.chunks_added += n
            report.warnings.extend(file_problems(sf.source, p.warnings, n))

    def _reconcile(self, files: list[SourceFile], report: IngestReport) -> int:
        """Make Chroma hold exactly the catalog's chunks; re-embed files whose vectors went missing (their
        number is returned; the vectors no file owns are counted in `report.vectors_removed`).
        (What is staged counts as written: the catalog seen here already holds it, Chroma not yet.)"""
        self._stage("checking index", 0, 1)
        in_store = self.publisher.store.all_ids()
        in_catalog = set(self.index.catalog.chunk_ids())
        orphans = in_store - in_catalog - self.publisher.unowned()
        if orphans:
            with self.index.writing():
                self.publisher.store.delete(sorted(orphans))
        report.vectors_removed = len(orphans)
        missing = in_catalog - in_store - self.publisher.staged()
        repaired = 0  # files re-embedded because their vectors went missing
        if missing:
            sources = {self.index.catalog.get([cid])[cid].source for cid in missing}
            by_source = {f.source: f for f in files}
            redo = []
            for source in sorted(sources):
                sf = by_source.get(source)
                if sf is None:
                    continue
                stat = sf.path.stat()
                redo.append((sf, file_digest(sf.path), stat.st_size, stat.st_mtime_ns))
            self._process(redo, {s: r for s, r in self.index.catalog.files().items()}, report)
            repaired += len(redo)
            report.updated = [s for s in report.updated if s not in sources]
        self._stage("checking index", 1, 1)
        return repaired
