"""Whether the last ingest on a data directory was cut short, so the next one can say what it repaired.

A run writes `ingest.running` (its start time) when it begins and removes it when it ends well; a run
killed (`kill -9`, a full disk, a lost Chroma) leaves it behind. Its publishes leave nothing half
visible either way (`publish`); what the marker adds is the report: before it, a run that finished a
killed one's work said `repaired 0` (issue 24).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

MARKER = "ingest.running"


def begin(data_dir: Path) -> str | None:
    """Mark a run as under way; the start time of an earlier run that never ended, if one did not."""
    marker = data_dir / MARKER
    try:
        cut_short: str | None = marker.read_text().strip() or "an unknown time"
    except FileNotFoundError:
        cut_short = None
    with contextlib.suppress(OSError):  # a full disk: the run reports it where it writes what matters
        marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    return cut_short


def end(data_dir: Path) -> None:
    """The run ended well: nothing of it is left to repair."""
    (data_dir / MARKER).unlink(missing_ok=True)
