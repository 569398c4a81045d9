"""Progress on the terminal, for long commands (`mcdewey ingest`, `mcdewey bench`).

Always on stderr, so that stdout keeps only the command's result. `ingest_progress` shows an
ingest's `IngestProgress` events one of three ways: a rich bar per stage on a terminal; plain lines
otherwise (logs, CI), a line per tenth of a stage or per `LINE_EVERY_S`, so a half-hour ingest writes
tens of lines, not thousands; or, for scripts (`mcdewey ingest --json`), one JSON object per line, at
most one per `JSON_EVERY_S` and always the last of each stage. While embedding, each shows files
done/total, chunks done (and read so far: the library's chunk count is known only at the end), the
rate in chunks/s, the share done by bytes, the time left estimated from it, and the current file.
`StepProgress` is one bar over a fixed number of steps, each step described as it starts (the bench).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from typing import Any, Literal

from indexing.ingest_progress import EMBEDDING, IngestProgress

LINE_EVERY_S = 30.0
JSON_EVERY_S = 1.0
ETA_AFTER = 0.01  # no time-left estimate before 1% of the bytes are done: it would be a guess

Display = Literal["tty", "lines", "json"]


def _bar(description: str, transient: bool, stderr: bool, *columns: Any) -> Any:
    """A started rich bar: description, bar, `columns` (default done/total), elapsed time."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(description), BarColumn(), *(columns or (MofNCompleteColumn(),)),
                   TimeElapsedColumn(), console=Console(stderr=True) if stderr else None, transient=transient)
    bar.start()
    return bar


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Pace:
    """The time spent in the current stage, its rate in chunks/s and the time left (None before
    `ETA_AFTER` of it is done), from the stage's events."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.started = 0.0

    def __call__(self, event: IngestProgress) -> tuple[float, float, float | None]:
        now = time.monotonic()
        if event.stage != self.stage:
            self.stage, self.started = event.stage, now
        elapsed = now - self.started
        rate = event.chunks_done / elapsed if elapsed > 0 else 0.0
        done = event.fraction
        eta = elapsed * (1 - done) / done if done >= ETA_AFTER else None
        return elapsed, rate, eta


def describe(event: IngestProgress, rate: float, eta: float | None) -> str:
    """The line shown for an event (after the stage name): counts, and while embedding, rate and time left."""
    if event.stage != EMBEDDING:
        return f"{event.done:,}/{event.total:,}"
    parts = [f"{event.fraction:4.0%}", f"files {event.done:,}/{event.total:,}",
             f"chunks {event.chunks_done:,} (of {event.chunks_known:,} read)", f"{rate:.1f} chunks/s"]
    if eta is not None and event.fraction < 1:
        parts.append(f"~{_duration(eta)} left")
    if event.file:
        parts.append(event.file)
    return "  ".join(parts)


def ingest_progress(display: Display) -> tuple[Callable[[IngestProgress], None], Callable[[], None]]:
    """(show(event), stop) for an ingest, on stderr: `tty` bars, plain `lines`, or `json` lines."""
    if display == "json":
        return _json_lines(), (lambda: None)
    if display == "lines":
        return _plain_lines(), (lambda: None)
    from rich.progress import TextColumn

    bar = _bar("{task.description:>15}", False, True, TextColumn("{task.fields[info]}"))
    tasks: dict[str, Any] = {}
    pace = Pace()

    def show(event: IngestProgress) -> None:
        _, rate, eta = pace(event)
        if event.stage not in tasks:
            tasks[event.stage] = bar.add_task(event.stage, total=1000, info="")
        bar.update(tasks[event.stage], completed=round(event.fraction * 1000), info=describe(event, rate, eta))

    return show, bar.stop


def _plain_lines() -> Callable[[IngestProgress], None]:
    """A line when a stage starts, per tenth of it, at least every `LINE_EVERY_S` while it moves, and
    when it ends."""
    pace = Pace()
    last: dict[str, tuple[int, float]] = {}  # stage → (tenth shown, when)

    def show(event: IngestProgress) -> None:
        elapsed, rate, eta = pace(event)
        tenth = int(10 * event.fraction)
        shown = last.get(event.stage)
        if shown is not None and shown[0] == 10 and tenth < 10:  # the stage runs again (a repair pass)
            shown = None
        now = time.monotonic()
        if shown is not None and (shown[0] == 10 or (tenth <= shown[0] and now - shown[1] < LINE_EVERY_S)):
            return
        last[event.stage] = (tenth, now)
        if event.total == 1 and event.stage != EMBEDDING:
            text = f"{event.stage}: done in {elapsed:.1f} s" if event.done else f"{event.stage}…"
        else:
            text = f"{event.stage}: {describe(event, rate, eta)}"
        print(text, file=sys.stderr, flush=True)

    return show


def _json_lines() -> Callable[[IngestProgress], None]:
    """One JSON object per line: the event's fields, `fraction`, `elapsed_s`, `chunks_per_s` and
    `eta_s` (null before there is an estimate); at most one per `JSON_EVERY_S` within a stage, and
    always a stage's first and last."""
    pace = Pace()
    state: dict[str, Any] = {"stage": None, "when": 0.0, "last": None}

    def show(event: IngestProgress) -> None:
        elapsed, rate, eta = pace(event)
        now = time.monotonic()
        fields = dataclasses.asdict(event)
        final = event.done >= event.total
        if fields == state["last"] or (event.stage == state["stage"] and not final
                                       and now - state["when"] < JSON_EVERY_S):
            return
        state.update(stage=event.stage, when=now, last=fields)
        record = {"event": "progress", **fields, "fraction": round(event.fraction, 4),
                  "elapsed_s": round(elapsed, 2), "chunks_per_s": round(rate, 2),
                  "eta_s": None if eta is None else round(eta, 1)}
        print(json.dumps(record, ensure_ascii=False), file=sys.stderr, flush=True)

    return show


class StepProgress:
    """One bar over `total` steps on a terminal; otherwise a line per described step, with the seconds
    since the start and `label` (`[bench   12.3s] ...`). Nothing at all when not `enabled`."""

    def __init__(self, total: int, enabled: bool = True, label: str = "bench") -> None:
        self.total = total
        self.done = 0
        self.label = label
        self.bar: Any = None
        self.plain = enabled and not sys.stderr.isatty()
        self.started = time.monotonic()
        if enabled and sys.stderr.isatty():
            self.bar = _bar("{task.description:<44}", transient=True, stderr=True)
            self.task = self.bar.add_task(label, total=total)

    def step(self, description: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=description)
        elif self.plain:
            print(f"[{self.label} {time.monotonic() - self.started:6.1f}s] {description}", file=sys.stderr,
                  flush=True)

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
