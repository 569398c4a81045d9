"""What `mcdewey ingest` shows while it runs: progress that moves inside a big file, JSON lines a script
can read to the end, and plain lines (logs, CI) that say chunks and rate without flooding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.surfaces import cli
from indexing import chunk_vectors
from indexing.embedder import Embedder
from indexing.index import Index
from indexing.ingest import Ingester
from indexing.ingest_progress import EMBEDDING, IngestProgress

WORDS = ("routing table channel protocol export filter import neighbor session timer kernel device "
         "interface prefix community attribute preference import limit restart graceful").split()


def manual(paragraphs: int, seed: int) -> str:
    """Plain text that chunks into about `paragraphs` / 3 chunks: varied sentences, paragraph breaks."""
    out = []
    for p in range(paragraphs):
        words = [WORDS[(seed + p * 7 + i * i) % len(WORDS)] for i in range(60)]
        out.append(f"Section {seed}.{p}. " + " ".join(words).capitalize() + ".")
    return "\n\n".join(out)


def small_library(root: Path, files: int, paragraphs: int) -> Path:
    for n in range(files):
        doc = root / "acme" / "1.0" / f"guide-{n}"
        doc.mkdir(parents=True)
        (doc / "guide.txt").write_text(manual(paragraphs, n), encoding="utf-8")
    return root


def test_progress_moves_inside_one_big_file(tmp_path: Path, embedder: Embedder,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Slices of 8 chunks stand for the 256 of a real run, so that a file of ~40 chunks is "big".
    monkeypatch.setattr(chunk_vectors, "EMBED_SLICE", 8)
    library = small_library(tmp_path / "lib", files=1, paragraphs=120)
    events: list[IngestProgress] = []
    report = Ingester(Index(tmp_path / "data", embedder=embedder), progress=events.append).run(library)
    embedding = [e for e in events if e.stage == EMBEDDING]
    inside = [e for e in embedding if e.done == 0 and 0 < e.chunks_done < report.chunks_added]
    assert report.chunks_added > 3 * 8
    assert len(inside) >= 3, [(e.done, e.chunks_done) for e in embedding]
    assert all(0 < e.bytes_done < e.bytes_total and e.file == "acme/1.0/guide-0/guide.txt" for e in inside)
    assert [e.chunks_done for e in embedding] == sorted(e.chunks_done for e in embedding)
    last = embedding[-1]
    assert (last.done, last.total, last.chunks_done, last.bytes_done) == (1, 1, report.chunks_added, last.bytes_total)


def test_json_progress_parses_and_ends_at_the_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunk_vectors, "EMBED_SLICE", 8)
    library = small_library(tmp_path / "lib", files=4, paragraphs=30)
    assert cli.main(["ingest", "--json", "--library", str(library), "--data", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)  # stdout: the report alone, machine-readable
    events = [json.loads(line) for line in err.splitlines()]  # stderr: nothing but JSON lines
    assert events and all(e["event"] == "progress" for e in events)
    stages = list(dict.fromkeys(e["stage"] for e in events))
    assert stages == ["scanning", "embedding", "checking index", "keyword index"]
    embedding = [e for e in events if e["stage"] == "embedding"]
    last = embedding[-1]
    assert last["done"] == last["total"] == report["added"] == 4
    assert last["chunks_done"] == last["chunks_known"] == report["chunks_added"]
    assert last["chunks_embedded"] == report["chunks_embedded"]
    assert last["bytes_done"] == last["bytes_total"] > 0 and last["fraction"] == 1.0
    assert last["chunks_per_s"] > 0
    assert [e["chunks_done"] for e in embedding] == sorted(e["chunks_done"] for e in embedding)


def test_plain_lines_say_chunks_and_rate_without_flooding(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 files and an event per 2 chunks embedded: well over 60 events, which a line per event would print.
    monkeypatch.setattr(chunk_vectors, "EMBED_SLICE", 2)
    library = small_library(tmp_path / "lib", files=30, paragraphs=12)
    assert cli.main(["ingest", "--library", str(library), "--data", str(tmp_path / "data")]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("embedding:")]
    assert 2 <= len(lines) <= 12, err
    assert all("chunks/s" in line and "chunks " in line and "files " in line for line in lines)
    assert "files 30/30" in lines[-1] and "100%" in lines[-1]
    stages = {"scanning", "embedding", "checking index", "keyword index"}
    assert [line for line in err if line.split(":")[0].rstrip("…") not in stages] == []
