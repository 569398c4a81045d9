"""Backpressure for answers: a bounded number in flight, a bounded line, and a prompt refusal beyond it.

Takes an answer's event stream (a function that starts it) and gives it back gated: `AnswerSlots.admit`
either reserves a place at once (running, or waiting in line) or raises `Busy` at once, before any
work starts; the returned `GatedStream` waits for a free slot on its first item (in whatever thread
iterates it, never in an event loop) and gives the slot back when it ends, fails, is closed, or is
dropped. `cancel()` (any thread) takes a waiting stream out of the line, so a client that has gone
never reaches the model. Places are granted first come, first served.

Answers are the one costly thing McDewey does per request (the embedded model runs one llama.cpp
thread per answer), so only answers take a slot: searches, pages, MCP and /healthz never wait here.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from assistant.errors import Busy

T = TypeVar("T")

RETRY_AFTER_S = 5  # an answer takes 0.2 s (no model) to ~10 s (embedded model, busy machine)

_WAITING, _RUNNING, _DONE = "waiting", "running", "done"


class AnswerSlots:
    """At most `running` answers at once and `waiting` more in line; beyond that `Busy` at once."""

    def __init__(self, running: int, waiting: int, retry_after: int = RETRY_AFTER_S) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("running must be at least 1 and waiting at least 0")
        self.limit = running
        self.line_limit = waiting
        self.retry_after = retry_after
        self._lock = threading.Condition()
        self._running = 0
        self._line: deque[_Ticket] = deque()

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._line)

    def admit(self, start: Callable[[], Iterator[T]]) -> GatedStream[T]:
        """A place for one answer, or Busy now; `start()` runs once a slot is free (first item)."""
        with self._lock:
            if self._running + len(self._line) >= self.limit + self.line_limit:
                raise Busy(
                    f"McDewey is busy: {self._running} answers in progress and {len(self._line)} waiting "
                    f"(MCDEWEY_MAX_ANSWERS={self.limit}, MCDEWEY_ANSWER_QUEUE={self.line_limit}); "
                    f"try again in {self.retry_after} s",
                    self.retry_after,
                )
            ticket = _Ticket(self)
            self._line.append(ticket)
        return GatedStream(ticket, start)

    # --- used by _Ticket ---------------------------------------------------------------------------
    def _wait(self, ticket: _Ticket) -> bool:
        """Block until `ticket` runs (True) or was cancelled while waiting (False)."""
        with self._lock:
            while ticket.state == _WAITING:
                if self._running < self.limit and self._line and self._line[0] is ticket:
                    self._line.popleft()
                    self._running += 1
                    ticket.state = _RUNNING
                    self._lock.notify_all()  # the next in line may run too
                    break
                self._lock.wait()
            return ticket.state == _RUNNING

    def _release(self, ticket: _Ticket) -> None:
        with self._lock:
            if ticket.state == _RUNNING:
                self._running -= 1
            elif ticket.state == _WAITING and ticket in self._line:
                self._line.remove(ticket)
            ticket.state = _DONE
            self._lock.notify_all()

    def _cancel(self, ticket: _Ticket) -> None:
        """A waiting ticket leaves the line at once (its thread, if any, wakes and gives up)."""
        with self._lock:
            if ticket.state == _WAITING:
                self._line.remove(ticket)
                ticket.state = _DONE
                self._lock.notify_all()


class _Ticket:
    def __init__(self, slots: AnswerSlots) -> None:
        self.slots = slots
        self.state = _WAITING


class GatedStream(Iterator[T], Generic[T]):
    """An answer's events behind its slot: waits for the slot on the first item, frees it at the end."""

    def __init__(self, ticket: _Ticket, start: Callable[[], Iterator[T]]) -> None:
        self._ticket = ticket
        self._start: Callable[[], Iterator[T]] | None = start
        self._events: Iterator[T] | None = None

    def __iter__(self) -> GatedStream[T]:
        return self

    def __next__(self) -> T:
        if self._events is None:
            start, self._start = self._start, None
            if start is None or not self._ticket.slots._wait(self._ticket):
                self.close()
                raise StopIteration  # cancelled while waiting, or already closed
            try:
                self._events = start()
            except BaseException:
                self.close()
                raise
        try:
            return next(self._events)
        except BaseException:  # the end, an error, or GeneratorExit: the slot is free either way
            self.close()
            raise

    def cancel(self) -> None:
        """The consumer has gone (any thread): leave the line now; a running answer stops at `close`."""
        self._ticket.slots._cancel(self._ticket)

    def close(self) -> None:
        """Stop the answer (a generator stops at its next token) and free the slot; idempotent."""
        events, self._events, self._start = self._events, None, None
        try:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        finally:
            self._ticket.slots._release(self._ticket)

    def __del__(self) -> None:  # dropped without being closed (a caller that stopped early)
        if self._ticket.state != _DONE:
            self._ticket.slots._release(self._ticket)
