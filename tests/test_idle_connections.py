"""`mcdewey serve` closes connections that send no complete request, so idle sockets cannot use up its
file descriptors: against the real server process, connections that send nothing or half a request
head are closed after REQUEST_TIMEOUT_S, and with its file limit cut to 256 (prlimit), 320 idle
connections (more than it has descriptors left) leave `/healthz` answering once they are closed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures_server import serve_process

from assistant.surfaces.connections import REQUEST_TIMEOUT_S

pytestmark = pytest.mark.slow

IDLE = 150
HALF = 20
LIMITED_IDLE = 320
FILE_LIMIT = 256


@pytest.fixture
def served(library: Path, indexed: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    with serve_process(library, indexed, tmp_path, llm="none", chat="false") as (url, proc):
        yield url, proc.pid


def open_idle(port: int, n: int, first_bytes: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False  # still open, nothing said
    except ConnectionResetError:
        return True


def test_connections_that_send_no_request_are_closed(served: tuple[str, int]) -> None:
    url, _ = served
    port = int(url.rsplit(":", 1)[1])
    idle = open_idle(port, IDLE)
    half = open_idle(port, HALF, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
    try:
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        time.sleep(REQUEST_TIMEOUT_S + 2)
        still_open = [s for s in idle + half if not closed_by_server(s)]
        assert not still_open, f"{len(still_open)} of {IDLE + HALF} idle connections still open"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        for sock in idle + half:
            sock.close()


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is absent")
def test_idle_connections_under_a_low_file_limit_leave_healthz_answering(served: tuple[str, int]) -> None:
    url, pid = served
    port = int(url.rsplit(":", 1)[1])
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={FILE_LIMIT}:{FILE_LIMIT}"], check=True)
    idle = open_idle(port, LIMITED_IDLE)  # more than the descriptors the server has left
    try:
        started = time.monotonic()
        answered = None
        while answered is None and time.monotonic() - started < 3 * REQUEST_TIMEOUT_S:
            try:  # while the idle connections hold every descriptor, a new connection is cut at once
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    answered = time.monotonic() - started
            except httpx.TransportError:
                time.sleep(0.5)
        assert answered is not None, f"/healthz never answered behind {LIMITED_IDLE} idle connections"
        assert answered < 2 * REQUEST_TIMEOUT_S, f"/healthz answered after {answered:.1f} s"
    finally:
        for sock in idle:
            sock.close()
