"""A job's indexing step: `mcdewey ingest --json` in a child process, its progress read line by line.

A child process, not a thread: cancelling is killing it, which is exactly the killed `mcdewey ingest`
the index already survives (the last published generation stays whole; the next run repairs what it
left), and a crash in a loader cannot take the server down. Its progress is the JSON lines `mcdewey
ingest --json` writes on stderr (at most one a second per stage, `surfaces.progress`), its report the
JSON it prints on stdout. It is launched by module name: nothing of the CLI is imported here.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from assistant.settings import Settings

# The settings an ingest reads besides library and data (passed on, so a server configured in code, as
# the tests do, indexes with its own embedding settings and collection).
PASSED_ON = ("chroma_url", "collection", "embed_backend", "model_cache", "embed_device", "embed_threads",
             "embed_batch", "ingest_batch")
BUSY_EXIT = 3  # `mcdewey ingest`: another ingest holds the data directory
TAIL_LINES = 20


PR_SET_PDEATHSIG = 1
NICENESS = 10  # the ingest yields the CPU to the server's searches (both want every core of a small machine)


def _prepare_child() -> None:
    """In the child, before it runs: a lower CPU priority, and Linux kills it when the server dies, so a
    killed server leaves no ingest holding the data directory's lock (the next server's job would be refused)."""
    os.nice(NICENESS)
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the orphan ends on its own (and its lock)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class IngestFailed(Exception):
    """The ingest ended without a report; the message is its own last words (or how it died)."""


class IngestProcess:
    def __init__(self, settings: Settings, on_progress: Callable[[dict[str, Any]], None]) -> None:
        self.settings = settings
        self.on_progress = on_progress
        self.proc: subprocess.Popen[bytes] | None = None
        self.cancelled = False
        self._lock = threading.Lock()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "assistant.surfaces.cli", "ingest", "--json",
                "--library", str(self.settings.library), "--data", str(self.settings.data)]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
        for name in PASSED_ON:
            value = getattr(self.settings, name)
            if value is not None:
                env[f"MCDEWEY_{name.upper()}"] = str(value)
        return env

    def run(self) -> dict[str, Any]:
        """Run to the end; the report (`mcdewey ingest --json`'s), or IngestFailed with the reason."""
        with self._lock:
            if self.cancelled:
                raise IngestFailed("cancelled")
            self.proc = subprocess.Popen(self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         preexec_fn=_prepare_child)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        reader = threading.Thread(target=self._read_progress, args=(tail,), name="mcdewey-job-progress", daemon=True)
        reader.start()
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait()
        reader.join(timeout=10)
        if self.cancelled:
            raise IngestFailed("cancelled")
        if code == 0:
            try:
                return dict(json.loads(out))
            except ValueError:
                raise IngestFailed("the ingest ended without a readable report") from None
        words = " ".join(line.removeprefix("mcdewey ingest: ") for line in tail).strip()
        if code == BUSY_EXIT:
            raise IngestFailed(words or "another ingest is running on this data directory")
        if code < 0:
            raise IngestFailed(f"the ingest was killed ({signal.Signals(-code).name}); the next job repairs the index")
        raise IngestFailed(words or f"the ingest failed (exit {code})")

    def _read_progress(self, tail: deque[str]) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and event.get("event") == "progress":
                self.on_progress(event)
            elif line:
                tail.append(line)

    def cancel(self) -> None:
        """Stop the run: the child is killed (SIGTERM: Python dies at once, as a killed ingest does)."""
        with self._lock:
            self.cancelled = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.terminate()
