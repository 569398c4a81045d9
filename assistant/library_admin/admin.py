"""`LibraryAdmin`: the one way to change the library, for every surface (REST, MCP, the web page, CLI).

Each change is a job (`jobs.JobRunner`): its file step (move an upload in, move a path to the trash,
move it back) then the indexing step (`ingest_process`, what `mcdewey ingest` does). What can be
checked at once is checked when the change is asked (a bad name, a missing path, a restore onto an
existing path: a 4xx before anything is queued), and again when the job runs.
"""

from __future__ import annotations

import shutil
from typing import Any

from assistant.errors import BadRequest, NotFound
from assistant.library_admin import staging
from assistant.library_admin.errors import Conflict
from assistant.library_admin.ingest_process import IngestFailed, IngestProcess
from assistant.library_admin.jobs import Control, Job, JobCancelled, JobRunner
from assistant.library_admin.names import Target
from assistant.library_admin.trash import Trash, TrashItem
from assistant.settings import Settings

KINDS = ("product", "version", "doc", "file")


class LibraryAdmin:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.library = settings.library
        self.claims = staging.Claims()
        self.trash = Trash(settings.data / "trash", self.library, settings.trash_days)
        self.runner = JobRunner(settings.data / "admin" / "jobs.json", self._execute, self._drop)
        staging.sweep(self.library, {str(j["args"].get("staged")) for j in self.runner.list()
                                     if j["state"] in ("queued", "running")})

    # --- asking for a change -------------------------------------------------------------------------
    def begin_upload(self, product: str | None = None, version: str | None = None, doc: str | None = None,
                     title: str | None = None, vendor: str | None = None) -> staging.Upload:
        """A new upload; the caller streams its files (`add_file`, `write`) then calls `finish_upload`."""
        self.library.mkdir(parents=True, exist_ok=True)
        return staging.Upload(self.library, self.claims, self.settings.max_upload_bytes,
                              self.settings.max_unzipped_bytes, product, version, doc, title, vendor)

    def finish_upload(self, upload: staging.Upload) -> dict[str, Any]:
        """Check the whole upload and queue the job that moves it in and indexes it (aborted on error)."""
        try:
            paths = upload.finish()
            what = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            return self.runner.submit("add", what, staged=upload.root.name, paths=paths)
        except BaseException:
            upload.abort()
            raise
        finally:
            upload.release()

    def add_document(self, product: str, version: str, doc: str, name: str, content: bytes,
                     title: str | None = None, vendor: str | None = None) -> dict[str, Any]:
        """One file given whole (MCP): the same checks and job as an upload."""
        upload = self.begin_upload(product, version, doc, title, vendor)
        try:
            staged = upload.add_file(name)
            staged.write(content)
        except BaseException:
            upload.abort()
            raise
        return self.finish_upload(upload)

    def remove(self, product: str, version: str | None = None, doc: str | None = None,
               file: str | None = None) -> dict[str, Any]:
        """Queue the removal of a product, version, doc or file (to the trash)."""
        target = Target.of(product, version, doc, file)
        if not (self.library / target.path).exists():
            raise NotFound(f"{target.path} is not in the library")
        return self.runner.submit("remove", target.path, path=target.path, level=KINDS[len(target.parts) - 1])

    def restore(self, item_id: str) -> dict[str, Any]:
        item = self.trash.get(item_id)
        if (self.library / item.path).exists():
            raise Conflict(f"{item.path} exists in the library again; remove it first to restore this one")
        return self.runner.submit("restore", item.path, item=item.id)

    def reindex(self) -> dict[str, Any]:
        return self.runner.submit("reindex", "the whole library")

    # --- reading -------------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        return self.runner.list()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.runner.get(job_id)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.runner.cancel(job_id)

    def trash_items(self) -> list[TrashItem]:
        return self.trash.items()

    # --- running -------------------------------------------------------------------------------------
    def _execute(self, job: Job, control: Control) -> dict[str, Any]:
        if job.kind == "add":
            root = self.library / staging.INCOMING / job.args["staged"]
            if not root.is_dir():
                raise BadRequest("the upload's staged files are gone")
            replaced = []

            def to_trash(path: str) -> None:
                replaced.append(self.trash.put(path, "file", "replaced").id)

            staging.move_in(root, self.library, to_trash)
            job.args["replaced"] = replaced
        elif job.kind == "remove":
            job.args["trash_id"] = self.trash.put(job.args["path"], job.args["level"]).id
        elif job.kind == "restore":
            self.trash.restore(job.args["item"])
        if control.cancelled:
            raise JobCancelled
        process = IngestProcess(self.settings, lambda event: self.runner.progress(job.id, event))
        control.stop = process.cancel
        try:
            return _without_staging(process.run())
        except IngestFailed as exc:
            if process.cancelled:
                raise JobCancelled from None
            raise RuntimeError(str(exc)) from None

    def _drop(self, job: Job) -> None:
        """A queued upload that will never run: its staged files are deleted."""
        if job.kind == "add" and job.args.get("staged"):
            shutil.rmtree(self.library / staging.INCOMING / str(job.args["staged"]), ignore_errors=True)



def _without_staging(report: dict[str, Any]) -> dict[str, Any]:
    """The ingest's report without the staging folder it skipped (hidden, and not the user's)."""
    skipped = [s for s in report.get("skipped_files", []) if not s["source"].startswith(staging.INCOMING)]
    dropped = len(report.get("skipped_files", [])) - len(skipped)
    return {**report, "skipped_files": skipped, "skipped": report.get("skipped", 0) - dropped}
