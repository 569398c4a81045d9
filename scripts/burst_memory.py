"""Whether `mcdewey serve`'s memory levels off under repeated bursts of questions (issue 24, item 8).

    .venv/bin/python scripts/burst_memory.py --library LIB --data DATA [--bursts 10] [--size 200]

Starts `mcdewey serve` on LIB/DATA (already ingested) with its defaults (embedded model, chat mounted,
2 answers at once + 8 waiting) on a free loopback port, asks two questions to warm it, then sends
`--bursts` bursts of `--size` asks at once, waiting for each to end; prints the status codes of each
burst and the server's RSS (from /proc) 3 s after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

QUESTIONS = ("Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?",
             "How is the routing table declared in Acme Router 1.6?")
SETTLE_S = 3.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def burst(url: str, size: int) -> dict[int, int]:
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=size + 10)) as http:
        async def ask(i: int) -> int:
            return (await http.post(f"{url}/api/ask", json={"question": QUESTIONS[i % 2]})).status_code

        codes = await asyncio.gather(*(ask(i) for i in range(size)))
    return {code: codes.count(code) for code in sorted(set(codes))}


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit(f"mcdewey serve did not become ready at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--size", type=int, default=200)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    mcdewey = str(Path(sys.executable).with_name("mcdewey"))
    proc = subprocess.Popen([mcdewey, "serve", "--library", str(args.library), "--data", str(args.data),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        asyncio.run(burst(url, 2))
        time.sleep(SETTLE_S)
        print(f"warm: RSS {rss_mb(proc.pid):.0f} MB", flush=True)
        for n in range(1, args.bursts + 1):
            started = time.monotonic()
            codes = asyncio.run(burst(url, args.size))
            took = time.monotonic() - started
            time.sleep(SETTLE_S)
            print(f"burst {n}: {codes} in {took:.0f} s, RSS {rss_mb(proc.pid):.0f} MB", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
