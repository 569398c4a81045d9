"""A Chroma server that hangs (SIGSTOP: its sockets stay open, nothing answers) does not hang the site.

`mcdewey serve` (its own process) on a `chroma run` server the test stops: `/healthz` says `unavailable`
within seconds; 45 searches at once each get a 503 (MCP: a tool error) with the reason, instead of
waiting for as long as the server stays stopped; meanwhile the pages, the listing, the originals and
the static files answer as fast as ever; once the server runs again, searches work without a restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chroma_server import ChromaServer, wait_for
from fixtures_server import mcp_session, serve_process
from library_factory import build_library
from serve_process import ingest

pytestmark = pytest.mark.slow

TIMEOUT_S = 3  # MCDEWEY_CHROMA_TIMEOUT for the served process (default 10)
SEARCHES = 45
QUERY = "routing table declared inside the channel block"


@pytest.fixture
def stopped_chroma(tmp_path: Path, chroma: ChromaServer) -> Iterator[tuple[str, ChromaServer]]:
    """A served library on `chroma`; yields the server's URL with Chroma stopped (SIGSTOP), resumed after."""
    library, data, home = build_library(tmp_path / "library"), tmp_path / "data", tmp_path / "home"
    home.mkdir()
    ingest(library, data, home, chroma.url)
    settings = {"llm": "none", "chat": "false", "chroma_url": chroma.url, "chroma_timeout": str(TIMEOUT_S)}
    with serve_process(library, data, tmp_path / "serve", copy_data=False, **settings) as (url, _):
        assert httpx.get(f"{url}/api/search", params={"q": QUERY}, timeout=60).status_code == 200
        assert chroma.proc is not None
        os.kill(chroma.proc.pid, signal.SIGSTOP)
        try:
            yield url, chroma
        finally:
            os.kill(chroma.proc.pid, signal.SIGCONT)


async def timed_get(http: httpx.AsyncClient, url: str, **params: str) -> tuple[int, float, str]:
    started = time.monotonic()
    got = await http.get(url, params=params)
    return got.status_code, time.monotonic() - started, got.text


async def test_a_stopped_chroma_server_does_not_hang_the_site(stopped_chroma: tuple[str, ChromaServer]) -> None:
    url, chroma = stopped_chroma
    async with httpx.AsyncClient(timeout=httpx.Timeout(60)) as http:
        status, took, text = await timed_get(http, f"{url}/healthz")
        assert status == 503 and '"unavailable"' in text, text
        assert took < 5, f"/healthz took {took:.1f} s with Chroma stopped"

        searches = [asyncio.create_task(timed_get(http, f"{url}/api/search", q=f"{QUERY} {i}"))
                    for i in range(SEARCHES)]
        await asyncio.sleep(1.0)  # the searches are waiting on Chroma now
        listing = (await http.get(f"{url}/api/library")).json()
        source = listing["vendors"][0]["products"][0]["versions"][0]["documents"][0]["entry"]
        for path in ["/", "/api/library", f"/files/{source}", "/static/style.css"]:
            status, took, text = await timed_get(http, f"{url}{path}")
            assert status == 200, f"{path}: {status} {text[:200]}"
            assert took < 2, f"{path} took {took:.1f} s while {SEARCHES} searches waited on a stopped Chroma"
        status, took, text = await timed_get(http, f"{url}/healthz")
        assert status == 503 and took < 5, (status, took)

        done = await asyncio.wait_for(asyncio.gather(*searches), timeout=60)
        assert {s for s, _, _ in done} == {503}, [(s, t[:120]) for s, _, t in done if s != 503][:3]
        assert "Chroma" in done[0][2]
        slowest = max(t for _, t, _ in done)
        assert slowest < 4 * TIMEOUT_S + 5, f"the slowest of {SEARCHES} searches took {slowest:.1f} s"

    started = time.monotonic()
    async with mcp_session(url) as session:
        result = await session.call_tool("search_docs", {"query": QUERY})
    assert result.isError and "Chroma" in str(result.content), result.content
    assert time.monotonic() - started < TIMEOUT_S + 5

    assert chroma.proc is not None
    os.kill(chroma.proc.pid, signal.SIGCONT)

    def searchable() -> bool:
        return httpx.get(f"{url}/api/search", params={"q": QUERY}, timeout=60).status_code == 200

    wait_for(searchable, 30, "searches to work again once Chroma runs", every=0.5)
    assert httpx.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"
