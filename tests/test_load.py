"""Load over loopback with the official MCP client: 50 concurrent clients × 20 `search_docs` calls per
round against the real app (uvicorn in this test process, over the session's index). Three rounds: a
shorter warm-up (50 × 4, to fill caches and allocator pools), then two full ones.

The clients run in a child process (this file run as a script), so they neither share the server's
interpreter lock nor count in its memory. Asserted: zero errors, and no growth of the server's memory
between rounds (RSS of this process, from /proc; round 3 against round 2, with a generous tolerance).
Latency (p50/p95/max), throughput and server CPU are printed, never asserted: this machine is shared
and its timings vary.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

CLIENTS = 50
CALLS = 20
WARM_UP_CALLS = 4
MAX_GROWTH_MB = 50.0
ROUND_SECONDS = 600  # a hung round fails the test rather than the whole suite
QUERIES = [
    "Which folder holds messages the transfer agent could not deliver?",
    "UmssMtaBadMail",
    "how is the routing table declared in Acme Router 2.0",
    "max_wal_senders standby servers",
    "purge_badmail_days",
    "IPv6 multicast routing release",
    "web console times out after inactivity",
    "export-config before upgrading",
    "MCDEWEY_CHROMA_URL setting",
    "how do I ingest a library",
    "MCP endpoint for agents",
    "replication options",
    "known issues in the release notes",
    "table keyword at the protocol level",
    "search the documentation from the command line",
]


def rss_mb() -> float:
    """Resident memory of this process (the in-process server lives here), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Round:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


# --- the clients (run in a child process) --------------------------------------------------------
async def client(base_url: str, number: int, calls: int, out: Round) -> None:
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(60, read=300)) as http,
            streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for call in range(calls):
                query = QUERIES[(number + call) % len(QUERIES)]
                started = time.perf_counter()
                result = await session.call_tool("search_docs", {"query": query, "top_k": 5})
                out.latencies.append(time.perf_counter() - started)
                if result.isError or not result.structuredContent or not result.structuredContent.get("result"):
                    text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
                    out.errors.append(f"client {number} call {call}: {text or 'no results'}")
    except Exception as exc:  # a transport failure is an error of the round
        out.errors.append(f"client {number}: {type(exc).__name__}: {exc}")


async def one_round(base_url: str, clients: int, calls: int) -> Round:
    out = Round()
    started = time.perf_counter()
    await asyncio.gather(*(client(base_url, n, calls, out) for n in range(clients)))
    out.seconds = time.perf_counter() - started
    return out


def run_round(base_url: str, calls: int) -> Round:
    """One round of clients in a child process; its result as JSON on stdout."""
    proc = subprocess.run([sys.executable, __file__, base_url, str(CLIENTS), str(calls)], capture_output=True,
                          text=True, timeout=ROUND_SECONDS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Round(**json.loads(proc.stdout))


# --- the test -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_fifty_mcp_clients_twenty_searches_each(server_url: str, service: Any) -> None:
    service.search("warm up", 1)  # the model and indexes are loaded before round 1 is timed
    rss: list[float] = []
    print(f"\nload: {CLIENTS} MCP clients × {CALLS} search_docs per round; server RSS before {rss_mb():.0f} MB")
    for n, calls_each in enumerate((WARM_UP_CALLS, CALLS, CALLS), start=1):
        cpu = cpu_seconds()
        r = run_round(server_url, calls_each)
        cpu = cpu_seconds() - cpu
        gc.collect()
        rss.append(rss_mb())
        calls = len(r.latencies)
        print(f"round {n}: {calls} calls in {r.seconds:.1f} s = {calls / r.seconds:.1f} calls/s; "
              f"p50 {r.percentile(0.5) * 1000:.0f} ms, p95 {r.percentile(0.95) * 1000:.0f} ms, "
              f"max {max(r.latencies, default=0) * 1000:.0f} ms; errors {len(r.errors)}; "
              f"server CPU {cpu:.1f} s; server RSS {rss[-1]:.0f} MB")
        assert not r.errors, r.errors[:5]
        assert calls == CLIENTS * calls_each
    growth = rss[2] - rss[1]
    print(f"server RSS growth round 2 → 3: {growth:+.1f} MB")
    assert growth < MAX_GROWTH_MB


if __name__ == "__main__":
    url, n_clients, n_calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    result = asyncio.run(one_round(url, n_clients, n_calls))
    print(json.dumps({"latencies": result.latencies, "errors": result.errors, "seconds": result.seconds}))
