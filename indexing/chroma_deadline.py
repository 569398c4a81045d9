"""Deadlines for a Chroma server: a timeout on every request, a quick probe, and a pause after a timeout.

chromadb 1.5.9's HTTP client builds its `httpx.Client(timeout=None)`: a server that stops answering
without closing its sockets (a `kill -STOP`, a hung host, a dropped network path) held every search,
`search_docs` and `/healthz` for as long as it stayed stopped (over 150 s in the test of issue 24). So:

- `bound(client, seconds)` puts a timeout on every request of a client (its session is reachable only
  through the client's private `_server._session`; chromadb has no setting for it);
- `probe(url, seconds)` asks the server's heartbeat with a short timeout of its own, before a client is
  made (whose constructor already sends requests) and for `/healthz`;
- `Pause`: after a request timed out, calls fail at once for a while, then one call at a time tries
  the server again, so a hung server costs the first searches their timeout and the rest nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

# Seconds a request to a Chroma server may take (a search's; MCDEWEY_CHROMA_TIMEOUT's default). A
# search's requests take 3-20 ms on the whole library, a filtered `where` at 1M chunks 1.4 s (p95).
READ_TIMEOUT_S = 10.0
# An ingest's: an upsert of 4,000 vectors (store.ADD_BATCH) took ~3 s here (~1,300 chunks/s).
WRITE_TIMEOUT_S = 120.0
# /healthz and a new client ask the heartbeat first: a healthy server answers in ~1 ms on loopback.
PROBE_TIMEOUT_S = 2.0
# After a timeout, calls are refused at once for this long, then let through one at a time.
PAUSE_S = 5.0
HEARTBEAT_PATH = "/api/v2/heartbeat"


def probe(chroma_url: str, seconds: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the server's heartbeat answers within `seconds`, else what went wrong."""
    try:
        got = httpx.get(chroma_url.rstrip("/") + HEARTBEAT_PATH, timeout=seconds)
    except httpx.TimeoutException:
        return f"no answer within {seconds:g} s"
    except httpx.HTTPError as exc:
        return str(exc) or type(exc).__name__
    return None if got.status_code == 200 else f"heartbeat answered {got.status_code}"


def bound(client: Any, seconds: float) -> None:
    """Every later request of this chromadb HTTP client times out after `seconds`."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)


class Pause:
    """Refuse calls for PAUSE_S after one timed out; then let one through at a time until one succeeds."""

    def __init__(self, seconds: float = PAUSE_S) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._until = 0.0  # 0: the server answered last time
        self._trying = False

    def admit(self) -> bool:
        """Whether this call may reach the server (False: refuse it at once)."""
        with self._lock:
            if not self._until:
                return True
            if time.monotonic() < self._until or self._trying:
                return False
            self._trying = True  # this call is the one that tries the server again
            return True

    def answered(self) -> None:
        with self._lock:
            self._until, self._trying = 0.0, False

    def timed_out(self) -> None:
        with self._lock:
            self._until, self._trying = time.monotonic() + self.seconds, False

    def failed(self) -> None:
        """A call that failed otherwise (an error answer, a refused connection) ends a trial too."""
        with self._lock:
            self._trying = False
