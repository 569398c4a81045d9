"""Uploads on their way into the library: streamed to a hidden staging folder, checked, then renamed in.

A staged upload lives in `<library>/.mcdewey-incoming/<id>/<product>/<version>/<doc>/<file>`: inside the
library (so moving it in is a rename on one filesystem, and a reader of the library never sees half a
file) but hidden (the library scan skips names starting with a dot, so an ingest never reads it). A
file is written in pieces as they arrive (never whole in memory), counted against the upload limit,
checked (`content.ContentCheck`), and deleted on any failure: a client that disconnects, a full disk, a
file that is not what its name says. Two uploads of the same file at once: the second is refused.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from assistant.errors import BadRequest
from assistant.library_admin import names
from assistant.library_admin.content import ContentCheck
from assistant.library_admin.errors import Conflict, NoSpace, TooLarge
from assistant.library_admin.unzip import extract_zip

INCOMING = ".mcdewey-incoming"
METADATA = "mcdewey.toml"
MAX_FIELD_CHARS = 200  # a title or a vendor name; longer is a mistake, not a title


def _disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Claims:
    """Library paths being uploaded right now (one process): a second upload of one is refused."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def take(self, path: str) -> None:
        with self._lock:
            if path in self._held:
                raise Conflict(f"{path} is being uploaded by another request; try again when it ends")
            self._held.add(path)

    def release(self, paths: set[str]) -> None:
        with self._lock:
            self._held -= paths


class StagedFile:
    """One file being written: `write` each piece as it comes, then `close` (checks it) or `abort`."""

    def __init__(self, upload: Upload, path: Path, name: str) -> None:
        self.upload = upload
        self.path = path
        self.check = ContentCheck(name)
        self.handle: BinaryIO | None = path.open("xb")

    def _full(self) -> NoSpace:
        return NoSpace(f"no space left on device while writing {self.check.name}; nothing was kept")

    def write(self, data: bytes) -> None:
        self.upload.count(len(data))
        self.check.feed(data)
        assert self.handle is not None
        try:
            self.handle.write(data)
        except OSError as exc:
            if _disk_full(exc):
                raise self._full() from None
            raise

    def close(self) -> None:
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError as exc:
                if _disk_full(exc):
                    raise self._full() from None
                raise
            finally:
                self.handle = None
        self.check.finish()


class Upload:
    """The files of one request, staged under a folder of their own until `finish` or `abort`."""

    def __init__(self, library: Path, claims: Claims, limit: int, unzipped_limit: int, product: str | None,
                 version: str | None, doc: str | None, title: str | None = None, vendor: str | None = None) -> None:
        self.library = library
        self.claims = claims
        self.limit = limit
        self.unzipped_limit = unzipped_limit
        self.where = (product, version, doc) if product or version or doc else None
        if self.where is not None:
            for kind, value in zip(names.LEVELS, self.where, strict=True):
                names.folder(kind, value or "")
        self.title = _field("title", title)
        self.vendor = _field("vendor", vendor)
        self.root = library / INCOMING / uuid.uuid4().hex
        self.received = 0
        self.files: list[StagedFile] = []
        self.claimed: set[str] = set()
        try:
            self.root.mkdir(parents=True)
        except OSError as exc:
            if _disk_full(exc):
                raise NoSpace("no space left on device for the upload") from None
            raise

    def count(self, n: int) -> None:
        self.received += n
        if self.received > self.limit:
            raise TooLarge(f"upload larger than {self.limit:,} bytes (MCDEWEY_MAX_UPLOAD_BYTES); nothing was kept")

    def add_file(self, name: str) -> StagedFile:
        """A new file of this upload: a document for the named doc, or a zip of a library tree."""
        if name.lower().endswith(".zip") and "/" not in name and "\\" not in name:
            path = self.root / f"{uuid.uuid4().hex}.zip"
        else:
            names.file_name(name)
            if self.where is None:
                raise BadRequest(f"{name}: say which product, version and doc it belongs to (before the files)")
            relative = "/".join((*self.where, name))  # type: ignore[arg-type]
            if any(f.path.relative_to(self.root).as_posix() == relative for f in self.files):
                raise BadRequest(f"{name} is given twice in one upload")
            self.claims.take(relative)
            self.claimed.add(relative)
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
        staged = StagedFile(self, path, name)
        self.files.append(staged)
        return staged

    def finish(self) -> list[str]:
        """Check the whole upload, unpack its zips; the library paths it will write, '/'-separated."""
        if not self.files:
            raise BadRequest("the upload holds no file")
        for staged in self.files:
            staged.close()
        for staged in [f for f in self.files if f.path.suffix == ".zip" and f.path.parent == self.root]:
            extract_zip(staged.path, self.root, self.unzipped_limit)
            staged.path.unlink()
        if self.where is not None and (self.title or self.vendor):
            meta = "".join(f"{key} = {json.dumps(value)}\n" for key, value in
                           (("title", self.title), ("vendor", self.vendor)) if value)
            (self.root.joinpath(*self.where) / METADATA).write_text(meta, encoding="utf-8")  # type: ignore[arg-type]
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def release(self) -> None:
        """The claims on its paths end (the upload is queued as a job, or failed)."""
        self.claims.release(self.claimed)

    def abort(self) -> None:
        """Delete everything staged (a failed or cut-off upload leaves nothing behind)."""
        for staged in self.files:
            if staged.handle is not None:
                staged.handle.close()
                staged.handle = None
        shutil.rmtree(self.root, ignore_errors=True)
        self.release()


def _field(kind: str, value: str | None) -> str | None:
    value = (value or "").strip()
    if len(value) > MAX_FIELD_CHARS or any(ord(ch) < 32 for ch in value):
        raise BadRequest(f"{kind} must be one line of at most {MAX_FIELD_CHARS} characters")
    return value or None


def move_in(staged_root: Path, library: Path, on_replace: Callable[[str], None]) -> list[str]:
    """Rename each staged file into its place in the library (a file already there goes to `on_replace`
    first, the trash); the staging folder is removed. Returns the library paths written."""
    written = []
    for path in sorted(p for p in staged_root.rglob("*") if p.is_file()):
        relative = path.relative_to(staged_root).as_posix()
        target = library / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.name != METADATA:
            on_replace(relative)
        os.replace(path, target)
        written.append(relative)
    shutil.rmtree(staged_root, ignore_errors=True)
    return written


STALE_S = 3600  # a staging folder untouched this long belongs to no upload in progress (of any process)


def sweep(library: Path, keep: set[str]) -> None:
    """Remove staged uploads no queued job owns, left by a server that stopped mid-upload (only stale
    ones: another server process on the same library may be receiving one now)."""
    incoming = library / INCOMING
    if incoming.is_dir():
        for entry in incoming.iterdir():
            if entry.name not in keep and time.time() - entry.stat().st_mtime > STALE_S:
                shutil.rmtree(entry, ignore_errors=True)
