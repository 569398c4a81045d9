"""A real OpenAI-compatible server for the tests of `MCDEWEY_LLM=openai:<model>`: llama.cpp's own
server (xllamacpp, the runtime of the embedded model) with the packaged SmolLM2-135M GGUF, in its own
process on a free loopback port.

Run as a script it loads the model (sha256-checked, as `embedded` does), prints `LISTENING <url>`
and serves until its stdin closes or it is killed; `openai_server()` starts it, waits for that line
and for `/health`, yields the base URL (`http://127.0.0.1:PORT/v1`), and kills it at the end.
`--api-key KEY` makes the server refuse every request without `Authorization: Bearer KEY` (401).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODEL_ALIAS = "smollm2-135m"
START_TIMEOUT_S = 60.0  # loading takes ~3.5 s on these cores when idle


def _serve(api_key: str | None) -> None:
    import xllamacpp

    from assistant.llm import EMBEDDED_CONTEXT, locate_model, verify_model

    path = locate_model()
    verify_model(path)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = EMBEDDED_CONTEXT
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.verbosity = -1
    params.warmup = False
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, chosen by the system
    params.api_keys = [api_key] if api_key else []
    server = xllamacpp.Server(params)
    print(f"LISTENING {server.listening_address}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or kills us)


@contextmanager
def openai_server(api_key: str | None = None) -> Iterator[str]:
    """The server in a child process; yields its base URL (…/v1)."""
    import httpx

    root = Path(__file__).resolve().parents[1]
    args = [sys.executable, str(Path(__file__).resolve()), *(["--api-key", api_key] if api_key else [])]
    proc = subprocess.Popen(args, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the OpenAI-compatible test server did not start (exit {proc.poll()}): {line!r}")
        address = line.split()[1].rstrip("/")
        deadline = time.monotonic() + START_TIMEOUT_S
        while httpx.get(f"{address}/health", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address}/health did not answer 200 within {START_TIMEOUT_S:g} s")
            time.sleep(0.2)
        yield f"{address}/v1"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-key", default=None)
    _serve(parser.parse_args().api_key)
