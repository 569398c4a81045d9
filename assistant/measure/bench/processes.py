"""The bench's child processes: `mcdewey serve` and a Chroma server, each on a free port with its log
in the bench folder, started warm and stopped for sure; their resident memory."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.measure.bench.plan import ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = float(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


class Proc:
    """A child process (McDewey's server or a Chroma server) with its log in the bench folder."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.fh = log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.fh, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                     start_new_session=True)

    def wait_http(self, url: str, timeout: float, ok: Callable[[Any], bool]) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited ({self.proc.returncode}): {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if ok(httpx.get(url, timeout=5)):
                    return
            time.sleep(0.25)
        raise RuntimeError(f"{self.log.name} did not answer {url} within {timeout:g} s: {self.tail()}")

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-600:]
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.fh.close()


def child_env(backend: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    for key in ("MCDEWEY_MODEL_CACHE", "MCDEWEY_EMBED_THREADS", "MCDEWEY_EMBED_BATCH"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({"MCDEWEY_LLM": "none", "MCDEWEY_CHAT": "false", "MCDEWEY_EMBED_BACKEND": backend,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    env.update(extra)
    return env


def start_chroma(path: Path, work: Path, backend: str) -> tuple[Proc, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("chroma")
    args = [str(exe)] if exe.exists() else [sys.executable, "-m", "chromadb.cli.cli"]
    proc = Proc([*args, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                child_env(backend), work / f"chroma-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/api/v2/heartbeat", 90, lambda r: r.status_code == 200)
    except Exception:
        proc.stop()
        raise
    return proc, url


def start_server(library: Path, data: Path, work: Path, backend: str, chroma_url: str | None,
                 probe: str) -> tuple[Proc, str]:
    """`mcdewey serve` in a child process (its own RSS, its own GIL), warm when this returns."""
    import httpx

    port = free_port()
    args = [sys.executable, "-m", "assistant.surfaces.cli", "serve", "--library", str(library), "--data", str(data),
            "--host", "127.0.0.1", "--port", str(port)]
    if chroma_url:
        args += ["--chroma-url", chroma_url]
    proc = Proc(args, child_env(backend), work / f"server-{port}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/healthz", 180, lambda r: r.status_code in (200, 503))
        deadline = time.monotonic() + 180
        while True:  # the model and indexes load on the first search
            r = httpx.get(f"{url}/api/search", params={"q": probe}, timeout=120)
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server never answered a search: {r.status_code} {r.text[:200]}")
            time.sleep(0.5)
    except Exception:
        proc.stop()
        raise
    return proc, url
