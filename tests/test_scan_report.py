"""Nothing under the library is dropped silently: every entry the scan does not index is listed with
the reason (hidden files and folders, odd names such as `...txt`, symlink loops of files and of
folders, links out of the library, metadata in the wrong place, folders that cannot be listed), and
every file that yields no text is reported. Checked on the scan itself and through `mcdewey ingest`
(its default summary and its `-v` listing), as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_hostile import MCDEWEY, clean_env, cli_prefix, put, unreadable_possible

from indexing.library import METADATA_FILE, scan_library

GUIDE = "# Guide\n\nThe wombat-knob sets the speed of the crawler.\n"
DOC = "acme/1.0/guide"
# Entries the scan lists without indexing them: path -> a piece of the reason.
SKIPPED = {
    f"{DOC}/...txt": "hidden file",
    f"{DOC}/.DS_Store": "hidden file",
    f"{DOC}/.git/": "hidden folder",
    f"{DOC}/up/": "symlink loop: points to acme/1.0/, a folder that holds the link",
    f"{DOC}/here/": "symlink loop: points to acme/1.0/guide/, a folder that holds the link",
    f"{DOC}/outside/": "symlink to a folder outside the library",
    f"{DOC}/twin/": "symlink to the library's folder acme/1.0/other/; not followed",
    f"{DOC}/self-loop": "symlink loop",  # no suffix: not a document, still named as a loop
    f"{DOC}/sub/{METADATA_FILE}": f"{METADATA_FILE} is read only in the library, product, version and doc",
    f"{DOC}/style.css": "unsupported file type '.css'",
    "stray.md": "not under <product>/<version>/<doc>/",
}
FAILED = {
    f"{DOC}/self.md": "symlink loop",
    f"{DOC}/ping.md": "symlink loop",
    f"{DOC}/pong.md": "symlink loop",
    f"{DOC}/dangling.md": "broken symlink",
}
NO_TEXT = (f"{DOC}/blank.md", f"{DOC}/script-only.html", f"{DOC}/form-feeds.txt")
INDEXED = {f"{DOC}/guide.md", "acme/1.0/other/notes.md", *NO_TEXT}
LOCKED = "acme/1.0/locked/"


def build_odd_library(root: Path) -> Path:
    guide = root / DOC
    put(root, f"{DOC}/guide.md", GUIDE)
    put(root, "acme/1.0/other/notes.md", "# Notes\n\nThe numbat-dial is on page one.\n")
    put(root, f"{DOC}/...txt", "Three dots and a suffix.\n")
    put(root, f"{DOC}/.DS_Store", b"\x00\x00\x00\x01Bud1")
    put(root, f"{DOC}/.git/HEAD", "ref: refs/heads/main\n")
    put(root, f"{DOC}/style.css", "body { color: red }\n")
    put(root, f"{DOC}/sub/{METADATA_FILE}", 'vendor = "Nobody reads this"\n')
    put(root, "stray.md", "# Stray\n")
    put(root, f"{DOC}/blank.md", "   \n\n\t\n")
    put(root, f"{DOC}/script-only.html", "<html><head><script>var x = 1;</script></head><body> </body></html>")
    put(root, f"{DOC}/form-feeds.txt", "\f\f\n\f")
    put(root.parent, "elsewhere/secret.md", "# Secret\n\nOUTSIDE-TEXT\n")
    os.symlink("self.md", guide / "self.md")
    os.symlink("self-loop", guide / "self-loop")
    os.symlink("pong.md", guide / "ping.md")
    os.symlink("ping.md", guide / "pong.md")
    os.symlink("missing.md", guide / "dangling.md")
    os.symlink("..", guide / "up")
    os.symlink(".", guide / "here")
    os.symlink(root.parent / "elsewhere", guide / "outside")
    os.symlink("../other", guide / "twin")
    return root


def everything_under(root: Path) -> set[str]:
    """Every file, folder and link under root, as the scan names them (folders with a trailing /)."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):  # links to folders are listed, not entered
        here = Path(dirpath)
        found.update((here / n).relative_to(root).as_posix() + "/" for n in dirnames)
        found.update((here / n).relative_to(root).as_posix() for n in filenames)
    return found


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    return build_odd_library(tmp_path / "library")


def test_every_entry_is_indexed_or_listed_with_its_reason(odd: Path) -> None:
    scan = scan_library(odd)
    skipped = {s.source: s.reason for s in scan.skipped}
    failed = {s.source: s.reason for s in scan.failed}
    assert {f.source for f in scan.files} == INDEXED
    for source, reason in SKIPPED.items():
        assert reason in skipped.get(source, ""), (source, skipped.get(source))
    for source, reason in FAILED.items():
        assert reason in failed.get(source, ""), (source, failed.get(source))
    # nothing unaccounted for: each entry is indexed, listed, inside a listed folder, a folder walked
    # into, or metadata that was read
    listed = {f.source for f in scan.files} | set(skipped) | set(failed)
    folders_not_entered = tuple(s for s in listed if s.endswith("/"))
    silent = {p for p in everything_under(odd) - listed
              if not p.startswith(folders_not_entered) and not (p.endswith("/") and not (odd / p).is_symlink())}
    assert silent == set(), f"dropped without a word: {sorted(silent)}"
    assert "OUTSIDE-TEXT" not in "".join(f.path.read_text() for f in scan.files)


def test_a_self_referencing_symlink_is_a_loop_not_a_broken_link(odd: Path) -> None:
    failed = {s.source: s.reason for s in scan_library(odd).failed}
    assert failed[f"{DOC}/self.md"] == "symlink loop"
    assert "broken" not in failed[f"{DOC}/self.md"] and "broken" not in failed[f"{DOC}/ping.md"]
    assert "broken symlink" in failed[f"{DOC}/dangling.md"]


def ingest_cli(library: Path, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`mcdewey ingest` in its own process (without CAP_DAC_OVERRIDE when root, so chmod 000 holds)."""
    done = subprocess.run([*cli_prefix(), MCDEWEY, "ingest", "--library", str(library), "--data", str(data), *extra],
                          capture_output=True, text=True, timeout=300, env=clean_env(library.parent / "home"))
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_mcdewey_ingest_summarises_skipped_files_and_lists_them_with_v(odd: Path) -> None:
    locked = (odd / LOCKED).resolve()
    put(odd, LOCKED + "doc.md", "# Locked\n\nLOCKED-TEXT\n")
    can_lock = unreadable_possible() is None
    if can_lock:
        locked.chmod(0)
    try:
        first = ingest_cli(odd, odd.parent / "data")
        again = ingest_cli(odd, odd.parent / "data", "-v")  # nothing changed: the same problems, listed
    finally:
        locked.chmod(0o755)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert f"{len(SKIPPED)} skipped (-v lists them with the reason)" in first.stdout, first.stdout
    assert "  skipped " not in first.stdout
    for out in (first.stdout, again.stdout):
        for source in NO_TEXT:  # indexed, yet nothing of it can be found: said, each time
            assert f"warning {source}: no text found; nothing indexed" in out, out
        for source, reason in FAILED.items():
            assert f"FAILED  {source}: " in out and reason in out.split(f"FAILED  {source}: ")[1].splitlines()[0]
        if can_lock:
            assert f"FAILED  {LOCKED}: cannot read folder: Permission denied" in out, out
    for source, reason in SKIPPED.items():
        line = next((x for x in again.stdout.splitlines() if x.startswith(f"  skipped {source}: ")), "")
        assert reason in line, (source, again.stdout)
