"""A library re-indexed by a second process while `mcdewey serve` answers (embedded Chroma).

The loop of the report that found it: REST `/api/search` and MCP `search_docs`, every hit read back
through `/api/chunks/{id}`, while `mcdewey ingest` adds a PDF, edits a file and deletes another, four
times. No call may fail, every hit must be readable, and once the last ingest has ended the server
must answer as a freshly started process does. A second test watches searches during one long ingest
(and one killed half-way): they see whole files, published batch by batch, never half of one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from chroma_server import wait_for
from fixtures_server import mcp_session
from library_factory import NOTES_TXT, build_library
from pdf_factory import PageWriter
from serve_process import (
    MANUALS,
    PAGES,
    TOP_K,
    Tally,
    add_manuals,
    catalog_state,
    check_whole,
    env,
    generation,
    ingest,
    ingest_args,
    ingest_async,
    kiwi_docs,
    reread,
    rest_search,
    served,
    watch,
)

from indexing.embedder import Embedder

pytestmark = pytest.mark.slow

QUERIES = (
    "routing table declared inside the channel block",
    "web console times out after minutes of inactivity",
    "kakapo valve pressure",
    "messages the transfer agent could not deliver",
    "back up the configuration before upgrading",
    "standby servers that may stream at once",
)
ROUNDS = 4


def kakapo_pdf(n: int) -> bytes:
    """A two-page PDF manual whose words the queries look for."""
    w = PageWriter()
    for page in (1, 2):
        w.page()
        w.heading(f"Kakapo valve {n}, part {page}")
        w.paragraph([f"The kakapo{n} valve pressure is set to {n * 10 + page} kPa on page {page}.",
                     "Release the valve slowly before opening the housing."])
    return w.output()


def mutate(library: Path, n: int) -> None:
    """Round n: add a PDF, edit the release notes, delete a file (round 1: an HTML manual; later: the
    PDF the round before added)."""
    doc = library / "kea" / "1.0" / f"valve-{n}"
    doc.mkdir(parents=True)
    (doc / "valve.pdf").write_bytes(kakapo_pdf(n))
    notes = library / "acme" / "2.0" / "release-notes" / "notes.txt"
    edited = NOTES_TXT.replace("30 minutes", f"{30 + n} minutes") + f"\fRound {n}\n\nAdded in round {n}.\n" * n
    notes.write_text(edited, encoding="utf-8")
    gone = library / "acme" / "1.6" / "admin-guide" / "admin.html" if n == 1 else (
        library / "kea" / "1.0" / f"valve-{n - 1}" / "valve.pdf")
    gone.unlink()


async def mcp_search(session: Any, http: httpx.AsyncClient, url: str, query: str, tally: Tally) -> None:
    before = await generation(http, url)
    tally.calls += 1
    tally.searches += 1
    result = await session.call_tool("search_docs", {"query": query, "top_k": TOP_K})
    if result.isError:
        tally.fail("mcp error", f"MCP {query!r}: {' '.join(getattr(c, 'text', '') for c in result.content)}")
        return
    hits = (result.structuredContent or {}).get("result", [])
    if len(hits) < TOP_K:
        tally.fail("short", f"MCP {query!r}: {len(hits)} of {TOP_K}")
    await reread(http, url, [h["chunk_id"] for h in hits], tally, before, "MCP")


async def keep_searching(url: str, stop: asyncio.Event, tally: Tally) -> None:
    async with httpx.AsyncClient(timeout=60) as http, mcp_session(url) as session:
        while not stop.is_set():
            for query in QUERIES:
                await rest_search(http, url, query, tally)
                await mcp_search(session, http, url, query, tally)


def fresh_results(library: Path, data: Path, embedder: Embedder) -> dict[str, list[str]]:
    """What a process started now answers (a new service over the same data directory)."""
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from indexing.index import Index

    index = Index(data, embedder=embedder)
    service = LibraryService(Settings(library=library, data=data, llm="none"), index)
    try:
        return {q: [c.chunk_id for c in service.search(q, TOP_K)] for q in QUERIES}
    finally:
        index.close()


async def test_searches_stay_right_while_another_process_reindexes(tmp_path: Path, embedder: Embedder) -> None:
    library, data, home = build_library(tmp_path / "library"), tmp_path / "data", tmp_path / "home"
    ingest(library, data, home)
    tally = Tally()
    with served(library, data, home) as url:
        stop = asyncio.Event()
        loop = asyncio.create_task(keep_searching(url, stop, tally))
        for n in range(1, ROUNDS + 1):
            mutate(library, n)
            await ingest_async(library, data, home)
            await asyncio.sleep(0.3)
        stop.set()
        await loop
        after = Tally()
        async with httpx.AsyncClient(timeout=60) as http, mcp_session(url) as session:
            for _ in range(3):  # the same calls again and again: a stale server keeps failing them
                served_now = {q: [h["chunk_id"] for h in await rest_search(http, url, q, after) or []]
                              for q in QUERIES}
                for q in QUERIES:
                    await mcp_search(session, http, url, q, after)
            by_mcp = {q: [h["chunk_id"] for h in ((await session.call_tool(
                "search_docs", {"query": q, "top_k": TOP_K})).structuredContent or {}).get("result", [])]
                for q in QUERIES}
            health = (await http.get(f"{url}/healthz")).json()
    print(f"\nduring {ROUNDS} ingests: {tally.summary()}\nafter the last one: {after.summary()}")
    assert tally.searches > 100 and not tally.failures, tally.summary()
    assert not after.failures, after.summary()
    fresh = fresh_results(library, data, embedder)
    assert served_now == by_mcp == fresh
    assert any(cid.startswith(f"kea::1.0::valve-{ROUNDS}::") for cid in served_now["kakapo valve pressure"])
    generation_now, chunks = catalog_state(data)
    assert health["status"] == "ok" and health["current"] is True
    assert (health["generation"], health["chunks"]) == (generation_now, chunks)


# --- one long ingest, watched ------------------------------------------------------------------------
async def test_a_running_ingest_publishes_whole_files_batch_by_batch(tmp_path: Path) -> None:
    library, data, home = build_library(tmp_path / "library"), tmp_path / "data", tmp_path / "home"
    ingest(library, data, home)
    words = add_manuals(library)
    tally, seen = Tally(), []
    with served(library, data, home) as url:
        # A first ingest killed once two manuals are published: the server keeps serving whole files.
        proc = subprocess.Popen(ingest_args(library, data), env=env(home), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(url, words, seen, tally, stop))
        try:
            await asyncio.to_thread(wait_for, lambda: len(seen[-1]["listed"] if seen else ()) >= 2
                                    or proc.poll() is not None, 120, "two manuals published")
            assert proc.poll() is None, "the ingest ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        killed_at = len(seen)
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(timeout=60) as http:
            health = (await http.get(f"{url}/healthz")).json()
        assert health["status"] == "ok" and health["current"] is True, health  # the killed run's last publish
        assert (health["generation"], health["chunks"]) == catalog_state(data)
        await ingest_async(library, data, home)  # the next run completes it
        await asyncio.sleep(0.5)
        stop.set()
        await watcher
        async with httpx.AsyncClient(timeout=60) as http:
            listing = (await http.get(f"{url}/api/library")).json()
    final = kiwi_docs(listing)
    states = sorted({tuple(sorted(look["listed"])) for look in seen})
    print(f"\n{tally.summary()}; {len(seen)} consistent looks, killed after look {killed_at}; manuals listed: {states}")
    assert not tally.failures, tally.summary()
    assert set(final) == set(words) and all(n >= PAGES - 5 for n in final.values())
    check_whole(seen, final)
    assert any(0 < len(s) < MANUALS for s in states), f"no look saw part of the manuals published: {states}"
    assert seen[-1]["listed"] == final


# --- cut between the vectors and the commit ----------------------------------------------------------
def test_a_run_cut_after_its_vectors_before_its_commit_reuses_none_of_them(
    tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut after Chroma holds an edited file's new vectors, before the commit of its rows (a fault injected
    where a kill -9 would have to land within milliseconds). The edit puts a page first, so each old
    chunk's text is now the next chunk's, under another id: the next run must not take the vector
    Chroma holds under an old row's id for that row's text (it is the new text's), but embed again."""
    import numpy as np

    from indexing.catalog import Catalog
    from indexing.index import GENERATION_KEY, Index
    from indexing.ingest import Ingester

    doc = tmp_path / "library" / "kiwi" / "1.0" / "guide"
    doc.mkdir(parents=True)
    # Pages long enough to be a chunk each (shorter ones would share chunks, and the shift change them all).
    pages = [" ".join([f"The weka{p} lever is pulled on page {p} before the kaka{p} dial turns."] * 9)
             for p in range(6)]
    manual = doc / "guide.txt"
    manual.write_text("\f".join(pages) + "\f", encoding="utf-8")
    index = Index(tmp_path / "data", embedder=embedder)
    Ingester(index).run(tmp_path / "library")
    before = {c.chunk_id: c.text for c in index.catalog.iter_chunks()}
    manual.write_text("\f".join([" ".join(["A new first page about the ruru gauge."] * 9), *pages]) + "\f",
                      encoding="utf-8")

    set_meta = Catalog.set_meta

    def cut(self: Catalog, key: str, value: str) -> None:
        if key == GENERATION_KEY:
            raise KeyboardInterrupt("killed between the vectors and the commit")
        set_meta(self, key, value)

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "set_meta", cut)
        with pytest.raises(KeyboardInterrupt):
            Ingester(index).run(tmp_path / "library")
    assert {c.chunk_id: c.text for c in index.catalog.iter_chunks()} == before  # the old file, whole
    report = Ingester(index).run(tmp_path / "library")
    assert report.updated == ["kiwi/1.0/guide/guide.txt"] and report.chunks_embedded == report.chunks_added

    clean = Index(tmp_path / "clean", embedder=embedder)
    Ingester(clean).run(tmp_path / "library")
    got, want = (i.store.vectors(sorted(i.catalog.chunk_ids())) for i in (index, clean))
    assert got.keys() == want.keys()
    assert min(float(np.dot(got[c], want[c])) for c in want) > 0.999
