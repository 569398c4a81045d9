"""Every change to the library is a job: queued, running, then done, failed, cancelled or interrupted.

One worker thread runs the jobs one at a time in the order asked (the ingest lock would refuse two
anyway). The history is `<data>/admin/jobs.json`, rewritten whole (temporary name, then rename) at each
change of state, so it survives a restart; a job the server was running or had queued when it stopped
is read back as `interrupted`, never as running. Progress lives in memory and is refreshed each time
the ingest reports (at most once a second).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import NotFound
from assistant.library_admin.errors import Conflict
from assistant.library_admin.trash import _write_json

log = logging.getLogger("mcdewey.jobs")

HISTORY = 200  # jobs kept in the history (the oldest finished ones are dropped)
FINISHED = ("done", "failed", "cancelled", "interrupted")


@dataclass
class Job:
    id: str
    kind: str  # "add", "remove", "restore", "reindex"
    what: str  # what it changes, in words ("acme/2.0/guide: guide.pdf")
    state: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    progress: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # what the job needs to run (e.g. its staging folder)

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Control:
    """What a running job checks and hands over: whether it was cancelled, and how to stop its step."""

    def __init__(self) -> None:
        self.cancelled = False
        self.stop: Callable[[], None] | None = None


class JobCancelled(Exception):
    pass


Execute = Callable[[Job, Control], dict[str, Any]]


class JobRunner:
    def __init__(self, path: Path, execute: Execute, on_drop: Callable[[Job], None]) -> None:
        self.path = path
        self.execute = execute
        self.on_drop = on_drop  # a queued job that will never run (cancelled, interrupted): free what it holds
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.jobs: dict[str, Job] = {}
        self.controls: dict[str, Control] = {}
        self.worker: threading.Thread | None = None
        self._load()

    def _load(self) -> None:
        try:
            records = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            records = []
        except ValueError as exc:  # a history nobody can read is set aside, not a reason to refuse writes
            log.warning("job history %s unreadable (%s); starting a new one", self.path, exc)
            records = []
        interrupted = []
        for record in records:
            job = Job(**record)
            if job.state not in FINISHED:
                job.error = f"interrupted: the server stopped while the job was {job.state}"
                job.state, job.ended_at = "interrupted", job.ended_at or time.time()
                interrupted.append(job)
            self.jobs[job.id] = job
        for job in interrupted:
            self.on_drop(job)
        if interrupted:
            self._save()

    def _save(self) -> None:
        finished = [j for j in self.jobs.values() if j.state in FINISHED]
        for old in finished[: max(0, len(self.jobs) - HISTORY)]:
            del self.jobs[old.id]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(self.path, [j.record() for j in self.jobs.values()])

    def submit(self, kind: str, what: str, **args: Any) -> dict[str, Any]:
        job = Job(f"{int(time.time())}-{uuid.uuid4().hex[:8]}", kind, what, args=args)
        with self.lock:
            self.jobs[job.id] = job
            self._save()
            if self.worker is None or not self.worker.is_alive():
                self.worker = threading.Thread(target=self._work, name="mcdewey-jobs", daemon=True)
                self.worker.start()
            self.wake.notify_all()
            return job.record()

    def list(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self.lock:
            return [j.record() for j in sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)]

    def get(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}")
            return job.record()

    def busy(self) -> bool:
        with self.lock:
            return any(j.state in ("queued", "running") for j in self.jobs.values())

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}")
            if job.state == "queued":
                job.state, job.ended_at, job.error = "cancelled", time.time(), "cancelled before it ran"
                self.on_drop(job)
                self._save()
            elif job.state == "running":
                control = self.controls[job.id]
                control.cancelled = True
                if control.stop is not None:
                    control.stop()
            else:
                raise Conflict(f"job {job_id} has already ended ({job.state})")
            return job.record()

    def progress(self, job_id: str, event: dict[str, Any]) -> None:
        with self.lock:
            self.jobs[job_id].progress = {**event, "updated_at": time.time()}

    def _next(self) -> Job | None:
        queued = sorted((j for j in self.jobs.values() if j.state == "queued"), key=lambda j: j.created_at)
        return queued[0] if queued else None

    def _work(self) -> None:
        while True:
            with self.lock:
                job = self._next()
                if job is None:
                    self.worker = None
                    return
                job.state, job.started_at = "running", time.time()
                control = self.controls[job.id] = Control()
                self._save()
            try:
                report = self.execute(job, control)
                state, error = ("cancelled", "cancelled while it ran") if control.cancelled else ("done", None)
            except JobCancelled:
                report, state, error = None, "cancelled", "cancelled while it ran"
            except Exception as exc:  # a failed job is reported with its reason; the next one still runs
                log.warning("job %s (%s %s) failed: %s", job.id, job.kind, job.what, exc)
                report, state, error = None, "failed", str(exc) or type(exc).__name__
                if control.cancelled:
                    state, error = "cancelled", "cancelled while it ran"
            with self.lock:
                job.state, job.ended_at, job.error = state, time.time(), error
                job.report = report if report is not None else job.report
                del self.controls[job.id]
                self._save()
