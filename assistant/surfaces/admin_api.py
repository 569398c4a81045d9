"""REST for changing the library: `/api/admin/...` (upload, remove, restore, re-index, jobs, trash).

Thin, like `api.py`: each route calls one `LibraryAdmin` method. Every change answers 202 with the
job it queued (`GET /api/admin/jobs/{id}` follows it); reading jobs and the trash needs only the right
to read. The write routes depend on `AdminRights.require` (the rule and the cross-site defences).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from assistant.library_admin.admin import LibraryAdmin
from assistant.library_admin.names import Target
from assistant.surfaces.admin_rights import AdminRights
from assistant.surfaces.admin_upload import receive_upload

UPLOAD_PATH = "/api/admin/uploads"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad name, bad content (a .pdf that is not a PDF), a zip entry out of its folder, "
                         "an empty or cut-off upload; see detail"},
    401: {"description": "Missing or wrong token (admin token for changes)"},
    403: {"description": "No right to change the library, or a request from another site"},
    404: {"description": "No such path, trash item or job"},
    409: {"description": "The same file is being uploaded, or the path exists again (restore)"},
    413: {"description": "Upload over MCDEWEY_MAX_UPLOAD_BYTES, or a zip that expands too far"},
    507: {"description": "The disk filled up while writing the upload; nothing was kept"},
}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "product": {"type": "string"}, "version": {"type": "string"}, "doc": {"type": "string"},
        "title": {"type": "string"}, "vendor": {"type": "string"},
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "PDF, HTML, Markdown or text files for the doc, or a zip of a "
                                "<product>/<version>/<doc>/ tree; after the fields"},
    }}}}}}


class Job(BaseModel):
    id: str
    kind: str
    what: str
    state: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    progress: dict[str, Any] | None
    report: dict[str, Any] | None
    error: str | None


class TrashEntry(BaseModel):
    id: str
    path: str
    kind: str
    reason: str
    removed_at: float
    expires_at: float


def _job(record: dict[str, Any]) -> Job:
    return Job(**{k: v for k, v in record.items() if k != "args"})


def admin_router(admin: LibraryAdmin, rights: AdminRights) -> APIRouter:
    router = APIRouter(tags=["library management"], responses=ERRORS)
    write = [Depends(rights.require)]

    @router.get("/api/admin/rights", summary="Whether this caller may change the library, and the CSRF token")
    def rights_of(request: Request) -> dict[str, Any]:
        return rights.describe(request.headers)

    @router.post(UPLOAD_PATH, status_code=202, dependencies=write, openapi_extra=UPLOAD_BODY,
                 summary="Add or replace files (multipart, streamed to disk); queues a job")
    async def upload(request: Request) -> Job:
        """Fields `product`, `version`, `doc` (and optional `title`, `vendor`) first, then one or more
        `file` parts. A file of the same name in that doc is replaced (the old one goes to the trash)."""
        return _job(await receive_upload(request, admin))

    @router.delete("/api/admin/library/{path:path}", status_code=202, dependencies=write,
                   summary="Remove a product, version, doc or file (to the trash); queues a job")
    def remove(path: str) -> Job:
        """`path` is `<product>[/<version>[/<doc>[/<file>]]]`."""
        parts = path.strip("/").split("/")
        if len(parts) > 4:
            parts = [*parts[:3], "/".join(parts[3:])]  # the file name is checked (and refused) whole
        return _job(admin.remove(*Target.of(*parts).parts))

    @router.get("/api/admin/trash", summary="What was removed or replaced and can be restored")
    def trash() -> list[TrashEntry]:
        return [TrashEntry(**asdict(item)) for item in admin.trash_items()]

    @router.post("/api/admin/trash/{item_id}/restore", status_code=202, dependencies=write,
                 summary="Put a removed item back where it was; queues a job")
    def restore(item_id: str) -> Job:
        return _job(admin.restore(item_id))

    @router.post("/api/admin/reindex", status_code=202, dependencies=write,
                 summary="Index the library again (what `mcdewey ingest` does); queues a job")
    def reindex() -> Job:
        return _job(admin.reindex())

    @router.get("/api/admin/jobs", summary="Every job, newest first, with its progress or report")
    def jobs() -> list[Job]:
        return [_job(j) for j in admin.jobs()]

    @router.get("/api/admin/jobs/{job_id}", summary="One job")
    def job(job_id: str) -> Job:
        return _job(admin.job(job_id))

    @router.post("/api/admin/jobs/{job_id}/cancel", dependencies=write, summary="Cancel a queued or running job")
    def cancel(job_id: str) -> Job:
        return _job(admin.cancel(job_id))

    return router


