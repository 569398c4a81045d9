"""One data directory holds one library: its catalog records the library root it indexes.

Without this, `mcdewey ingest --library lib2` on the data directory of lib1 removed all of lib1's
documents ("removed 2") and indexed lib2 in their place, without a word. Now an ingest of another
library is refused, with both roots named and the two ways on (another data directory, or `--force`
to replace), and the commands that only read an index use the recorded root when none is given.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexing.catalog import Catalog

LIBRARY_KEY = "library"  # the catalog's meta row holding the resolved library root
CATALOG_FILE = "catalog.sqlite3"  # indexing.index opens the catalog there


class OtherLibrary(ValueError):
    """The data directory holds another library's index; the message says what to do."""


def recorded_library(data_dir: Path) -> Path | None:
    """The library root `data_dir` indexes, read without creating anything (None: no index, or an index
    made before roots were recorded)."""
    path = (data_dir / CATALOG_FILE).absolute()  # (a file URI needs an absolute path: `--data data`)
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (LIBRARY_KEY,)).fetchone()
    except sqlite3.Error:  # an index older than the meta table, or one being made: nothing recorded yet
        return None
    return Path(row[0]) if row else None


def refusal(data_dir: Path, recorded: Path, library: Path) -> str:
    """What a user reads when `library` is not the library `data_dir` holds."""
    return (f"the data directory {data_dir} holds the index of the library {recorded}, not {library}. "
            f"Give this library its own data directory (--data DIR or MCDEWEY_DATA=DIR), or run "
            f"`mcdewey ingest --library {library} --data {data_dir} --force` to replace the index of {recorded}")


def claim(catalog: Catalog, data_dir: Path, library: Path, replace: bool) -> None:
    """Record `library` as the one `data_dir` indexes; OtherLibrary when it holds another's documents
    (unless `replace`). An index made before roots were recorded is taken to be this library's."""
    root = library.resolve()
    recorded = catalog.get_meta(LIBRARY_KEY)
    if recorded and Path(recorded) != root and not replace and catalog.files():
        raise OtherLibrary(refusal(data_dir, Path(recorded), root))
    if recorded != str(root):
        catalog.set_meta(LIBRARY_KEY, str(root))
