"""What `mcdewey serve` does about connections that hold a file descriptor and send nothing.

uvicorn (0.54, httptools) arms its keep-alive timeout only after a response: a connection that never
sends a complete request stays open for good. In issue 24, 3,000 such connections stayed open for the
whole test, and with a file limit of 1,024 (a common default) 1,100 of them made every `/healthz`
fail. So:

- `RequestDeadlineProtocol` closes a connection whose request (head and body) is not complete within
  REQUEST_TIMEOUT_S of its first byte, or of the connection opening (keep-alive idle time between
  requests stays uvicorn's own, 5 s);
- `raise_file_limit()` lifts the soft limit on open files to the hard one at start, and says so when
  even that is low.
"""

from __future__ import annotations

import asyncio
import logging
import resource

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("mcdewey.server")

# A request's head and body (at most 1 MB, server.MAX_BODY_BYTES) arrive in milliseconds from any real
# client or proxy; 10 s leaves room for a slow link and frees an idle connection's descriptor soon.
REQUEST_TIMEOUT_S = 10.0
LOW_FILE_LIMIT = 4096  # below this, a burst of idle connections can still exhaust descriptors


class RequestDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections that do not finish a request in REQUEST_TIMEOUT_S."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()  # the answer may take as long as it takes; the client is waiting, not idle
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the chat's socket: idle by nature, its own pings keep it honest
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(REQUEST_TIMEOUT_S, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def raise_file_limit() -> int:
    """Lift the soft limit on open files to the hard limit; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft < LOW_FILE_LIMIT:
        log.warning("open files are limited to %d: idle connections can exhaust them; raise the limit "
                    "(ulimit -n, systemd LimitNOFILE=) and put a reverse proxy in front on the internet", soft)
    return soft
