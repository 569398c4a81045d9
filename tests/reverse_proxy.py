"""Debian's nginx as a real reverse proxy in front of a test's server (`apt-get install -y nginx`;
`make test` installs it): started in the foreground, everything of its own (config, pid, logs,
temporary files) under the test's folder, on a free loopback port.

`server_block` is written inside nginx's `http { }` as it is, with `{port}` replaced by the port nginx
listens on (nginx's own braces and `$variables` pass untouched), e.g.
`server { listen 127.0.0.1:{port}; location /docs/ { proxy_pass http://127.0.0.1:8000/; } }`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from child_process import stop, wait_until_ready

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP_SECONDS = 20.0

CONFIG = """worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log info;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log {work}/access.log;
  client_body_temp_path {work}/client_body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  proxy_max_temp_file_size 0;
  {body}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nginx(workdir: Path, server_block: str) -> Iterator[int]:
    """nginx serving `server_block` (see the module's docstring); yields its port, stops it at the end."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is absent (apt-get install -y nginx; `make test` installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(CONFIG.format(work=workdir, body=server_block.replace("{port}", str(port))), encoding="utf-8")
    proc = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def log() -> str:
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr and proc.poll() is not None else ""
        return f"{err}{(workdir / 'error.log').read_text(errors='replace')[-2000:]}"

    try:
        wait_until_ready(proc, lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None,
                         STARTUP_SECONDS, "nginx", log, every=0.05)
        yield port
    finally:
        stop(proc, grace=10)


def round_robin(upstreams: Sequence[str]) -> str:
    """A `server_block` for `nginx` that sends each request to the next of `upstreams` ("127.0.0.1:PORT"),
    in turn, with no stickiness, and passes websocket upgrades (each socket stays on the backend it
    opened on)."""
    servers = "".join(f"  server {u};\n" for u in upstreams)
    return ("upstream mcdewey_replicas {\n" + servers + "}\n"
            "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
            "server {\n"
            "  listen 127.0.0.1:{port};\n"
            "  location / {\n"
            "    proxy_pass http://mcdewey_replicas;\n"
            "    proxy_http_version 1.1;\n"
            "    proxy_set_header Host $http_host;\n"
            "    proxy_set_header Upgrade $http_upgrade;\n"
            "    proxy_set_header Connection $connection_upgrade;\n"
            "    proxy_buffering off;\n"
            "    proxy_read_timeout 300s;\n"
            "  }\n"
            "}\n")
