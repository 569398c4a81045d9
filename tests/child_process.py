"""Child processes the tests start (`mcdewey serve`, nginx): waited for until they answer, stopped at the end.

One home for the two loops every such fixture had written again: wait until the child answers (failing
at once, with its log, if it exits first or takes too long) and stop it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_until_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], seconds: float, what: str,
                     log: Callable[[], str], every: float = 0.25) -> None:
    """Poll `ready()` (a connection refused counts as not yet) until it holds; fail with `what` and the
    child's `log()` when the child exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {log()}")
        try:
            if ready():
                return
        except (OSError, httpx.TransportError):  # not listening yet
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not start: {log()}")
        time.sleep(every)


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
