"""The ingest ledger (SQLite): which files are indexed, at which content hash, and their chunks.

It is the source of truth that Chroma and the keyword index are kept in line with: a file counts as
indexed only once its row is committed here, after its vectors are in Chroma, so a crash at any point
leaves work that the next ingest redoes, and `reconcile` removes vectors no file owns. A write that
finds the disk full raises OSError(ENOSPC) naming the catalog's file, like any other file write, so
`mcdewey ingest` reports it with the path instead of a traceback; the transaction is rolled back.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexing.chunk import Chunk, PageStart

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    product TEXT NOT NULL, version TEXT NOT NULL, doc TEXT NOT NULL, stem TEXT NOT NULL,
    vendor TEXT NOT NULL, doc_title TEXT NOT NULL, file_title TEXT,
    digest TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    pages INTEGER NOT NULL, chunks INTEGER NOT NULL, warnings TEXT NOT NULL DEFAULT '[]',
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    source TEXT NOT NULL REFERENCES files(source) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER, page_end INTEGER, page_label TEXT,
    heading TEXT NOT NULL, text TEXT NOT NULL, overlap_chars INTEGER NOT NULL DEFAULT 0,
    terms TEXT, page_starts TEXT
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source, ordinal);
CREATE INDEX IF NOT EXISTS chunks_by_page ON chunks(source, page);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

CHUNK_COLUMNS = (
    "c.chunk_id, c.text, f.vendor, f.product, f.version, f.doc, f.doc_title, c.source, "
    "c.page, c.page_end, c.page_label, c.heading, c.ordinal, c.page_starts"
)
CHUNK_INSERT = (
    "INSERT INTO chunks (chunk_id, source, ordinal, page, page_end, page_label, heading, text, overlap_chars, "
    "terms, page_starts) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
FILE_COLUMNS = (
    "source, product, version, doc, stem, vendor, doc_title, file_title, digest, size, mtime_ns, "
    "pages, chunks, warnings"
)


@dataclass(frozen=True)
class FileRecord:
    source: str
    product: str
    version: str
    doc: str
    stem: str
    vendor: str
    doc_title: str
    file_title: str | None
    digest: str
    size: int
    mtime_ns: int
    pages: int
    chunks: int
    warnings: list[str]


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row plus what only the viewer needs (how much of its start repeats the previous one)."""

    chunk: Chunk
    overlap_chars: int


def _dump_starts(chunk: Chunk) -> str | None:
    """[[offset, page, label], …], compact: one row per chunk of a 7,000-chunk manual adds up."""
    if not chunk.page_starts:
        return None
    return json.dumps([[s.offset, s.page, s.label] for s in chunk.page_starts], separators=(",", ":"))


def _load_starts(stored: str | None, page: int | None, label: str | None) -> list[PageStart]:
    """The stored page starts; a row written before they were kept (NULL) is all on its first page."""
    if stored is None:
        return [] if page is None else [PageStart(offset=0, page=page, label=label)]
    return [PageStart(offset=o, page=p, label=lb) for o, p, lb in json.loads(stored)]


def _row_to_chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=row[0], text=row[1], vendor=row[2], product=row[3], version=row[4], doc=row[5],
        doc_title=row[6], source=row[7], page=row[8], page_end=row[9], page_label=row[10],
        heading=json.loads(row[11]), ordinal=row[12], page_starts=_load_starts(row[13], row[8], row[10]),
    )


class Catalog:
    """Thread-safe access to the ledger; one SQLite connection per thread, WAL for readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._writing() as conn:
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
            if "terms" not in columns:  # catalogs written before keyword terms were kept
                conn.execute("ALTER TABLE chunks ADD COLUMN terms TEXT")
            if "page_starts" not in columns:  # catalogs written before page starts were kept
                conn.execute("ALTER TABLE chunks ADD COLUMN page_starts TEXT")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction (or a part of the open `transaction()`); SQLite's "database or disk is full"
        becomes OSError(ENOSPC, path)."""
        try:
            conn = self._conn()
            if getattr(self._local, "held", False):
                yield conn
                return
            with conn:
                yield conn
        except sqlite3.OperationalError as exc:
            self._raise_if_full(exc)
            raise

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """This thread's writes until the end commit together (readers see all of them or none: an
        ingest's publish); an exception rolls them all back."""
        conn = self._conn()
        self._local.held = True
        try:
            conn.execute("BEGIN")
            yield
            conn.commit()
        except sqlite3.OperationalError as exc:  # the commit found the disk full (writes say so themselves)
            conn.rollback()
            self._raise_if_full(exc)
            raise
        except BaseException:
            conn.rollback()
            raise
        finally:
            self._local.held = False

    def _raise_if_full(self, exc: sqlite3.OperationalError) -> None:
        """SQLite's "database or disk is full" raised again as OSError(ENOSPC) naming the catalog."""
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path)) from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """This thread's reads see one committed state throughout (a WAL read transaction), so one
        request never mixes two publishes. Re-entrant."""
        conn = self._conn()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.commit()

    # --- files -------------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self._conn().execute(f"SELECT {FILE_COLUMNS} FROM files").fetchall()
        return {r[0]: FileRecord(*r[:13], warnings=json.loads(r[13])) for r in rows}

    def file(self, source: str) -> FileRecord | None:
        r = self._conn().execute(f"SELECT {FILE_COLUMNS} FROM files WHERE source = ?", (source,)).fetchone()
        return None if r is None else FileRecord(*r[:13], warnings=json.loads(r[13]))

    def replace_file(
        self, record: FileRecord, chunks: list[Chunk], overlaps: list[int], terms: list[str] | None = None
    ) -> None:
        """Swap a file's chunks in one transaction (the commit point of ingesting that file)."""
        with self._writing() as conn:
            conn.execute("DELETE FROM chunks WHERE source = ?", (record.source,))
            conn.execute(
                "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (record.source, record.product, record.version, record.doc, record.stem, record.vendor,
                 record.doc_title, record.file_title, record.digest, record.size, record.mtime_ns,
                 record.pages, record.chunks, json.dumps(record.warnings), time.time()),
            )
            conn.executemany(
                CHUNK_INSERT,
                [(c.chunk_id, c.source, c.ordinal, c.page, c.page_end, c.page_label, json.dumps(c.heading),
                  c.text, o, t, _dump_starts(c))
                 for c, o, t in zip(chunks, overlaps, terms or [None] * len(chunks), strict=True)],
            )

    def touch_file(self, source: str, mtime_ns: int) -> None:
        """Remember a new mtime for a file whose content did not change."""
        with self._writing() as conn:
            conn.execute("UPDATE files SET mtime_ns = ? WHERE source = ?", (mtime_ns, source))

    def remove_files(self, sources: Iterable[str]) -> None:
        with self._writing() as conn:
            conn.executemany("DELETE FROM files WHERE source = ?", [(s,) for s in sources])

    # --- chunks ------------------------------------------------------------------------------
    def chunk_ids(self, source: str | None = None) -> list[str]:
        if source is None:
            return [r[0] for r in self._conn().execute("SELECT chunk_id FROM chunks")]
        return [r[0] for r in self._conn().execute(
            "SELECT chunk_id FROM chunks WHERE source = ? ORDER BY ordinal", (source,))]

    def known(self, chunk_ids: list[str]) -> set[str]:
        """Those of `chunk_ids` the catalog holds."""
        out: set[str] = set()
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i : i + 500]
            out.update(r[0] for r in self._conn().execute(
                f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})", part))
        return out

    def ends(self) -> list[str]:
        """The first and the last chunk written (a cheap sample of the index for a health check)."""
        return [r[0] for r in self._conn().execute(
            "SELECT chunk_id FROM chunks WHERE rowid IN ((SELECT MIN(rowid) FROM chunks), "
            "(SELECT MAX(rowid) FROM chunks))")]

    def get(self, chunk_ids: list[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        out: dict[str, Chunk] = {}
        for i in range(0, len(chunk_ids), 500):
            part = chunk_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self._conn().execute(
                f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN files f USING(source) "
                f"WHERE c.chunk_id IN ({marks})", part,
            ):
                out[row[0]] = _row_to_chunk(row)
        return out

    def neighbours(self, source: str, ordinal: int, before: int, after: int) -> list[Chunk]:
        rows = self._conn().execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN files f USING(source) "
            "WHERE c.source = ? AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal",
            (source, ordinal - before, ordinal + after),
        ).fetchall()
        return [_row_to_chunk(r) for r in rows]

    def page_chunks(self, source: str, first: int, last: int) -> list[StoredChunk]:
        """Chunks with text on pages first..last, in order (for the doc-context view): also the one
        that starts on the page before and runs onto `first` (a chunk spans at most two pages)."""
        rows = self._conn().execute(
            f"SELECT {CHUNK_COLUMNS}, c.overlap_chars FROM chunks c JOIN files f USING(source) "
            "WHERE c.source = ? AND c.page BETWEEN ? AND ? AND COALESCE(c.page_end, c.page) >= ? "
            "ORDER BY c.ordinal",
            (source, first - 1, last, first),
        ).fetchall()
        return [StoredChunk(_row_to_chunk(r), r[14]) for r in rows]

    def file_chunks(self, source: str) -> list[StoredChunk]:
        rows = self._conn().execute(
            f"SELECT {CHUNK_COLUMNS}, c.overlap_chars FROM chunks c JOIN files f USING(source) "
            "WHERE c.source = ? ORDER BY c.ordinal", (source,),
        ).fetchall()
        return [StoredChunk(_row_to_chunk(r), r[14]) for r in rows]

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every chunk in a stable order (the keyword index is built from this)."""
        cursor = self._conn().execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN files f USING(source) ORDER BY c.source, c.ordinal"
        )
        for row in cursor:
            yield _row_to_chunk(row)

    def iter_chunks_with_terms(self) -> Iterator[tuple[Chunk, str | None]]:
        """Every chunk with its stored keyword terms (None where they were not kept)."""
        cursor = self._conn().execute(
            f"SELECT {CHUNK_COLUMNS}, c.terms FROM chunks c JOIN files f USING(source) ORDER BY c.source, c.ordinal"
        )
        for row in cursor:
            yield _row_to_chunk(row), row[14]

    def set_terms(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Store keyword terms for chunks written before they were kept (chunk_id, terms)."""
        with self._writing() as conn:
            conn.executemany("UPDATE chunks SET terms = ? WHERE chunk_id = ?", [(t, cid) for cid, t in pairs])

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    # --- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
