"""Progress on the terminal, for long commands (`mcdewey ingest`, `mcdewey bench`).

A rich progress bar when stderr is a terminal, plain lines on stderr otherwise (logs, CI), so that
stdout keeps only the command's result. Two shapes: `stage_progress`, one bar per stage of a job that
counts its own work (the ingest's `progress(stage, done, total)` callback), and `StepProgress`, one bar
over a fixed number of steps, each step described as it starts (the bench).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def _bar(description: str, transient: bool, stderr: bool) -> Any:
    """A started rich bar: description, bar, done/total, elapsed time."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True) if stderr else None, transient=transient)
    bar.start()
    return bar


def stage_progress() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """(update(stage, done, total), stop): a bar per stage on a terminal; a line per 10% of each stage
    otherwise."""
    if not sys.stderr.isatty():
        shown: dict[str, int] = {}

        def log(stage: str, done: int, total: int) -> None:
            tenth = 10 * done // max(total, 1)
            if shown.get(stage, -1) < tenth:
                shown[stage] = tenth
                print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

        return log, (lambda: None)
    bar = _bar("{task.description:>15}", transient=False, stderr=False)
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return update, bar.stop


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
