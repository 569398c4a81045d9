"""A disk that fills up while `mcdewey ingest` writes the index: the run ends with the path and "no space
left on device" (never a traceback), and the next run, with space again, repairs the index into one
identical to a clean ingest.

The full disk is real: the data folder sits on a small tmpfs mounted by the test, grown afterwards with
`mount -o remount,size=` (the disk "gets space" under the same files). That needs root with
CAP_SYS_ADMIN; elsewhere those tests are skipped, saying so. The catalog's own translation of SQLite's
"database or disk is full" is also checked everywhere, on a real SQLITE_FULL from `max_page_count`.
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chroma_server import ChromaServer
from library_factory import build_library
from test_hostile import MCDEWEY, clean_env

from indexing.catalog import Catalog
from indexing.index import Index

# Measured with the session library (~60 KB catalog, ~50 KB keyword index): with Chroma elsewhere,
# 100-120 and 180-240 KB free fail inside the catalog's writes, 140-160 KB in the keyword index's (measured
# again since the catalog records the embedding model); all of it on the tmpfs, 150-500 KB fails in Chroma.
CATALOG_FULL_KB = 120
EMBEDDED_FULL_KB = 300
ROOMY_KB = 64 * 1024


class SmallDisk:
    """A tmpfs of a given size at `path`, resizable, unmounted at the end."""

    def __init__(self, path: Path, size_kb: int) -> None:
        self.path = path
        path.mkdir(parents=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}): a full disk needs root "
                        "with CAP_SYS_ADMIN")

    def resize(self, size_kb: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size_kb}k", str(self.path)], check=True, timeout=30)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "small", CATALOG_FULL_KB)
    yield disk
    disk.unmount()


def ingest(library: Path, data: Path, *extra: str, collection: str = "mcdewey") -> subprocess.CompletedProcess[str]:
    env = clean_env(library.parent / "home") | {"MCDEWEY_COLLECTION": collection}
    return subprocess.run([MCDEWEY, "ingest", "--library", str(library), "--data", str(data), *extra],
                          capture_output=True, text=True, timeout=300, env=env)


def snapshot(data: Path, chroma_url: str | None = None, collection: str = "mcdewey") -> dict[str, Any]:
    """Everything a search reads: the catalog's files and chunks, Chroma's ids and vectors, the keyword ids."""
    index = Index(data, chroma_url, collection)
    try:
        ids = sorted(index.catalog.chunk_ids())
        chunks = index.catalog.get(ids)
        vectors = index.store.vectors(ids)
        return {
            "files": {s: (r.digest, r.chunks, r.pages, r.warnings) for s, r in index.catalog.files().items()},
            "chunks": {i: c.model_dump() for i, c in chunks.items()},
            "store": sorted(index.store.all_ids()),
            "keyword": sorted(index.keyword.ids),
            "vectors": np.stack([vectors[i] for i in ids]),
        }
    finally:
        if chroma_url is None:
            index.store.client.close()


def assert_same_index(repaired: dict[str, Any], clean: dict[str, Any]) -> None:
    for part in ("files", "chunks", "store", "keyword"):
        assert repaired[part] == clean[part], part
    assert repaired["store"] == repaired["keyword"] == sorted(repaired["chunks"])
    np.testing.assert_allclose(repaired["vectors"], clean["vectors"], atol=1e-5)


def assert_no_space(run: subprocess.CompletedProcess[str], path: Path) -> None:
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert "no space left on device" in run.stderr and str(path) in run.stderr, run.stderr
    assert "run `mcdewey ingest` again" in run.stderr


def test_the_catalog_fills_the_disk_then_the_next_run_repairs(
    tmp_path: Path, small_disk: SmallDisk, chroma: ChromaServer
) -> None:
    library = build_library(tmp_path / "library")
    data = small_disk.path / "data"
    full = ingest(library, data, "--chroma-url", chroma.url)
    assert_no_space(full, data / "catalog.sqlite3")  # the catalog's write is what found the disk full

    small_disk.resize(ROOMY_KB)
    repaired = ingest(library, data, "--chroma-url", chroma.url)
    assert repaired.returncode == 0 and "failed 0" in repaired.stdout, repaired.stdout + repaired.stderr
    clean = ingest(library, tmp_path / "clean", "--chroma-url", chroma.url, collection="clean")
    assert clean.returncode == 0, clean.stderr
    assert_same_index(snapshot(data, chroma.url), snapshot(tmp_path / "clean", chroma.url, "clean"))


def test_a_data_folder_on_a_full_disk_is_reported_and_repaired(tmp_path: Path, small_disk: SmallDisk) -> None:
    library = build_library(tmp_path / "library")
    data = small_disk.path / "data"
    small_disk.resize(EMBEDDED_FULL_KB)  # Chroma, catalog and keyword index share it
    assert_no_space(ingest(library, data), data)

    small_disk.resize(ROOMY_KB)
    repaired = ingest(library, data)
    assert repaired.returncode == 0 and "failed 0" in repaired.stdout, repaired.stdout + repaired.stderr
    assert ingest(library, tmp_path / "clean").returncode == 0
    assert_same_index(snapshot(data), snapshot(tmp_path / "clean"))


def test_a_full_catalog_raises_no_space_with_its_path_and_keeps_what_was_committed(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.set_meta("kept", "yes")
    pages = int(catalog._conn().execute("PRAGMA page_count").fetchone()[0])
    catalog._conn().execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own limit: a real SQLITE_FULL
    with pytest.raises(OSError) as full:
        catalog.set_meta("big", "x" * 200_000)
    assert full.value.errno == errno.ENOSPC and full.value.filename == str(catalog.path)
    assert isinstance(full.value.__cause__, sqlite3.OperationalError)
    assert catalog.get_meta("kept") == "yes" and catalog.get_meta("big") is None
