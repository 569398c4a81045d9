"""Two `mcdewey serve` replicas sharing one Chroma server (`chroma run` on loopback) and one data
directory that only `mcdewey ingest` writes, as README's deployment section describes.

During an ingest each replica sees whole files (all of a file, or none of it); after it both answer
with the new generation at once, the same results, without a restart; and neither writes into the data
directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from chroma_server import ChromaServer
from library_factory import build_library
from serve_process import (
    TOP_K,
    Tally,
    add_manuals,
    catalog_state,
    check_whole,
    ingest,
    ingest_async,
    kiwi_docs,
    served,
    watch,
)

pytestmark = pytest.mark.slow


def files_of(data: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file in the data directory but SQLite's shared-memory and log files, which
    any reader of a WAL database maps."""
    return {str(f.relative_to(data)): (f.stat().st_size, f.stat().st_mtime_ns) for f in data.rglob("*")
            if f.is_file() and not f.name.endswith(("-shm", "-wal"))}


async def results(url: str, queries: list[str]) -> dict[str, list[str]]:
    async with httpx.AsyncClient(timeout=60) as http:
        out = {}
        for q in queries:
            got = await http.get(f"{url}/api/search", params={"q": q, "top_k": TOP_K})
            assert got.status_code == 200, got.text
            out[q] = [h["chunk_id"] for h in got.json()]
        return out


async def health(url: str) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=60) as http:
        return dict((await http.get(f"{url}/healthz")).json())


async def test_two_replicas_pick_up_each_generation_whole(tmp_path: Path, chroma: ChromaServer) -> None:
    library, data, home = build_library(tmp_path / "library"), tmp_path / "data", tmp_path / "home"
    home.mkdir()
    ingest(library, data, home, chroma.url)
    before = files_of(data)
    with served(library, data, home, chroma.url) as one, served(library, data, home, chroma.url) as two:
        queries = ["routing table declared inside the channel block", "tui2bird switch", "tui0bird switch"]
        assert await results(one, queries) == await results(two, queries)
        assert files_of(data) == before, "a replica wrote into the data directory"

        words = add_manuals(library)
        tallies, seen = (Tally(), Tally()), ([], [])
        stop = asyncio.Event()
        watchers = [asyncio.create_task(watch(url, words, looks, tally, stop))
                    for url, looks, tally in zip((one, two), seen, tallies, strict=True)]
        await ingest_async(library, data, home, chroma.url)
        first = await results(one, queries), await results(two, queries)  # at once: no waiting, no restart
        stop.set()
        await asyncio.gather(*watchers)
        listing = httpx.get(f"{one}/api/library", timeout=60).json()
        states, published = [await health(one), await health(two)], catalog_state(data)

        (library / "kiwi" / "1.0" / "manual-2" / "manual.txt").unlink()
        await ingest_async(library, data, home, chroma.url)
        second = await results(one, queries), await results(two, queries)

    final = kiwi_docs(listing)
    for n, (tally, looks) in enumerate(zip(tallies, seen, strict=True), start=1):
        print(f"\nreplica {n}: {tally.summary()}; {len(looks)} consistent looks, manuals listed: "
              f"{sorted({tuple(sorted(look['listed'])) for look in looks})}")
        assert not tally.failures, tally.summary()
        check_whole(looks, final)
    assert first[0] == first[1] and second[0] == second[1]
    assert all(c.startswith("kiwi::1.0::manual-2::") for c in first[0]["tui2bird switch"][:TOP_K - 1])
    assert not any(c.startswith("kiwi::1.0::manual-2::") for c in second[0]["tui2bird switch"])
    assert all(s["status"] == "ok" and s["current"] is True for s in states)
    assert all((s["generation"], s["chunks"]) == published for s in states)
