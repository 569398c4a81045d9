"""Where a running ingest stands: the events it reports, and the bookkeeping that makes them.

Takes the ingest's steps (files listed, a file read, vectors made for some of a batch's chunks) and
gives `IngestProgress` events to a callback (a surface shows them: a bar, plain lines, JSON). The
number of chunks is known only once every file is read, so the events count files (done of total),
chunks (done, embedded, and known so far) and bytes: the bytes of finished files plus the finished
share of the file being embedded, which moves inside a 7,700-chunk manual as its slices are embedded
and gives a time-left estimate before the library's chunk count is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

EMBEDDING = "embedding"
PREPARING_MODEL = "preparing the embedding model for this machine (once, about 20 s)"


@dataclass(frozen=True)
class IngestProgress:
    """One step of an ingest. `done`/`total` count the stage's own units (files while scanning and
    embedding; 0/1 for a one-step stage); the other fields are filled while embedding."""

    stage: str
    done: int
    total: int
    chunks_done: int = 0  # chunks of this run with their vector (embedded, or reused unchanged)
    chunks_embedded: int = 0  # of those, embedded by the model
    chunks_known: int = 0  # chunks of the files read so far (the total is known at the end only)
    bytes_done: int = 0  # finished files, plus the finished share of the current one
    bytes_total: int = 0
    file: str = ""  # the file being embedded

    @property
    def fraction(self) -> float:
        """How much of the stage is done, 0–1 (by bytes while embedding)."""
        if self.bytes_total:
            return min(1.0, self.bytes_done / self.bytes_total)
        return min(1.0, self.done / self.total) if self.total else 1.0


Progress = Callable[[IngestProgress], None]


def no_progress(event: IngestProgress) -> None:
    """The default callback: nothing shown."""


class EmbedTracker:
    """Turns the embedding steps of one pass over `files` (source, size in bytes, in reading order)
    into `IngestProgress` events."""

    def __init__(self, progress: Progress, files: list[tuple[str, int]]) -> None:
        self.progress = progress
        self.files = files
        self.bytes_total = sum(size for _, size in files)
        self.files_done = 0  # files of `files` finished (embedded, or failed to read)
        self.bytes_done = 0
        self.read_upto = 0  # files of `files` read (or failed) so far
        self.chunks_known = 0
        self.chunks_done = 0
        self.chunks_embedded = 0
        self.queue: list[tuple[str, int, int]] = []  # read, not yet embedded: source, size, chunks
        self.partial = 0  # chunks done of queue[0]

    def emit(self) -> None:
        current = self.queue[0][0] if self.queue else ""
        share = self.queue[0][1] * self.partial // max(self.queue[0][2], 1) if self.queue else 0
        self.progress(IngestProgress(
            EMBEDDING, self.files_done, len(self.files), self.chunks_done, self.chunks_embedded,
            self.chunks_known, self.bytes_done + share, self.bytes_total, current))

    def read(self, source: str, chunks: int) -> None:
        """A file was read and chunked; the files listed before it that were not read failed."""
        while self.read_upto < len(self.files) and self.files[self.read_upto][0] != source:
            self._finish_unread(self.read_upto)
        size = self.files[self.read_upto][1] if self.read_upto < len(self.files) else 0
        self.read_upto += 1
        self.chunks_known += chunks
        self.queue.append((source, size, chunks))
        while self.queue and self.queue[0][2] == 0:  # no chunk: done once the files before it are
            self._finish_queued()
        self.emit()

    def vectors(self, done: int, embedded: int) -> None:
        """`done` more chunks have their vector, `embedded` of them new (in reading order)."""
        self.chunks_done += done
        self.chunks_embedded += embedded
        self.partial += done
        while self.queue and self.partial >= self.queue[0][2]:
            self.partial -= self.queue[0][2]
            self._finish_queued()
        self.emit()

    def finish(self) -> None:
        """The pass is over: every file listed is done (embedded or failed)."""
        while self.read_upto < len(self.files):
            self._finish_unread(self.read_upto)
        while self.queue:
            self._finish_queued()
        self.partial = 0
        self.emit()

    def _finish_unread(self, i: int) -> None:
        self.read_upto = i + 1
        self.files_done += 1
        self.bytes_done += self.files[i][1]

    def _finish_queued(self) -> None:
        _, size, _ = self.queue.pop(0)
        self.files_done += 1
        self.bytes_done += size
