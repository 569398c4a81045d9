"""Latency clients for the bench: sequential `GET /api/search` and MCP `search_docs` calls (official
MCP client), and many MCP sessions searching at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any


def http_latencies(url: str, queries: Sequence[str], n: int,
                   filters: Sequence[dict[str, str]] | None = None) -> tuple[list[float], int]:
    """Milliseconds of `n` sequential searches (queries cycled, each with its filters if given), errors."""
    import httpx

    def params(i: int) -> dict[str, str]:
        return {"q": queries[i % len(queries)], **(filters[i % len(filters)] if filters else {})}

    times: list[float] = []
    errors = 0
    with httpx.Client(timeout=60) as client:
        for i in range(min(3, len(queries))):
            client.get(f"{url}/api/search", params=params(i))
        for i in range(n):
            t0 = time.perf_counter()
            r = client.get(f"{url}/api/search", params=params(i))
            elapsed = time.perf_counter() - t0
            if r.status_code == 200:
                times.append(elapsed * 1000)
            else:
                errors += 1
    return times, errors


@contextlib.asynccontextmanager
async def mcp_session(url: str) -> Any:
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60, read=120)) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _mcp_latencies(url: str, queries: Sequence[str], n: int,
                         filters: Sequence[dict[str, str]] | None) -> tuple[list[float], int]:
    def args(i: int) -> dict[str, str]:
        return {"query": queries[i % len(queries)], **(filters[i % len(filters)] if filters else {})}

    times: list[float] = []
    errors = 0
    async with mcp_session(url) as session:
        for i in range(min(3, len(queries))):
            await session.call_tool("search_docs", args(i))
        for i in range(n):
            t0 = time.perf_counter()
            result = await session.call_tool("search_docs", args(i))
            elapsed = time.perf_counter() - t0
            if result.isError:
                errors += 1
            else:
                times.append(elapsed * 1000)
    return times, errors


def mcp_latencies(url: str, queries: Sequence[str], n: int,
                  filters: Sequence[dict[str, str]] | None = None) -> tuple[list[float], int]:
    """Milliseconds of `n` sequential `search_docs` calls in one MCP session (as `http_latencies`), errors."""
    return asyncio.run(_mcp_latencies(url, queries, n, filters))


async def _mcp_load(url: str, queries: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    times: list[float] = []
    errors: list[str] = []
    connected = 0

    async def one(k: int) -> None:
        nonlocal connected
        try:
            async with mcp_session(url) as session:
                connected += 1
                await ready.wait()
                i = k
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    try:
                        result = await session.call_tool("search_docs", {"query": queries[i % len(queries)]})
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        continue
                    if result.isError:
                        errors.append(str(result.content)[:200])
                    else:
                        times.append((time.perf_counter() - t0) * 1000)
                    i += 1
        except Exception as exc:
            errors.append(f"session {k}: {type(exc).__name__}: {exc}")

    ready = asyncio.Event()
    deadline = float("inf")
    tasks = [asyncio.create_task(one(k)) for k in range(clients)]
    for _ in range(600):  # all sessions open before the clock starts
        if connected + len(errors) >= clients:
            break
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    deadline = started + seconds
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"requests": len(times), "errors": len(errors), "elapsed": elapsed, "times": times,
            "first_error": errors[0] if errors else None, "sessions": connected}


def mcp_load(url: str, queries: Sequence[str], clients: int, seconds: float) -> dict[str, Any]:
    return asyncio.run(_mcp_load(url, queries, clients, seconds))
