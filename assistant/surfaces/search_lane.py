"""Searches run in a lane of threads of their own, so a search waiting on Chroma never takes the threads
the rest of the site needs.

Plain `def` routes (pages, /files, /api/library, /healthz) and the MCP tools share anyio's default
pool of 40 threads. A search holds its thread while Chroma answers; with a hung Chroma server, 45
waiting searches took all 40, and `/`, `/api/library`, `/files/…` and `/static/…` stopped answering
too (issue 24). Every search (REST, pages, MCP) goes through `searching`: at most SEARCH_THREADS run
at once and the rest wait as coroutines, holding no thread. A search takes 10-60 ms of CPU on these 2
cores, so more than a few at once only queue for the cores anyway.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio
from anyio.to_thread import run_sync

T = TypeVar("T")

SEARCH_THREADS = 8  # of anyio's default 40: 32 are left to everything else while Chroma hangs

_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _lane() -> anyio.CapacityLimiter:
    """The lane of the running event loop (tests run several servers, each on a loop of its own)."""
    loop = asyncio.get_running_loop()
    lane = _lanes.get(loop)
    if lane is None:
        lane = _lanes[loop] = anyio.CapacityLimiter(SEARCH_THREADS)
    return lane


async def searching(fn: Callable[[], T]) -> T:
    """`fn()` (a search, blocking) in a thread of the search lane; its exceptions propagate."""
    return await run_sync(fn, limiter=_lane())
