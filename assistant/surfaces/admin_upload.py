"""A multipart upload read as it streams: each file part is written to disk piece by piece, never held.

FastAPI's `Form`/`UploadFile` would read the whole body first (into memory, then a temporary file
outside the library). Here `python-multipart`'s streaming parser hands each piece of a part to
`LibraryAdmin`'s staged upload as it arrives. The text fields (`product`, `version`, `doc`, `title`,
`vendor`) must come before the files, as a browser's `FormData` sends them in the order appended. A
client that disconnects half-way, a file over the limit, a bad name or content: the upload is
aborted and nothing of it stays.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from assistant.errors import BadRequest
from assistant.library_admin.admin import LibraryAdmin
from assistant.library_admin.errors import TooLarge
from assistant.library_admin.staging import StagedFile, Upload

FIELDS = frozenset({"product", "version", "doc", "title", "vendor"})
MAX_FIELD_BYTES = 1024
MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around the files' own bytes


class _Parts:
    """The parser's callbacks: fields into `fields`, file parts into the admin's staged upload."""

    def __init__(self, admin: LibraryAdmin) -> None:
        self.admin = admin
        self.fields: dict[str, str] = {}
        self.upload: Upload | None = None
        self.current: StagedFile | None = None
        self.field: str | None = None
        self.value = b""
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_part_data": self.part_data, "on_part_end": self.part_end,
                "on_header_field": self.header_field, "on_header_value": self.header_val,
                "on_header_end": self.header_end, "on_headers_finished": self.headers_finished}

    def part_begin(self) -> None:
        self.disposition, self.field, self.current, self.value = b"", None, None, b""

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_val(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            if name not in FIELDS:
                raise BadRequest(f"unknown form field {name!r} (expected {', '.join(sorted(FIELDS))} and files)")
            self.field = name
            return
        if self.upload is None:
            f = self.fields
            self.upload = self.admin.begin_upload(f.get("product"), f.get("version"), f.get("doc"),
                                                  f.get("title"), f.get("vendor"))
        self.current = self.upload.add_file(filename.decode("utf-8", "replace"))

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current.write(data[start:end])
        elif self.field is not None:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                raise BadRequest(f"form field {self.field} is longer than {MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self.field is not None:
            if self.upload is not None:
                raise BadRequest(f"form field {self.field} comes after the files; send the fields first")
            self.fields[self.field] = self.value.decode("utf-8", "replace")


async def receive_upload(request: Request, admin: LibraryAdmin) -> dict[str, Any]:
    """Stream the request's files into a staged upload and queue its job (the job's record)."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("send the files as multipart/form-data (fields product, version, doc first)")
    declared = request.headers.get("content-length", "")
    limit = admin.settings.max_upload_bytes
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise TooLarge(f"upload larger than {limit:,} bytes (MCDEWEY_MAX_UPLOAD_BYTES); nothing was kept")
    parts = _Parts(admin)
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        async for piece in request.stream():
            await run_in_threadpool(parser.write, piece)
        await run_in_threadpool(parser.finalize)
        if parts.upload is None:
            raise BadRequest("the upload holds no file")
        upload, parts.upload = parts.upload, None
    except MultipartParseError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise BadRequest("the upload was cut off before its end; nothing was kept") from None
    finally:
        if parts.upload is not None:
            parts.upload.abort()
    return await run_in_threadpool(admin.finish_upload, upload)
