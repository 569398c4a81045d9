"""Walk a library laid out as `<product>/<version>/<doc>/<files>` and say what each file is.

Product, version and doc come from the path. Vendor and titles come from metadata when present:
the corpus' `MANIFEST.tsv` at the library root, and McDewey's own `mcdewey.toml` files, which may sit
at the root or in any product, version or doc folder (the closest one wins), e.g.::

    vendor = "Cisco"
    title = "Unity Connection Administration Guide"   # in a doc folder: the document title
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from indexing.chunk import FOLDER_NAME, FOLDER_NAME_RULE, ID_SEPARATOR, file_id_prefix
from indexing.loaders import is_supported
from indexing.loaders.generated import generated_page

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
METADATA_FILE = "mcdewey.toml"
METADATA_MISPLACED = f"{METADATA_FILE} is read only in the library, product, version and doc folders"
# Build folders whose text duplicates the manual itself.
GENERATED_DIRS = {"_sources": "Sphinx copy of the sources of the HTML pages beside it"}
MANIFEST_FILE = "MANIFEST.tsv"
# Loader preference when two files of one doc share a stem (guide.md beside guide.pdf).
SUFFIX_ORDER = {".md": 0, ".markdown": 0, ".pdf": 1, ".html": 2, ".htm": 2, ".txt": 3, ".text": 3}


@dataclass(frozen=True)
class SourceFile:
    """A supported file of the library, with the identity its chunks will carry."""

    path: Path
    source: str
    product: str
    version: str
    doc: str
    stem: str
    vendor: str
    doc_title: str | None

    @property
    def id_prefix(self) -> str:
        return file_id_prefix(self.product, self.version, self.doc, self.stem)


@dataclass
class Skipped:
    source: str
    reason: str


@dataclass
class LibraryScan:
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)


def file_digest(path: Path) -> str:
    """Content hash: re-ingest decides by content, not by mtime alone."""
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_manifest(root: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    path = root / MANIFEST_FILE
    if not path.is_file():
        return {}
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            key = (row.get("product", ""), row.get("version", ""), row.get("doc_slug", ""))
            rows[key] = row
    return rows


class _Metadata:
    """Cached `mcdewey.toml` lookups, nearest folder first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[Path, dict[str, str]] = {}
        self.errors: list[Skipped] = []

    def _load(self, folder: Path) -> dict[str, str]:
        if folder not in self.cache:
            path = folder / METADATA_FILE
            data: dict[str, str] = {}
            if path.is_file():
                try:
                    raw = tomllib.loads(path.read_text(encoding="utf-8"))
                    data = {k: str(v) for k, v in raw.items() if isinstance(v, str | int | float)}
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                    self.errors.append(Skipped(str(path.relative_to(self.root)), f"bad metadata: {exc}"))
            self.cache[folder] = data
        return self.cache[folder]

    def lookup(self, doc_dir: Path, key: str, doc_level: bool) -> str | None:
        """Closest value of `key` from the doc folder up to the root ('title' only at doc level)."""
        folder = doc_dir
        while True:
            value = self._load(folder).get(key)
            if value:
                return value
            if doc_level or folder == self.root:
                return None
            folder = folder.parent


def _bad_name(rel: str) -> str | None:
    """Why a path cannot name a document (it must be UTF-8, printable, and fit in a chunk id)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8"
    if _CONTROL.search(rel):
        return "file name contains control characters"
    if ID_SEPARATOR in rel:
        return f"file name contains {ID_SEPARATOR!r} (the separator of chunk ids)"
    return None


def _link_problem(path: Path, resolved_root: Path) -> str | None:
    """Why a symlink cannot be read as a document: a loop, a broken link, a link out of the library."""
    if not path.is_symlink():
        return None
    try:
        target = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 turns ELOOP into RuntimeError("Symlink loop ...")
        return "symlink loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return f"cannot read: {exc.strerror or exc} (broken symlink)"
    if not target.is_relative_to(resolved_root):
        return "symlink pointing outside the library"
    return None


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as a document: gone since the walk, or a FIFO, socket or device."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):  # reading a FIFO would block the whole run
        return "not a regular file (FIFO, socket or device)"
    return None


def _folder_not_entered(folder: Path, resolved_root: Path) -> str | None:
    """Why the walk does not enter `folder` (None: it does). Symlinked folders are never followed: a
    link to a folder that holds it would walk forever, and one elsewhere in the library would index
    its files twice."""
    if folder.is_symlink():
        try:
            target = folder.resolve(strict=True)
        except (OSError, RuntimeError):  # a loop of links reaches os.walk as a file, but be safe
            return "symlink loop"
        shown = printable(target.relative_to(resolved_root).as_posix() if target.is_relative_to(resolved_root)
                          else str(target))
        if folder.parent.resolve().is_relative_to(target):
            return f"symlink loop: points to {shown}/, a folder that holds the link; not followed"
        if not target.is_relative_to(resolved_root):
            return f"symlink to a folder outside the library ({shown}); not followed"
        return f"symlink to the library's folder {shown}/; not followed (its files are indexed there)"
    if folder.name in GENERATED_DIRS:
        return GENERATED_DIRS[folder.name]
    if folder.name.startswith("."):
        return "hidden folder (its name starts with '.')"
    return None


def printable(rel: str) -> str:
    """A path fit for a report line: bytes that are not UTF-8 and control characters shown as \\xNN."""
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _walk(root: Path, scan: LibraryScan) -> Iterator[Path]:
    """Files under root, sorted (nothing is read here). Folders not entered and hidden files go to
    `scan.skipped`, folders that cannot be listed to `scan.failed`: nothing is left out unsaid."""
    resolved_root = root.resolve()

    def shown(path: Path) -> str:
        return printable(path.relative_to(root).as_posix())

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename else root
        scan.failed.append(Skipped(shown(folder) + "/", f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        entered = []
        for name in sorted(dirnames):
            reason = _folder_not_entered(here / name, resolved_root)
            if reason:
                scan.skipped.append(Skipped(shown(here / name) + "/", reason))
            else:
                entered.append(name)
        dirnames[:] = entered
        for name in sorted(filenames):
            if name.startswith("."):  # editor, OS and VCS files (.DS_Store, ._guide.pdf, .#notes.md)
                scan.skipped.append(Skipped(shown(here / name), "hidden file (its name starts with '.')"))
            else:
                yield here / name


def _is_metadata(parts: tuple[str, ...]) -> bool:
    """MANIFEST.tsv at the root and mcdewey.toml down to the doc folders are read, not indexed."""
    return (parts[-1] == MANIFEST_FILE and len(parts) == 1) or (parts[-1] == METADATA_FILE and len(parts) <= 4)


def scan_library(root: Path) -> LibraryScan:
    """Everything McDewey would index under `root`, and why the rest is skipped."""
    scan = LibraryScan()
    if not root.is_dir():
        raise FileNotFoundError(f"library folder not found: {root}")
    manifest = _read_manifest(root)
    meta = _Metadata(root)
    taken: dict[str, SourceFile] = {}
    resolved_root = root.resolve()
    for path in _walk(root, scan):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        parts = rel.parts
        if _is_metadata(parts):
            continue
        link = _link_problem(path, resolved_root)
        if len(parts) < 4:
            scan.skipped.append(Skipped(printable(str(rel)), link or "not under <product>/<version>/<doc>/"))
            continue
        if path.name == METADATA_FILE:
            scan.skipped.append(Skipped(printable(str(rel)), METADATA_MISPLACED))
            continue
        if not is_supported(path):
            unsupported = f"unsupported file type '{path.suffix or path.name}'"
            scan.skipped.append(Skipped(printable(str(rel)), link or unsupported))
            continue
        reason = _bad_name(str(rel)) or link or _not_a_file(path)
        if reason:
            scan.failed.append(Skipped(printable(str(rel)), reason))
            continue
        generated = generated_page(path)  # a generator's search or index page: counted, never indexed
        if generated:
            scan.skipped.append(Skipped(printable(str(rel)), generated))
            continue
        product, version, doc = parts[0], parts[1], parts[2]
        bad = [p for p in (product, version, doc) if not FOLDER_NAME.match(p)]
        if bad:  # a document the user meant to index: a failure to report, not a quiet skip
            scan.failed.append(Skipped(
                str(rel), f"folder name {bad[0]!r} is not a valid product/version/doc name ({FOLDER_NAME_RULE})",
            ))
            continue
        doc_dir = root / product / version / doc
        stem = ".".join([*parts[3:-1], PurePosixPath(parts[-1]).stem])
        row = manifest.get((product, version, doc), {})
        vendor = meta.lookup(doc_dir, "vendor", doc_level=False) or row.get("vendor") or product
        title = meta.lookup(doc_dir, "title", doc_level=True) or row.get("title") or None
        sf = SourceFile(path, str(rel), product, version, doc, stem, vendor, title)
        key = sf.id_prefix
        if key in taken:
            other = taken[key]
            keep, move = (
                (other, sf) if SUFFIX_ORDER.get(other.path.suffix.lower(), 9) <= SUFFIX_ORDER.get(
                    sf.path.suffix.lower(), 9) else (sf, other)
            )
            taken[key] = keep
            moved = SourceFile(**{**move.__dict__, "stem": f"{move.stem}.{move.path.suffix.lstrip('.')}"})
            taken[moved.id_prefix] = moved
            continue
        taken[key] = sf
    scan.files = sorted(taken.values(), key=lambda f: f.source)
    scan.failed.extend(meta.errors)
    return scan
