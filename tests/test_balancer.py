"""Two `mcdewey serve` replicas on one data folder behind a per-request round-robin reverse proxy (Debian's
nginx, `reverse_proxy.py`), no sticky sessions: MCP through the official client, REST, pages and the chat
in a real browser all work, each replica taking its turn; and a flood of MCP `initialize` requests that
never close leaves the server holding nothing, with a well-behaved client served at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_server import mcp_session, serve_process
from reverse_proxy import nginx, round_robin

pytestmark = pytest.mark.slow

CALLS = 20
QUERY = "routing table declared inside the channel block"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
FLOOD = 2000
FLOOD_AT_ONCE = 8
ANSWER = '[data-step-type="assistant_message"]'
WAIT_MS = 60_000
CHAT_QUESTION = "Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?"


class Replicas:
    def __init__(self, urls: list[str], procs: list[subprocess.Popen[bytes]], logs: list[Path], proxy: str) -> None:
        self.urls, self.procs, self.logs, self.proxy = urls, procs, logs, proxy

    def served(self, line: str) -> list[int]:
        """How many times each replica's access log shows `line` (e.g. 'POST /mcp')."""
        return [log.read_text(errors="replace").count(line) for log in self.logs]


@pytest.fixture(scope="module")
def replicas(library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two replicas (chat on, no language model) serving one data folder, and nginx in front of them."""
    work = tmp_path_factory.mktemp("replicas")
    data = work / "data"
    shutil.copytree(indexed, data)  # one copy, served by both replicas
    with ExitStack() as stack:
        started = [stack.enter_context(serve_process(library, data, work, copy_data=False, llm="none"))
                   for _ in range(2)]
        urls = [url for url, _ in started]
        port = stack.enter_context(nginx(work / "nginx", round_robin([u.removeprefix("http://") for u in urls])))
        logs = [work / f"server-{u.rsplit(':', 1)[1]}.log" for u in urls]
        yield Replicas(urls, [p for _, p in started], logs, f"http://127.0.0.1:{port}")


async def test_mcp_search_through_a_round_robin_balancer(replicas: Replicas) -> None:
    before = replicas.served('"POST /mcp')
    async with mcp_session(replicas.proxy) as session:
        results = [await session.call_tool("search_docs", {"query": QUERY, "top_k": 3}) for _ in range(CALLS)]
    failed = [r.content for r in results if r.isError or not (r.structuredContent or {}).get("result")]
    assert not failed, f"{len(failed)} of {CALLS} search_docs calls failed through the balancer: {failed[0]}"
    after = replicas.served('"POST /mcp')
    shares = [a - b for a, b in zip(after, before, strict=True)]
    assert min(shares) >= CALLS // 2 - 1, f"the balancer did not alternate: {shares} MCP posts per replica"


def test_rest_and_pages_through_the_balancer(replicas: Replicas) -> None:
    with httpx.Client(base_url=replicas.proxy, timeout=60) as http:
        for path in ["/", "/api/library", f"/api/search?q={QUERY}&top_k=3", "/search?q=channel", "/healthz"] * 4:
            got = http.get(path)
            assert got.status_code == 200, f"{path}: {got.status_code} {got.text[:300]}"


def rss_kb(proc: subprocess.Popen[bytes]) -> int:
    status = Path(f"/proc/{proc.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


async def test_an_initialize_flood_keeps_nothing_and_a_client_is_served(replicas: Replicas) -> None:
    url, proc = replicas.urls[0], replicas.procs[0]
    async with mcp_session(url) as session:  # warm: the first client's allocations are not the flood's
        await session.list_tools()
    rss_before = rss_kb(proc)
    session_ids: list[str] = []
    statuses: dict[int, int] = {}

    async def flood(http: httpx.AsyncClient, n: int) -> None:
        for _ in range(n):  # each initialize is never followed by a DELETE: a client that walks away
            got = await http.post(f"{url}/mcp", content=json.dumps(INIT), headers=MCP_HEADERS)
            statuses[got.status_code] = statuses.get(got.status_code, 0) + 1
            if "mcp-session-id" in got.headers:
                session_ids.append(got.headers["mcp-session-id"])

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(flood(http, FLOOD // FLOOD_AT_ONCE) for _ in range(FLOOD_AT_ONCE)))
    assert statuses == {200: FLOOD}, statuses
    assert not session_ids, f"the server opened {len(session_ids)} sessions it keeps until they expire"
    async with mcp_session(url) as session:
        found = await session.call_tool("search_docs", {"query": QUERY, "top_k": 3})
    assert not found.isError, found.content
    # Any replica answers a request that never initialized: nothing about a client is kept between requests.
    listed = httpx.post(f"{replicas.proxy}/mcp", headers=MCP_HEADERS, timeout=60,
                        content=json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
    assert listed.status_code == 200 and "search_docs" in listed.text, listed.text[:300]
    grown = (rss_kb(proc) - rss_before) / 1024
    assert grown < 40, f"RSS grew {grown:.0f} MB over {FLOOD} initialize requests"


@pytest.mark.browser
def test_chat_through_the_balancer(replicas: Replicas, browser: Any) -> None:
    """Chainlit's socket.io speaks websocket only (a socket stays on the replica it opened on); its
    HTTP long-polling would need sticky sessions: the polls after the handshake reach the other replica."""
    page = browser.new_page()
    page.goto(f"{replicas.proxy}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    page.locator(ANSWER, has_text="This library holds").wait_for(timeout=WAIT_MS)  # the welcome: connected
    page.locator("#chat-input").press_sequentially(CHAT_QUESTION)
    page.click("#chat-submit")
    page.wait_for_function(f"document.querySelectorAll('{ANSWER}').length > 1", timeout=WAIT_MS)
    answer = page.locator(ANSWER).nth(1)
    answer.locator("text=Sources").wait_for(timeout=WAIT_MS)
    assert "UmssMtaBadMail" in answer.inner_text()
    polls = sum(log.read_text(errors="replace").count("transport=polling") for log in replicas.logs)
    assert polls == 0, f"the chat fell back to long-polling {polls} times (needs sticky sessions)"
    page.context.close()
