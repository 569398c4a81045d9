"""`mcdewey serve` and `mcdewey ingest` as real processes, for the tests of a library re-indexed while it
is served (tests/test_live_reindex.py, tests/test_replicas.py), and what those tests observe.

A served process is the product as deployed: its own Chroma client, its own caches, nothing shared
with the test's process but the data directory (and the Chroma server, when there is one).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fixtures_server import serve_process

BIN = Path(sys.executable).parent
MCDEWEY = str(BIN / "mcdewey")
TOP_K = 5


def env(home: Path, **settings: str) -> dict[str, str]:
    """The test's environment without MCDEWEY_*, plus `settings` as MCDEWEY_<NAME>."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    out["HOME"] = str(home)
    out["MCDEWEY_INGEST_BATCH"] = "256"  # each PAGES-chunk manual fills its own batch and is published alone
    out.update({f"MCDEWEY_{k.upper()}": v for k, v in settings.items()})
    return out


def ingest_args(library: Path, data: Path, chroma_url: str | None = None) -> list[str]:
    return [MCDEWEY, "ingest", "--library", str(library), "--data", str(data),
            *(["--chroma-url", chroma_url] if chroma_url else [])]


def ingest(library: Path, data: Path, home: Path, chroma_url: str | None = None) -> None:
    run = subprocess.run(ingest_args(library, data, chroma_url), env=env(home), capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr


async def ingest_async(library: Path, data: Path, home: Path, chroma_url: str | None = None) -> None:
    """`mcdewey ingest` in a second process, without blocking the loop that keeps searching meanwhile."""
    proc = await asyncio.create_subprocess_exec(*ingest_args(library, data, chroma_url), env=env(home),
                                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


@contextmanager
def served(library: Path, data: Path, home: Path, chroma_url: str | None = None) -> Iterator[str]:
    """`mcdewey serve` (no chat, no language model) on `data` itself and a free loopback port; its base URL."""
    settings = {"llm": "none", "chat": "false", **({"chroma_url": chroma_url} if chroma_url else {})}
    with serve_process(library, data, home, copy_data=False, **settings) as (url, _):
        yield url


def catalog_state(data: Path) -> tuple[str | None, int]:
    """(generation, chunks) of the catalog, read as a separate process would (read-only)."""
    with sqlite3.connect(f"file:{data / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return (row[0] if row else None), int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


@dataclass
class Tally:
    """What the searching clients saw: calls, and each kind of failure with an example."""

    calls: int = 0
    searches: int = 0
    failures: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, kind: str, example: str) -> None:
        self.failures.setdefault(kind, []).append(example[:300])

    def count(self) -> int:
        return sum(len(v) for v in self.failures.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k}: {len(v)}" for k, v in sorted(self.failures.items())) or "none"
        examples = "; ".join(v[0] for v in self.failures.values())[:1200]
        return f"{self.searches} searches, {self.calls} calls, {self.count()} failed ({kinds}) {examples}"


async def generation(http: httpx.AsyncClient, url: str) -> Any:
    return (await http.get(f"{url}/healthz")).json().get("generation")


async def reread(http: httpx.AsyncClient, url: str, ids: list[str], tally: Tally, before: Any, what: str) -> None:
    """Read every hit back through /api/chunks/{id}; a 404 counts unless a publish came in between."""
    for cid in ids:
        tally.calls += 1
        got = await http.get(f"{url}/api/chunks/{quote(cid, safe='')}")
        if got.status_code >= 500:
            tally.fail("5xx", f"{what} re-read {cid}: {got.status_code} {got.text}")
        elif got.status_code != 200 and await generation(http, url) == before:
            tally.fail("unreadable", f"{what} re-read {cid}: {got.status_code} {got.text}")


async def rest_search(http: httpx.AsyncClient, url: str, query: str, tally: Tally) -> list[dict[str, Any]] | None:
    """One /api/search, each hit read back; None when it failed (counted in `tally`)."""
    before = await generation(http, url)
    tally.calls += 1
    tally.searches += 1
    started = time.monotonic()
    got = await http.get(f"{url}/api/search", params={"q": query, "top_k": TOP_K})
    if got.status_code != 200:
        tally.fail("5xx" if got.status_code >= 500 else "error", f"REST {query!r}: {got.status_code} {got.text}")
        return None
    hits: list[dict[str, Any]] = got.json()
    if len(hits) < TOP_K:
        tally.fail("short", f"REST {query!r}: {len(hits)} of {TOP_K} after {time.monotonic() - started:.1f} s")
    await reread(http, url, [h["chunk_id"] for h in hits], tally, before, "REST")
    return hits


# --- one long ingest, watched: whole files or nothing ------------------------------------------------
MANUALS = 4
PAGES = 280  # ~280 short chunks a manual: each one fills an ingest batch (256, `env`) and is published alone


def add_manuals(library: Path) -> dict[str, str]:
    """MANUALS text manuals (product kiwi) whose every page names the manual's own word; {doc: word}."""
    words = {}
    for m in range(MANUALS):
        word = f"tui{m}bird"
        doc = library / "kiwi" / "1.0" / f"manual-{m}"
        doc.mkdir(parents=True)
        pages = [f"The {word} switch sits on page {p} of manual {m}." for p in range(1, PAGES + 1)]
        (doc / "manual.txt").write_text("\f".join(pages) + "\f", encoding="utf-8")
        words[f"manual-{m}"] = word
    return words


def kiwi_docs(listing: dict[str, Any]) -> dict[str, int]:
    """{doc: chunks} of product kiwi in an /api/library record."""
    return {d["doc"]: d["chunks"] for v in listing["vendors"] for p in v["products"] if p["product"] == "kiwi"
            for ver in p["versions"] for d in ver["documents"]}


async def observe(url: str, words: dict[str, str], seen: list[dict[str, Any]], tally: Tally) -> None:
    """One consistent look (no publish in between): which manuals the library lists, with how many
    chunks, and how many of the first TOP_K hits for each manual's word come from that manual."""
    async with httpx.AsyncClient(timeout=60) as http:
        before = await generation(http, url)
        tally.calls += 1
        listing = await http.get(f"{url}/api/library")
        if listing.status_code != 200:
            tally.fail("5xx" if listing.status_code >= 500 else "error", f"library: {listing.text}")
            return
        hits = {}
        for doc, word in words.items():
            found = await rest_search(http, url, f"{word} switch", tally)
            if found is None:
                return
            hits[doc] = sum(h["doc"] == doc for h in found)
        if await generation(http, url) == before:
            seen.append({"generation": before, "listed": kiwi_docs(listing.json()), "hits": hits})


async def watch(url: str, words: dict[str, str], seen: list[dict[str, Any]], tally: Tally,
                stop: asyncio.Event) -> None:
    while not stop.is_set():
        await observe(url, words, seen, tally)


def check_whole(seen: list[dict[str, Any]], final: dict[str, int]) -> None:
    """Every look saw each manual whole (all its chunks, found by its word) or not at all."""
    for look in seen:
        for doc, chunks in look["listed"].items():
            assert chunks == final[doc], f"{doc} listed with {chunks} of its {final[doc]} chunks: {look}"
        for doc, n in look["hits"].items():
            if doc in look["listed"]:
                assert n >= TOP_K - 1, f"{doc} is listed but its word finds {n} of its chunks: {look}"
            else:
                assert n == 0, f"{doc} is not listed yet its chunks are found: {look}"
