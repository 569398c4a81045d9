"""The library's original files, as `/files/{source}` serves them (the routes are in `web`).

A file is served inline with its own content type; HTML from the library runs no script (its own
Content-Security-Policy). A Markdown original is shown as a page of its own escaped text with an
anchor `id="page=N"` at each page start (`shown_pages`), so `/files/guide.md#page=5` opens at page 5
as a PDF viewer does; `?raw=1` gives the file itself.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi.responses import FileResponse

from assistant.errors import NotFound
from assistant.service import shown
from assistant.surfaces.links import page_anchor
from indexing.document import LoaderError
from indexing.loaders.markdown import source_pages
from indexing.loaders.text import decode_file

# Files from the library keep their own CSS and images (relative links) but never run scripts.
FILE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:"
)
SCRIPTABLE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml")
FAVICON = Path(__file__).parent / "static" / "favicon.ico"  # favicon.svg beside it, rasterised (16, 32, 48 px)


def library_file(root: Path, source: str) -> Path:
    """The file `source` names under `root`, or NotFound for anything that could leave the root.

    Rejects NUL bytes, backslashes, absolute paths, empty, '.', '..' and hidden segments before
    touching the disk, then resolves symlinks and insists the real path is still under the root.
    """
    missing = NotFound(f"no file {shown(source)} in the library")
    if not source or "\x00" in source or "\\" in source or source.startswith("/"):
        raise missing
    parts = source.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise missing
    real_root = root.resolve()
    try:
        real = (real_root / PurePosixPath(source)).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing file, symlink loop
        raise missing from exc
    if not real.is_relative_to(real_root) or not real.is_file():
        raise missing
    return real


def file_response(path: Path, source: str) -> FileResponse:
    """The file inline with its own content type; HTML keeps its <meta charset> and runs no script."""
    media_type = mimetypes.guess_type(source)[0] or "application/octet-stream"
    headers = {"X-Content-Type-Options": "nosniff"}
    if media_type in SCRIPTABLE_TYPES:
        headers["Content-Security-Policy"] = FILE_CSP
        headers["Content-Type"] = media_type  # no charset: the document's own <meta charset> decides
    return FileResponse(
        path, media_type=media_type, headers=headers, filename=path.name, content_disposition_type="inline"
    )


@dataclass
class ShownPage:
    """A page of a Markdown original as the page shows it: its anchor (first start of a page only)."""

    page: int | None
    anchor: str | None
    marker: str
    text: str


def shown_pages(text: str) -> list[ShownPage]:
    """The file's text by page, each page's first start carrying its `page=N` anchor."""
    seen: set[int] = set()
    out: list[ShownPage] = []
    for piece in source_pages(text):
        anchor = None
        if piece.page is not None and piece.page not in seen:
            seen.add(piece.page)
            anchor = page_anchor(piece.page)
        out.append(ShownPage(piece.page, anchor, piece.marker, "\n".join(piece.lines)))
    return out


def markdown_pages(path: Path) -> list[ShownPage] | None:
    """The Markdown file's text by page, or None when it is not text after all (the ingest reported it)."""
    try:
        return shown_pages(decode_file(path)[0])
    except (LoaderError, OSError):
        return None
