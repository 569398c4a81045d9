"""A hostile library through the real CLI (`mcdewey ingest` in a subprocess): every good document is
indexed, every bad file is reported with its path and a reason, `--strict` alone turns them into a
non-zero exit, and the index stays one that a later run repairs.

The bad files: a truncated PDF, PDFs encrypted with and without a user password, a zero-byte file,
a PNG renamed .pdf, a scanned PDF (no text layer), non-UTF-8 and mixed-encoding text, a 10 MB single
line (capped with --max-file-chunks), a 5,000-page PDF, a Markdown file with a malformed page marker,
HTML with <script> and javascript: links, symlinks out of the library and to nowhere, a FIFO, a file
the process may not read (chmod 000), a version folder with spaces, and awkward file names
(unicode and spaces, bytes that are not UTF-8, a newline, '::').

Unreadable file: tests run as root here, and chmod 000 does not stop root. The CLI then runs under
`setpriv` without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so the kernel really refuses the read; where
neither works (root without setpriv), that one file is left out and its test is skipped, saying so.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF
from pdf_factory import encrypt, manual_pdf

from indexing.index import Index

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))
SETPRIV = shutil.which("setpriv")
DROP_DAC = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
CAP = 30  # --max-file-chunks for this library: the 10 MB line makes ~25,000 chunks uncapped
RUN_SECONDS = 300  # a FIFO read would block forever: a hang fails the test instead of the suite


@functools.cache
def can_drop_dac() -> bool:
    """Whether setpriv may take CAP_DAC_OVERRIDE away from a child here (a container may forbid it)."""
    if not SETPRIV:
        return False
    return subprocess.run([SETPRIV, *DROP_DAC, "true"], capture_output=True, timeout=30).returncode == 0


def unreadable_possible() -> str | None:
    """Why a chmod-000 file cannot be made unreadable to the CLI here (None: it can)."""
    if os.geteuid() != 0 or can_drop_dac():
        return None
    return "running as root and setpriv cannot drop CAP_DAC_OVERRIDE: chmod 000 does not stop root from reading"


def cli_prefix() -> list[str]:
    return [SETPRIV or "setpriv", *DROP_DAC] if os.geteuid() == 0 and can_drop_dac() else []


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    env["HOME"] = str(home)
    return env


@dataclass
class Run:
    code: int
    report: dict[str, Any]
    stderr: str

    def failed(self) -> dict[str, str]:
        return {p["source"]: p["reason"] for p in self.report["failures"]}

    def warned(self) -> dict[str, tuple[str, bool]]:
        return {p["source"]: (p["reason"], p["partial"]) for p in self.report["warnings"]}


def ingest(library: Path, data: Path, *extra: str) -> Run:
    """`mcdewey ingest --json` in its own process, as a user would run it."""
    proc = subprocess.run(
        [*cli_prefix(), MCDEWEY, "ingest", "--library", str(library), "--data", str(data), "--json",
         "--max-file-chunks", str(CAP), *extra],
        capture_output=True, text=True, timeout=RUN_SECONDS, env=clean_env(data.parent / "home"),
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Run(proc.returncode, json.loads(proc.stdout), proc.stderr)


@dataclass
class Snapshot:
    files: dict[str, int]  # source -> chunks
    pages: dict[str, int]  # source -> pages
    catalog: list[str]
    store: list[str]
    keyword: list[str]
    texts: dict[str, str]
    spans: dict[str, tuple[int | None, int | None]]  # chunk id -> (page, page_end)


def snapshot(data: Path) -> Snapshot:
    """What the index holds, read after the CLI has exited (and the Chroma client closed again)."""
    index = Index(data)
    try:
        chunks = list(index.catalog.iter_chunks())
        files = index.catalog.files()
        return Snapshot(
            {s: r.chunks for s, r in files.items()}, {s: r.pages for s, r in files.items()},
            sorted(index.catalog.chunk_ids()), sorted(index.store.all_ids()), sorted(index.keyword.ids),
            {c.chunk_id: c.text for c in chunks}, {c.chunk_id: (c.page, c.page_end) for c in chunks},
        )
    finally:
        index.store.client.close()


def assert_consistent(snap: Snapshot) -> None:
    """Chroma and the keyword index hold exactly the catalog's chunks: no orphans, nothing missing."""
    assert snap.store == snap.catalog
    assert snap.keyword == snap.catalog
    assert sum(snap.files.values()) == len(snap.catalog)


# --- the library ----------------------------------------------------------------------------------
GUIDE_MD = """# Quokka Guide

## Settings

The quokka-setting controls how many marsupials a node keeps in memory.
"""

HTML = """<!DOCTYPE html><html><head><title>Narwhal Manual</title>
<script>var leak = "SCRIPT-SHOULD-NOT-BE-INDEXED";</script></head>
<body><h1>Narwhal Manual</h1><p>The narwhal-flag enables tusk mode.
<a href="javascript:alert('JS-LINK-TARGET')">click me</a>
<a href="JaVaScRiPt:void(0)">and me</a></p>
<script>document.write("SCRIPT-SHOULD-NOT-BE-INDEXED")</script></body></html>
"""

MARKED_MD = """# Marked

<!-- page 1 -->
First page about the echidna-switch.

<!-- page two -->
Still the first page.

<!-- page 2 -->
Second page.
"""

UNICODE_NAME = "Überblick – mit Leerzeichen (v2).md"


def scanned_pdf() -> bytes:
    w = FPDF()
    w.add_page()
    w.rect(20, 20, 100, 60, style="F")
    return bytes(w.output())


def thousands_of_pages(pages: int = 5000) -> bytes:
    """Mostly blank pages (parsing stays fast); a line of text on page 1 and every 500th page."""
    w = FPDF(unit="pt", format=(200, 200))
    w.set_auto_page_break(False)
    w.set_font("Helvetica", size=8)
    for n in range(1, pages + 1):
        w.add_page()
        if n == 1 or n % 500 == 0:
            w.text(20, 100, f"Page {n} explains the zebra{n} parameter.")
    return bytes(w.output())


def put(root: Path, rel: str, data: bytes | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


GOOD = {
    "good/1.0/guide/guide.md",
    f"good/1.0/guide/{UNICODE_NAME}",
    "good/1.0/html-manual/page.html",
    "good/1.0/encrypted/open.pdf",
    "good/1.0/legacy/latin.txt",
    "good/1.0/legacy/mixed.txt",
    "good/1.0/markers/marked.md",
    "good/1.0/huge/line.txt",
    "good/1.0/big/pages.pdf",
    "bad/1.0/broken/scan.pdf",  # indexed with nothing in it: no text layer
}


def build_hostile(root: Path) -> Path:
    put(root, "good/1.0/guide/guide.md", GUIDE_MD)
    put(root, f"good/1.0/guide/{UNICODE_NAME}", "# Überblick\n\nDie wombat-option steuert das Verhalten.\n")
    put(root, "good/1.0/html-manual/page.html", HTML)
    put(root, "good/1.0/encrypted/open.pdf", encrypt(manual_pdf(), user_password=""))
    put(root, "good/1.0/legacy/latin.txt", "Café crème: the numbat-mode is on.\n".encode("cp1252"))
    put(root, "good/1.0/legacy/mixed.txt",
        "Größe in UTF-8: the bilby-limit.\n".encode() + "Caf\u00e9 in cp1252: the dingo-depth.\n".encode("cp1252"))
    put(root, "good/1.0/markers/marked.md", MARKED_MD)
    put(root, "good/1.0/huge/line.txt", ("lorem-ipsum dolor sit amet " * 400_000)[:10_000_000])
    put(root, "good/1.0/big/pages.pdf", thousands_of_pages())

    put(root, "bad/1.0/broken/truncated.pdf", manual_pdf()[:3000])
    put(root, "bad/1.0/broken/locked.pdf", encrypt(manual_pdf(), user_password="s3cret"))
    put(root, "bad/1.0/broken/empty.md", b"")
    put(root, "bad/1.0/broken/image.pdf", b"\x89PNG\r\n\x1a\n" + bytes(256))
    put(root, "bad/1.0/broken/scan.pdf", scanned_pdf())
    put(root.parent, "outside/secret.md", "# Secret\n\nOUTSIDE-SECRET-TEXT must never be indexed.\n")
    links = root / "bad/1.0/links"
    links.mkdir(parents=True)
    os.symlink(root.parent / "outside/secret.md", links / "outside.md")
    os.symlink(links / "missing.md", links / "dangling.md")
    os.mkfifo(root / "bad/1.0/broken/fifo.md")
    if unreadable_possible() is None:
        put(root, "bad/1.0/broken/unreadable.md", "# Locked\n\nLOCKED-TEXT\n").chmod(0)
    put(root, "acme/version with spaces/doc/x.md", "# Spaces\n\nText.\n")
    names = root / "bad/1.0/names"
    names.mkdir(parents=True)
    with open(os.fsencode(names) + b"/caf\xe9-latin1-name.md", "wb") as fh:
        fh.write(b"# Name\n\nText.\n")
    put(root, "bad/1.0/names/line\nbreak.md", "# Name\n\nText.\n")
    put(root, "bad/1.0/names/a::b.md", "# Name\n\nText.\n")
    put(root, "stray.md", "not under product/version/doc")
    return root


# Every bad file: its reported path and a piece of the reason.
FAILED = {
    "bad/1.0/broken/truncated.pdf": "truncated PDF",
    "bad/1.0/broken/locked.pdf": "encrypted PDF (needs a password)",
    "bad/1.0/broken/empty.md": "empty file (0 bytes)",
    "bad/1.0/broken/image.pdf": "not a PDF: the file is a PNG image",
    "bad/1.0/broken/fifo.md": "not a regular file",
    "bad/1.0/links/outside.md": "symlink pointing outside the library",
    "bad/1.0/links/dangling.md": "broken symlink",
    "acme/version with spaces/doc/x.md": "folder name 'version with spaces' is not a valid",
    "bad/1.0/names/caf\\xe9-latin1-name.md": "file name is not valid UTF-8",
    "bad/1.0/names/line\\x0abreak.md": "file name contains control characters",
    "bad/1.0/names/a::b.md": "file name contains '::'",
}
UNREADABLE = "bad/1.0/broken/unreadable.md"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile(tmp_path_factory.mktemp("hostile") / "library")


@pytest.fixture(scope="module")
def first(hostile: Path) -> tuple[Run, Snapshot, float]:
    started = time.perf_counter()
    run = ingest(hostile, hostile.parent / "data")
    seconds = time.perf_counter() - started
    print(f"\nfirst ingest of the hostile library: {seconds:.1f} s (report: {run.report['seconds']} s)")
    return run, snapshot(hostile.parent / "data"), seconds


# --- the first run --------------------------------------------------------------------------------
def test_exit_zero_without_strict(first: tuple[Run, Snapshot, float]) -> None:
    run, _, _ = first
    assert run.code == 0, run.stderr


def test_every_good_document_is_indexed(first: tuple[Run, Snapshot, float]) -> None:
    run, snap, _ = first
    assert set(snap.files) == GOOD
    assert run.report["added"] == len(GOOD)
    text = "\n".join(snap.texts.values())
    for term in ("quokka-setting", "wombat-option", "narwhal-flag", "numbat-mode", "echidna-switch", "zebra2500",
                 "A BGP instance"):  # the last from the PDF encrypted with an empty user password
        assert term in text, term
    unicode_id = f"good::1.0::guide::{UNICODE_NAME[:-3]}::0"
    assert unicode_id in snap.catalog


def test_each_bad_file_is_reported_with_its_path_and_reason(first: tuple[Run, Snapshot, float]) -> None:
    run, snap, _ = first
    failed = run.failed()
    for source, reason in FAILED.items():
        assert source in failed, f"{source} not reported; failures: {failed}"
        assert reason in failed[source], (source, failed[source])
    assert not set(FAILED) & set(snap.files)
    assert run.report["failed"] == len(failed) == len(FAILED) + (unreadable_possible() is None)
    assert all(not p["partial"] for p in run.report["failures"])
    assert {"stray.md"} <= {p["source"] for p in run.report["skipped_files"]}


def test_unreadable_file_is_reported(first: tuple[Run, Snapshot, float]) -> None:
    reason = unreadable_possible()
    if reason:
        pytest.skip(reason)
    run, snap, _ = first
    assert "permission denied" in run.failed()[UNREADABLE].lower()
    assert UNREADABLE not in snap.files


def test_warnings_say_whether_the_file_is_partially_indexed(first: tuple[Run, Snapshot, float]) -> None:
    run, snap, _ = first
    warned = run.warned()
    reason, partial = warned["good/1.0/huge/line.txt"]
    assert partial and f"partially indexed: first {CAP} chunks" in reason
    assert snap.files["good/1.0/huge/line.txt"] == CAP
    assert warned["bad/1.0/broken/scan.pdf"] == ("no text layer (scanned?); nothing indexed", False)
    assert snap.files["bad/1.0/broken/scan.pdf"] == 0
    assert warned["good/1.0/legacy/latin.txt"] == ("not valid UTF-8; decoded as cp1252", False)
    assert warned["good/1.0/legacy/mixed.txt"][0].startswith("mixed encodings: 1 line")
    assert "malformed page marker '<!-- page two -->'" in warned["good/1.0/markers/marked.md"][0]
    assert run.report["partial"] == 1 and run.report["warned"] == len(warned) == len(run.report["warnings"]) == 5


def test_text_is_decoded_right_and_nothing_hostile_is_indexed(first: tuple[Run, Snapshot, float]) -> None:
    _, snap, _ = first
    text = "\n".join(snap.texts.values())
    assert "Café crème" in text  # cp1252
    assert "Größe in UTF-8" in text and "Café in cp1252" in text  # both halves of the mixed file
    for leak in ("SCRIPT-SHOULD-NOT-BE-INDEXED", "JS-LINK-TARGET", "javascript:", "OUTSIDE-SECRET-TEXT", "LOCKED-TEXT"):
        assert leak.lower() not in text.lower(), leak


def test_big_files_are_bounded(first: tuple[Run, Snapshot, float]) -> None:
    _, snap, seconds = first
    assert snap.pages["good/1.0/big/pages.pdf"] == 5000
    ids = [f"good::1.0::big::pages::{n}" for n in range(11)]
    assert sorted(cid for cid in snap.catalog if cid.startswith("good::1.0::big::")) == sorted(ids)
    # one chunk per printed page: page 1 and every 500th; no chunk bridges the blank pages between
    assert [snap.spans[cid] for cid in ids] == [(1, 1)] + [(n, n) for n in range(500, 5001, 500)]
    assert "zebra2500" in snap.texts[ids[5]]
    assert seconds < 240  # a loose bound; the figure is printed above


def test_the_index_is_consistent(first: tuple[Run, Snapshot, float]) -> None:
    assert_consistent(first[1])


# --- later runs (in order: they change the library) -----------------------------------------------
def test_strict_exits_non_zero_and_a_rerun_reports_the_same_files(
    hostile: Path, first: tuple[Run, Snapshot, float]
) -> None:
    run = ingest(hostile, hostile.parent / "data", "--strict")
    assert run.code == 1
    assert run.report["added"] == run.report["updated"] == run.report["chunks_added"] == 0
    assert run.failed() == first[0].failed()  # failures are retried and reported again
    assert run.warned() == first[0].warned()  # warnings come back from the catalog


def test_a_later_run_repairs_the_index(hostile: Path, first: tuple[Run, Snapshot, float]) -> None:
    data = hostile.parent / "data"
    (hostile / "bad/1.0/broken/truncated.pdf").write_bytes(manual_pdf())
    (hostile / "bad/1.0/broken/fifo.md").unlink()
    (hostile / "bad/1.0/broken/empty.md").write_text("# Now\n\nThe platypus-port is documented.\n")
    shutil.rmtree(hostile / "good/1.0/huge")
    run = ingest(hostile, data)
    assert run.code == 0
    fixed = {"bad/1.0/broken/truncated.pdf", "bad/1.0/broken/fifo.md", "bad/1.0/broken/empty.md"}
    assert set(run.failed()) == set(first[0].failed()) - fixed
    assert run.report["added"] == 2 and run.report["removed"] == 1
    snap = snapshot(data)
    assert snap.files["bad/1.0/broken/truncated.pdf"] > 0
    assert any("platypus-port" in t for t in snap.texts.values())
    assert not any(cid.startswith("good::1.0::huge::") for cid in snap.catalog + snap.store + snap.keyword)
    assert_consistent(snap)


def test_the_cli_documents_the_ingesters_default_cap(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.surfaces import cli
    from indexing import ingest as ingest_module

    assert cli.DEFAULT_MAX_FILE_CHUNKS == ingest_module.DEFAULT_MAX_FILE_CHUNKS
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--help"])
    assert f"default {ingest_module.DEFAULT_MAX_FILE_CHUNKS:,}" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("MCDEWEY_PORT", "eighty", "MCDEWEY_PORT: Input should be a valid integer"),
        ("MCDEWEY_EMBED_BACKEND", "gpu", "MCDEWEY_EMBED_BACKEND: Input should be 'onnx', 'torch' or 'onnx-int8'"),
        ("MCDEWEY_TOP_K", "0", "MCDEWEY_TOP_K: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_setting_is_named_with_its_reason_not_a_traceback(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    env = {**os.environ, "HOME": str(tmp_path), variable: value}
    run = subprocess.run([MCDEWEY, "search", "routing", "--data", str(tmp_path / "data")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert f"mcdewey: invalid setting {reason}" in run.stderr
    assert "Traceback" not in run.stderr and f"(got '{value}')" in run.stderr
