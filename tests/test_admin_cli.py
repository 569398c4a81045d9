"""`mcdewey remove`, `trash` and `restore` for a shell user: the same trash as the server's, and the
index follows each change (real processes, a copy of the session's library and index)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from library_factory import copy_index
from test_hostile import MCDEWEY, clean_env


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MCDEWEY, *args, "--library", str(tmp / "library"), "--data", str(tmp / "data")],
                          capture_output=True, text=True, timeout=600, env=clean_env(tmp / "home"))


def _sources(tmp: Path, query: str) -> set[str]:
    found = _run(tmp, "search", query, "--json")
    assert found.returncode == 0, found.stderr
    return {hit["source"] for hit in json.loads(found.stdout)}


def test_remove_and_restore_from_the_shell(library: Path, indexed: Path, tmp_path: Path) -> None:
    shutil.copytree(library, tmp_path / "library")
    copy_index(indexed, tmp_path / "data", tmp_path / "library")
    notes = "acme/2.0/release-notes/notes.txt"
    assert notes in _sources(tmp_path, "IPv6 multicast routing release")

    removed = _run(tmp_path, "remove", "acme/2.0/release-notes")
    assert removed.returncode == 0, removed.stderr
    assert "moved acme/2.0/release-notes to the trash" in removed.stdout and "removed 1" in removed.stdout
    assert not (tmp_path / "library" / "acme/2.0/release-notes").exists()
    assert notes not in _sources(tmp_path, "IPv6 multicast routing release")

    listed = _run(tmp_path, "trash", "--json")
    items = json.loads(listed.stdout)
    assert [(i["path"], i["kind"]) for i in items] == [("acme/2.0/release-notes", "doc")]
    missing = _run(tmp_path, "remove", "acme/9.9", "--no-ingest")
    assert missing.returncode == 2 and "acme/9.9 is not in the library" in missing.stderr

    restored = _run(tmp_path, "restore", items[0]["id"])
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "library" / notes).is_file()
    assert notes in _sources(tmp_path, "IPv6 multicast routing release")
    assert _run(tmp_path, "restore", items[0]["id"]).returncode == 2  # gone from the trash once restored
