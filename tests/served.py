"""`mcdewey serve` as a user starts it, in a child process, for tests whose server is not the session's:
an empty index, a path prefix behind a proxy, a token. Chainlit mounts once per process, so a chat
with other settings needs a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from child_process import stop, wait_until_ready

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
            wait_until_ready(proc, lambda: httpx.get(f"{url}{ready_path}", timeout=5).status_code > 0, STARTUP_SECONDS,
                             "the server", lambda: log_path.read_text()[-2000:])
            yield url
        finally:
            stop(proc)
