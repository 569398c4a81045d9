"""MCP tools that change the library, and each job as a resource (`mcdewey://jobs/{job_id}`).

The same `LibraryAdmin` calls as REST, the same job records. A document comes inline: `content` as
text, or base64 for binary formats (PDF), decoded at most `MAX_DOCUMENT_BYTES` (the 1 MiB request
limit of /mcp holds it base64-encoded). Annotations are honest: none of these is read-only, removing
is destructive, nothing reaches outside the library. The rights rule and the cross-site checks are
`AdminRights.check`, on the headers of the HTTP request that carried the call.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from assistant.errors import McDeweyError
from assistant.library_admin.admin import LibraryAdmin
from assistant.surfaces.admin_api import Job, _job
from assistant.surfaces.admin_rights import AdminRights

T = TypeVar("T")
MAX_DOCUMENT_BYTES = 512 * 1024  # base64 makes it ~683 KiB, under the 1 MiB body limit of /mcp
JOB_URI_TEMPLATE = "mcdewey://jobs/{job_id}"
ADMIN_TOOLS = frozenset({"add_document", "remove_from_library", "list_trash", "restore_from_trash",
                         "reindex_library", "list_jobs", "get_job"})
WATCH = f"Returns the job it queued; follow it with get_job or the resource {JOB_URI_TEMPLATE}."


def _labels(title: str, read_only: bool = False, destructive: bool = False, idempotent: bool = False) -> Any:
    return {"title": title, "annotations": ToolAnnotations(
        title=title, readOnlyHint=read_only, destructiveHint=destructive, idempotentHint=idempotent,
        openWorldHint=False)}


def _result(value: Any) -> CallToolResult:
    data = value.model_dump(mode="json") if isinstance(value, Job) else {"jobs": [j.model_dump(mode="json")
                                                                                 for j in value]}
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, indent=1))], structuredContent=data)


def register_admin_tools(mcp: FastMCP, admin: LibraryAdmin, rights: AdminRights) -> None:
    async def call(ctx: Context[Any, Any, Any] | None, fn: Callable[[], T], write: bool = True) -> T:
        try:
            if write:
                request = ctx.request_context.request if ctx is not None else None
                rights.check(request.headers if request is not None else {})
            return await anyio.to_thread.run_sync(fn)
        except McDeweyError as exc:
            raise ToolError(str(exc)) from exc

    @mcp.tool(**_labels("Add a document to the library"), description=f"""Add (or replace) one document file
in <product>/<version>/<doc>/ (new ones are created). `name` is the file name with its suffix (.pdf, .html,
.md, .txt); `content` the file: text as is, or base64 with encoding="base64" (PDF), at most
{MAX_DOCUMENT_BYTES // 1024} KiB decoded. Optional title and vendor. {WATCH}""")
    async def add_document(
        ctx: Context[Any, Any, Any], product: str, version: str, doc: str, name: str, content: str,
        encoding: Literal["text", "base64"] = "text", title: str | None = None, vendor: str | None = None,
    ) -> Annotated[CallToolResult, Job]:
        if len(content) > MAX_DOCUMENT_BYTES * 4 // 3 + 4:
            raise ToolError(f"content over {MAX_DOCUMENT_BYTES // 1024} KiB; upload larger files over REST")
        try:
            data = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode("utf-8")
        except (binascii.Error, ValueError):
            raise ToolError("content is not valid base64") from None
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ToolError(f"content over {MAX_DOCUMENT_BYTES // 1024} KiB; upload larger files over REST")
        return _result(_job(await call(ctx, lambda: admin.add_document(product, version, doc, name, data,
                                                                         title, vendor))))

    @mcp.tool(**_labels("Remove from the library", destructive=True), description=f"""Remove a product,
a version, a doc or one file (name the levels from the top). It moves to the trash, restorable with
restore_from_trash until it expires. {WATCH}""")
    async def remove_from_library(
        ctx: Context[Any, Any, Any], product: str, version: str | None = None, doc: str | None = None,
        file: str | None = None,
    ) -> Annotated[CallToolResult, Job]:
        return _result(_job(await call(ctx, lambda: admin.remove(product, version, doc, file))))

    @mcp.tool(**_labels("List the trash", read_only=True, idempotent=True),
              description="What was removed or replaced and can still be restored: id, path, kind, when.")
    async def list_trash(ctx: Context[Any, Any, Any]) -> dict[str, Any]:
        items = await call(ctx, admin.trash_items, write=False)
        return {"items": [vars(i) for i in items]}

    @mcp.tool(**_labels("Restore from the trash"), description=f"Put a trash item back where it was. {WATCH}")
    async def restore_from_trash(ctx: Context[Any, Any, Any], item_id: str) -> Annotated[CallToolResult, Job]:
        return _result(_job(await call(ctx, lambda: admin.restore(item_id))))

    @mcp.tool(**_labels("Re-index the library"), description=f"Index the whole library again. {WATCH}")
    async def reindex_library(ctx: Context[Any, Any, Any]) -> Annotated[CallToolResult, Job]:
        return _result(_job(await call(ctx, admin.reindex)))

    @mcp.tool(**_labels("List jobs", read_only=True, idempotent=True),
              description="Every library change, newest first: state, progress while it runs, report.")
    async def list_jobs(ctx: Context[Any, Any, Any]) -> dict[str, Any]:
        return {"jobs": [_job(j).model_dump(mode="json") for j in await call(ctx, admin.jobs, write=False)]}

    @mcp.tool(**_labels("Get a job", read_only=True, idempotent=True),
              description="One job: queued, running (files and chunks done, rate, time left), done (report), "
                          "failed (reason), cancelled or interrupted.")
    async def get_job(ctx: Context[Any, Any, Any], job_id: str) -> Annotated[CallToolResult, Job]:
        return _result(_job(await call(ctx, lambda: admin.job(job_id), write=False)))

    @mcp.resource(JOB_URI_TEMPLATE, name="job", title="A library job", mime_type="application/json",
                  description="One job as JSON (the record get_job returns); read it again to follow it.")
    async def job_resource(job_id: str) -> str:
        try:
            return _job(admin.job(job_id)).model_dump_json(indent=1)
        except McDeweyError as exc:
            raise ResourceError(str(exc)) from exc

    del add_document, remove_from_library, list_trash, restore_from_trash, reindex_library, list_jobs, get_job
    del job_resource
