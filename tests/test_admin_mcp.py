"""Library management over MCP with the official client: add a document inline (text, and a PDF as
base64), follow its job by tool and as a resource, remove and restore it; honest annotations; the size
limit and bad base64 are tool errors that change nothing."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import anyio
import httpx
from fixtures_admin import AdminServer, make_pdf
from fixtures_server import mcp_session
from mcp import ClientSession

from assistant.surfaces.admin_mcp import JOB_URI_TEMPLATE, MAX_DOCUMENT_BYTES

WRITES = {"add_document", "remove_from_library", "restore_from_trash", "reindex_library"}
READS = {"list_jobs", "get_job", "list_trash"}


async def _until_done(session: ClientSession, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(600):
        result = await session.call_tool("get_job", {"job_id": job["id"]})
        record = dict(result.structuredContent or {})
        if record["state"] not in ("queued", "running"):
            return record
        await asyncio.sleep(0.3)
    raise AssertionError(f"job did not end: {job}")


async def _flow(server: AdminServer) -> None:
    async with mcp_session(server.url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        for name in WRITES | READS:
            hints = tools[name].annotations
            assert hints is not None and hints.readOnlyHint is (name in READS), name
            assert hints.destructiveHint is (name == "remove_from_library"), name
            assert hints.openWorldHint is False
        templates = [t.uriTemplate for t in (await session.list_resource_templates()).resourceTemplates]
        assert JOB_URI_TEMPLATE in templates

        pdf = base64.b64encode(make_pdf("The heliostat array tracks the sun with twin actuators.")).decode()
        added = await session.call_tool("add_document", {
            "product": "helio", "version": "3", "doc": "ops", "name": "ops.pdf", "content": pdf,
            "encoding": "base64", "title": "Heliostat Operations"})
        assert not added.isError, added.content
        text = await session.call_tool("add_document", {
            "product": "helio", "version": "3", "doc": "ops", "name": "faq.md",
            "content": "# FAQ\n\nThe anemometer stows the mirrors above 60 km/h.\n"})
        assert not text.isError, text.content
        first = await _until_done(session, dict(added.structuredContent or {}))
        assert first["state"] == "done" and first["report"]["added"] == 1, first
        second = await _until_done(session, dict(text.structuredContent or {}))
        assert second["state"] == "done", second
        uri = JOB_URI_TEMPLATE.format(job_id=first["id"])
        read = await session.read_resource(uri)  # type: ignore[arg-type]
        assert json.loads(read.contents[0].text)["state"] == "done"  # type: ignore[union-attr]

        found = await session.call_tool("search_docs", {"query": "heliostat twin actuators", "product": "helio"})
        assert (found.structuredContent or {})["result"][0]["doc_title"] == "Heliostat Operations"

        removed = await session.call_tool("remove_from_library", {"product": "helio", "version": "3", "doc": "ops",
                                                                  "file": "ops.pdf"})
        assert (await _until_done(session, dict(removed.structuredContent or {})))["state"] == "done"
        assert not (server.library / "helio/3/ops/ops.pdf").exists()
        items = (await session.call_tool("list_trash", {})).structuredContent or {}
        item = next(i for i in items["items"] if i["path"] == "helio/3/ops/ops.pdf")
        restored = await session.call_tool("restore_from_trash", {"item_id": item["id"]})
        assert (await _until_done(session, dict(restored.structuredContent or {})))["state"] == "done"
        assert (server.library / "helio/3/ops/ops.pdf").is_file()


def test_manage_the_library_over_mcp(admin_server: Any) -> None:
    anyio.run(_flow, admin_server())


async def _refusals(server: AdminServer) -> list[str]:
    async with mcp_session(server.url) as session:
        base = {"product": "helio", "version": "3", "doc": "ops"}
        calls = [
            {**base, "name": "big.txt", "content": "x" * (MAX_DOCUMENT_BYTES + 1)},
            {**base, "name": "a.pdf", "content": "not base64!!", "encoding": "base64"},
            {**base, "name": "a.pdf", "content": base64.b64encode(b"<html>").decode(), "encoding": "base64"},
            {**base, "name": "../a.txt", "content": "text"},
            {**base, "product": "../x", "name": "a.txt", "content": "text"},
        ]
        out = []
        for args in calls:
            result = await session.call_tool("add_document", args)
            assert result.isError, args
            out.append(result.content[0].text)  # type: ignore[union-attr]
        gone = await session.call_tool("remove_from_library", {"product": "no-such"})
        out.append(gone.content[0].text if gone.isError else "removed?")  # type: ignore[union-attr]
        return out


def test_bad_documents_are_tool_errors(admin_server: Any) -> None:
    server = admin_server()
    errors = anyio.run(_refusals, server)
    for error, reason in zip(errors, ("KiB", "base64", "not a PDF", "not allowed", "not a valid folder",
                                      "not in the library"), strict=True):
        assert reason in error, errors
    assert not (server.library / "helio").exists()
    assert httpx.get(f"{server.url}/api/admin/jobs", timeout=30).json() == []
