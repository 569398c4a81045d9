"""The one file lock: an exclusive `flock` on a file beside what it guards.

An ingest and a server may start together and both want to export the ONNX model, and two ingests
may be started on one data directory; a lock file works across processes and is released by the
kernel when its holder dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockHeld(RuntimeError):
    """The lock is taken and the caller asked not to wait; `holder` is what its holder wrote in it."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.holder = holder


@contextmanager
def file_lock(path: Path, wait: bool = True, holder: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created, with its folder, when missing).

    `wait=False` raises LockHeld at once instead of waiting for the lock. `holder` is written into the
    file while the lock is held (and cleared after), so whoever is refused can say who has it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise LockHeld(path, fh.read().strip()) from None
        if holder is not None:
            fh.seek(0)
            fh.truncate()
            fh.write(holder)
            fh.flush()
        try:
            yield
        finally:
            if holder is not None:
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
