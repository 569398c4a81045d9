"""`mcdewey serve` as a user starts it, in a child process, for tests whose server is not the session's:
an empty index, a path prefix behind a proxy, a token. Chainlit mounts once per process, so a chat
with other settings needs a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))
STARTUP_SECONDS = 120.0  # a child loads the embedding model and Chainlit before it listens


@contextmanager
def mcdewey_serve(work: Path, port: int, *args: str, ready_path: str = "/healthz", **settings: str) -> Iterator[str]:
    """`mcdewey serve --port PORT ARGS` with settings as MCDEWEY_*; its loopback URL once `ready_path`
    answers at all (an empty index's /healthz is a 503); stopped at the end."""
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCDEWEY_", "CHAINLIT_"))}
    env.update(HOME=str(work / "home"), **{f"MCDEWEY_{k.upper()}": v for k, v in settings.items()})
    url = f"http://127.0.0.1:{port}"
    log_path = work / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([MCDEWEY, "serve", "--port", str(port), *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"the server exited: {log_path.read_text()[-2000:]}")
                try:
                    httpx.get(f"{url}{ready_path}", timeout=5)
                    break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
