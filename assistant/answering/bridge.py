"""A blocking event stream for async callers: the work runs in a thread, the loop never blocks.

Takes a function that returns a generator; gives an async iterator of its items. Leaving the loop
early (client gone) closes the generator at its next item, which stops the model's generation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


async def iterate_in_thread(
    start: Callable[[], Iterator[T]], name: str = "mcdewey-answer", on_leave: Callable[[], None] | None = None,
) -> AsyncIterator[T]:
    """The items of `start()`, produced in a daemon thread and handed to the running loop one by one.

    Exceptions raised by the generator are re-raised in the caller's task. `on_leave` is called when
    the caller stops iterating (done, failed or cancelled), from the caller's task: it can wake a
    producer that is blocked before its first item (an answer waiting for a slot).
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[T | BaseException | None] = asyncio.Queue()
    stop = threading.Event()

    def put(item: T | BaseException | None) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def pump() -> None:
        gen = start()
        try:
            for event in gen:
                put(event)
                if stop.is_set():
                    break
        except Exception as exc:  # re-raised in the caller's task below
            put(exc)
        finally:
            gen.close()
            put(None)

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while (item := await events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if on_leave is not None:
            on_leave()

