"""What an ingest run reports: files added, updated, removed, skipped, failed, and their caveats.

Takes nothing; gives the types an ingest fills in (`IngestReport`, `Problem`) and `file_problems`,
which turns an indexed file's loader warnings into problems, marking those that mean part of its text
is not in the index. `mcdewey ingest` prints this report and decides its exit status from it, so its
shape is kept apart from the machinery that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Warnings saying that part of a file's text is not in the index (the others only qualify it).
LOSSY_WARNINGS = ("partially indexed", "no text could be read from page")
NO_TEXT = "no text found"


@dataclass
class Problem:
    """A file that could not be indexed (failed) or was indexed with a caveat (warning).

    `partial`: the file is in the index but some of its text is not (a page that could not be read,
    chunks beyond the per-file cap)."""

    source: str
    reason: str
    partial: bool = False


def file_problems(source: str, warnings: list[str], chunks: int) -> list[Problem]:
    """The warnings of an indexed file as problems; a file that yielded no chunk says so, with its
    loader's reason or, when the loader gave none (markup or blank lines only), `NO_TEXT`."""
    if not chunks:
        return [Problem(source, f"{w}; nothing indexed") for w in warnings or [NO_TEXT]]
    return [Problem(source, w, partial=w.startswith(LOSSY_WARNINGS)) for w in warnings]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    chunks_added: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0
    repaired: int = 0  # files read again: a killed run was publishing them, or their vectors were missing
    vectors_removed: int = 0  # vectors no file owns (left by a killed run), deleted
    model_switch: str = ""  # 'old model → new model' when this run switched the index's embedding model
    resumed: str | None = None  # when the last run began, if it was cut short (this run finished its work)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.repaired or self.vectors_removed)

    def repairs(self) -> str | None:
        """One line saying what this run repaired of a run cut short, or None when there was none."""
        if not (self.resumed or self.repaired or self.vectors_removed):
            return None
        said = [f"the last ingest (begun {self.resumed}) was cut short; this run finished it"] if self.resumed else []
        if self.repaired:
            said.append(f"read again {self.repaired} file(s) it was writing or whose vectors were missing")
        if self.vectors_removed:
            said.append(f"deleted {self.vectors_removed} vector(s) no file owns")
        return "; ".join(said)
