"""A real reverse proxy for the tests: Debian's nginx in the foreground, on a free loopback port.

`nginx(workdir, server_block)` writes a configuration whose prefix, pid, temp and log files all live
under `workdir`, with `server_block` (the body of one `server { … }`, `{port}` standing for the port it
listens on) as its only server; it yields the port once nginx answers and stops nginx at the end.
`round_robin(upstreams)` is the body for a per-request balancer over several backends, websockets passed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_SECONDS = 20.0

CONFIG = """
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
{body}
    }}
}}
"""


def round_robin(upstreams: Sequence[str]) -> str:
    """A server body that sends each request to the next of `upstreams` ("127.0.0.1:PORT"), in turn,
    with no stickiness, and passes websocket upgrades (each socket stays on the backend it opened on).

    nginx wants an `upstream` at http level: the body closes the server block and opens the upstream,
    whose closing brace is the one meant for the server."""
    servers = "".join(f"        server {u};\n" for u in upstreams)
    return ("        location / {\n"
            "            proxy_pass http://mcdewey_replicas;\n"
            "            proxy_http_version 1.1;\n"
            "            proxy_set_header Host $http_host;\n"
            "            proxy_set_header Upgrade $http_upgrade;\n"
            "            proxy_set_header Connection $connection_upgrade;\n"
            "            proxy_buffering off;\n"
            "            proxy_read_timeout 300s;\n"
            "        }\n"
            "    }\n"
            "    upstream mcdewey_replicas {\n"
            f"{servers}".rstrip("\n"))  # the closing brace of the server block ends the upstream


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def nginx(workdir: Path, server_block: str) -> Iterator[int]:
    """nginx in the foreground with `server_block` as its one server, on a free loopback port (yielded)."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: `make test` installs it (apt-get install -y nginx)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(CONFIG.format(work=workdir, port=port, body=server_block.replace("{port}", str(port))))
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(port):
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                log = workdir / "error.log"
                pytest.fail(f"nginx exited: {err} {log.read_text() if log.exists() else ''}")
            if time.monotonic() > deadline:
                pytest.fail("nginx did not start")
            time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
