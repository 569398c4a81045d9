"""Crashes and faults with real processes: `kill -9` in the middle of `mcdewey ingest`, a second
ingest on the same data directory, an ingest interrupted before it publishes the keyword index, and
a Chroma server (`chroma run`) that stops and comes back while McDewey serves REST, MCP and /healthz.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from chroma_server import ChromaServer, free_port, wait_for
from fixtures_server import _Server, mcp_session
from mcp.types import TextContent

from indexing.embedder import Embedder
from indexing.index import Index
from indexing.ingest import Ingester
from indexing.keyword import KeywordIndex
from indexing.store import VectorStore

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    env["HOME"] = str(home)
    env["MCDEWEY_INGEST_BATCH"] = "256"  # each PAGES-page manual its own batch and commit: kills land between them
    return env


def ingest_command(library: Path, data: Path, *extra: str) -> list[str]:
    return [MCDEWEY, "ingest", "--library", str(library), "--data", str(data), *extra]


def committed_files(data: Path) -> int:
    """Files the catalog holds, read the way a second process would (read-only)."""
    try:
        with sqlite3.connect(f"file:{data / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


@dataclass
class Snapshot:
    files: dict[str, int]
    chunks: dict[str, tuple[str, int | None, int | None]]  # id -> (text, page, page_end)
    store: list[str]
    keyword: list[str]
    vectors: dict[str, np.ndarray]


def snapshot(data: Path) -> Snapshot:
    index = Index(data)
    try:
        chunks = {c.chunk_id: (c.text, c.page, c.page_end) for c in index.catalog.iter_chunks()}
        return Snapshot(
            {s: r.chunks for s, r in index.catalog.files().items()}, chunks, sorted(index.store.all_ids()),
            sorted(index.keyword.ids), index.store.vectors(sorted(chunks)),
        )
    finally:
        index.store.client.close()


# --- kill -9 and a second ingest -----------------------------------------------------------------
FILES = 3
PAGES = 280  # ~280 short chunks a file: each file is its own commit (batches of 256, `clean_env`)


def paged_library(root: Path) -> Path:
    """FILES text manuals of PAGES short pages each (form feeds): quick to embed, many commits."""
    for f in range(FILES):
        doc = root / "kiwi" / "1.0" / f"manual-{f}"
        doc.mkdir(parents=True)
        pages = [f"The kiwi{f}x{p} switch is set here." for p in range(1, PAGES + 1)]
        (doc / "manual.txt").write_text("\f".join(pages) + "\f", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def paged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return paged_library(tmp_path_factory.mktemp("paged") / "library")


def test_a_second_ingest_on_the_same_data_is_refused(paged: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess.Popen(ingest_command(paged, data), env=clean_env(tmp_path), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        lock = data / "ingest.lock"
        wait_for(lambda: lock.is_file() and lock.read_text().startswith("pid "), 120, "the first ingest's lock")
        second = subprocess.run(ingest_command(paged, data), env=clean_env(tmp_path), capture_output=True,
                                text=True, timeout=120)
        assert first.poll() is None, "the first ingest ended before the second started"
    finally:
        first.kill()
        first.wait(timeout=30)
    assert second.returncode == 3
    assert f"another ingest (pid {first.pid}) is running on {data}" in second.stderr
    assert "Traceback" not in second.stderr


def test_kill_9_mid_ingest_then_ingest_again_equals_a_clean_run(
    paged: Path, tmp_path: Path, embedder: Embedder
) -> None:
    data = tmp_path / "killed"
    proc = subprocess.Popen(ingest_command(paged, data), env=clean_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        done = wait_for(lambda: committed_files(data) or proc.poll() is not None, 240, "a first committed file",
                        every=0.02)
        assert proc.poll() is None, f"the ingest ended before it could be killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()  # type: ignore[union-attr]
    killed_at = committed_files(data)
    assert done and 1 <= killed_at < FILES, f"killed after {killed_at} of {FILES} files"

    resumed = subprocess.run(ingest_command(paged, data, "--json"), env=clean_env(tmp_path), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert '"added": ' + str(FILES - killed_at) in resumed.stdout  # committed files are not redone
    assert "was cut short; this run finished it" in json.loads(resumed.stdout)["repairs"]

    clean = tmp_path / "clean"
    Ingester(Index(clean, embedder=embedder)).run(paged)
    got, want = snapshot(data), snapshot(clean)
    print(f"\nkilled after {killed_at}/{FILES} files; {len(want.chunks)} chunks")
    assert got.files == want.files
    assert got.chunks == want.chunks  # same ids, texts and pages
    assert got.store == want.store == sorted(want.chunks)  # no orphan vectors, none missing
    assert got.keyword == want.keyword == sorted(want.chunks)  # the keyword index too
    cosines = [float(np.dot(got.vectors[c], want.vectors[c])) for c in want.chunks]
    assert min(cosines) > 0.999


def test_an_ingest_cut_before_the_keyword_index_is_repaired(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while it builds the keyword index of a publish: nothing of that publish is visible (the
    catalog, the keyword index and the vectors are the last run's), and the next run completes it."""
    library = tmp_path / "library"
    doc = library / "kiwi" / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "a.md").write_text("# A\n\nThe first kiwi file.\n", encoding="utf-8")
    index = Index(tmp_path / "data", embedder=embedder)
    Ingester(index).run(library)
    (doc / "b.md").write_text("# B\n\nThe takahe-setting lives here.\n", encoding="utf-8")

    def crash(cls: type, chunks: Any) -> KeywordIndex:
        raise KeyboardInterrupt("killed while building the keyword index")

    with monkeypatch.context() as patch:
        patch.setattr(KeywordIndex, "build", classmethod(crash))
        with pytest.raises(KeyboardInterrupt):
            Ingester(index).run(library)
    assert index.catalog.chunk_ids() == index.keyword.ids == ["kiwi::1.0::guide::a::0"]
    assert index.store.all_ids() == {"kiwi::1.0::guide::a::0"}
    report = Ingester(index).run(library)
    assert report.added == ["kiwi/1.0/guide/b.md"] and not report.updated
    assert sorted(index.keyword.ids) == sorted(index.catalog.chunk_ids()) == sorted(index.store.all_ids())
    assert index.keyword.search("takahe-setting", 1)[0][0] == "kiwi::1.0::guide::b::0"


def test_an_ingest_killed_while_publishing_is_reported_as_repaired(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after a publish wrote its vectors, before its commit (a fault raised in-process: a kill -9
    lands in that fraction of a second only by chance): the next run reads those files again and its
    report says so, and that it deleted the vectors no file owns, instead of `repaired 0`."""
    library = tmp_path / "library"
    doc = library / "kiwi" / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "a.md").write_text("# A\n\nThe first kiwi file.\n", encoding="utf-8")
    index = Index(tmp_path / "data", embedder=embedder)
    Ingester(index).run(library)
    (doc / "b.md").write_text("# B\n\nThe takahe-setting lives here.\n", encoding="utf-8")
    (doc / "c.md").write_text("# C\n\nThe weka-setting lives here.\n", encoding="utf-8")
    written = VectorStore.add

    def add_then_die(self: VectorStore, chunks: Any, vectors: Any) -> None:
        written(self, chunks, vectors)
        raise KeyboardInterrupt("killed between the vectors and the commit")

    with monkeypatch.context() as patch:
        patch.setattr(VectorStore, "add", add_then_die)
        with pytest.raises(KeyboardInterrupt):
            Ingester(index).run(library)
    (doc / "c.md").unlink()  # gone before the next run: its vectors belong to no file now
    report = Ingester(index).run(library)
    assert report.added == ["kiwi/1.0/guide/b.md"]
    assert report.repaired == 1 and report.vectors_removed == 1, (report.repaired, report.vectors_removed)
    assert report.resumed and "read again 1 file" in (report.repairs() or "")
    assert "deleted 1 vector" in (report.repairs() or "")
    assert sorted(index.store.all_ids()) == sorted(index.catalog.chunk_ids())
    assert Ingester(index).run(library).repairs() is None  # a run after a whole one repairs nothing


def test_ingest_with_chroma_unreachable_fails_clearly(tmp_path: Path) -> None:
    library = paged_library(tmp_path / "library")
    url = f"http://127.0.0.1:{free_port()}"
    run = subprocess.run(ingest_command(library, tmp_path / "data", "--chroma-url", url), env=clean_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert f"Chroma at {url}" in run.stderr and "unreachable" in run.stderr
    assert "run `mcdewey ingest` again" in run.stderr and "Traceback" not in run.stderr


# --- Chroma stops while McDewey serves -----------------------------------------------------------
def tool_text(result: Any) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_chroma_down_is_503_and_service_resumes_when_it_is_back(
    tmp_path: Path, embedder: Embedder, chroma: ChromaServer
) -> None:
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from assistant.surfaces.server import create_app

    library = tmp_path / "library"
    doc = library / "kiwi" / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "guide.md").write_text("# Guide\n\nThe pukeko-timeout is 30 seconds.\n", encoding="utf-8")
    data = tmp_path / "data"
    Ingester(Index(data, chroma.url, embedder=embedder)).run(library)
    settings = Settings(library=library, data=data, chroma_url=chroma.url, llm="none", chat=False)
    service = LibraryService(settings, Index(data, chroma.url, embedder=embedder))
    server = _Server(lambda port: create_app(settings.model_copy(update={"port": port}), service))
    url = server.start()
    try:
        def search() -> httpx.Response:
            return httpx.get(f"{url}/api/search", params={"q": "pukeko-timeout"}, timeout=60)

        assert search().status_code == 200 and search().json()[0]["source"] == "kiwi/1.0/guide/guide.md"
        chroma.stop()

        down = search()
        assert down.status_code == 503, down.text
        assert f"Chroma at {chroma.url}" in down.json()["detail"]
        health = httpx.get(f"{url}/healthz", timeout=30)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable" and "unreachable" in health.json()["chroma"]
        page = httpx.get(f"{url}/search", params={"q": "pukeko-timeout"}, headers={"accept": "text/html"},
                         timeout=60)
        assert page.status_code == 503 and "Chroma" in page.text and "Traceback" not in page.text
        async with mcp_session(url) as session:
            result = await session.call_tool("search_docs", {"query": "pukeko-timeout"})
            assert result.isError and f"Chroma at {chroma.url}" in tool_text(result)

            chroma.start()  # same port, same path; McDewey is not restarted
            back = wait_for(lambda: search().status_code == 200, 60, "search to work again", every=0.5)
            assert back
            assert search().json()[0]["source"] == "kiwi/1.0/guide/guide.md"
            assert httpx.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"
            result = await session.call_tool("search_docs", {"query": "pukeko-timeout"})  # the same MCP session
            assert not result.isError, tool_text(result)
    finally:
        server.stop()
