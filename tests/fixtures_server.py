"""The real app served by uvicorn on a free loopback port, for HTTP, MCP and browser tests.

Loaded through `pytest_plugins = ["fixtures_server"]` in conftest; tests ask for fixtures by name:
`server_url` (the session's server over the `service` fixture) and `start_server` (a factory for
extra servers with other settings, e.g. an API token, stopped at the end of the session). `raw_get`
sends a path exactly as written, for traversal probes; `mcp_session` opens the official MCP client;
`serve_process` runs `mcdewey serve` itself in a child process (its memory and CPU apart from the tests').
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn
from child_process import stop, wait_until_ready
from chroma_server import ChromaServer
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

StartServer = Callable[..., str]
STARTUP_SECONDS = 30.0
PROCESS_STARTUP_SECONDS = 120.0  # a child loads the embedding model and Chainlit before it listens
MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    """A `chroma run` server of its own on a loopback port (under tmp_path, on the test's own disk)."""
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def mcp_session(base_url: str, token: str | None = None) -> AsyncIterator[ClientSession]:
    """An initialized session of the official MCP client on the server's /mcp."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=120)) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def raw_get(base_url: str, raw_path: str) -> tuple[int, str]:
    """GET a path byte for byte (httpx would normalise it first)."""
    url = urlparse(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.putrequest("GET", raw_path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


class _Server:
    """A uvicorn server in a background thread, on a socket bound before the app is built."""

    def __init__(self, make_app: Callable[[int], Any]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(make_app(self.port), log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.server.started:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=5).status_code in (200, 503):
                        return self.url
                except httpx.TransportError:
                    pass
            if not self.thread.is_alive():
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the test server at {self.url} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(
    library: Path, data: Path, work: Path, *, copy_data: bool = True, **settings: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mcdewey serve` in a child process on a copy of the index at `data` (on `data` itself without
    `copy_data`: a library re-indexed while it is served), settings as MCDEWEY_*: its base URL, once
    /healthz answers, and the process; stopped (SIGTERM, then SIGKILL) at the end."""
    work.mkdir(parents=True, exist_ok=True)  # the log lives here, whether or not anything wrote it yet
    copy = work / "data" if copy_data else data
    if copy_data:
        shutil.copytree(data, copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCDEWEY_", "CHAINLIT_"))}
    env.update(HOME=str(work / "home"), **{f"MCDEWEY_{k.upper()}": v for k, v in settings.items()})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work / f"server-{port}.log"  # replicas may share `work`
    with log_path.open("wb") as log:
        proc = subprocess.Popen([MCDEWEY, "serve", "--library", str(library), "--data", str(copy), "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(proc, lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 200,
                             PROCESS_STARTUP_SECONDS, "the server", lambda: log_path.read_text()[-2000:])
            yield url, proc
        finally:
            stop(proc)


@pytest.fixture(scope="session")
def start_server(service: Any) -> Iterator[StartServer]:
    """`start_server(service=None, **settings)` → base URL of a new server (the session's service by default).

    The settings get the server's real port, so absolute links in records point at it.
    """
    from assistant.settings import Settings
    from assistant.surfaces.server import create_app

    servers: list[_Server] = []

    def start(svc: Any = None, **overrides: Any) -> str:
        svc = svc or service
        base = {"library": svc.settings.library, "data": svc.settings.data, "llm": "none"}

        def make_app(port: int) -> Any:
            return create_app(Settings(**{**base, **overrides, "host": "127.0.0.1", "port": port}), svc)

        server = _Server(make_app)
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="session")
def server_url(start_server: StartServer) -> str:
    """The app over the session's indexed library, without a token."""
    return start_server()
