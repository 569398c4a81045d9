"""A zip of a `<product>/<version>/<doc>/<files>` tree, unpacked with every entry checked first.

Refused whole, before a byte is written, when any entry climbs out (`../`, an absolute path, a
backslash, a drive letter), is a link, has a folder name the library does not allow, or is not a
document (or `mcdewey.toml`) at the doc level; while unpacking, by what is really decompressed (never
the sizes the zip declares), when an entry expands more than `MAX_RATIO` times or the whole past the
limit (a zip bomb).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

from assistant.errors import BadRequest
from assistant.library_admin import names
from assistant.library_admin.content import ContentCheck
from assistant.library_admin.errors import TooLarge

MAX_RATIO = 200  # text compresses 3-10x, PDFs 1-2x; 42.zip-style bombs reach 1,000x and more
MAX_ENTRIES = 10_000  # the shared library's largest doc has 1,100 files
PIECE = 1 << 16
METADATA = "mcdewey.toml"


def _target(info: zipfile.ZipInfo) -> tuple[str, ...] | None:
    """The entry's library path, checked; None for a folder entry."""
    name = info.filename
    if name.startswith(("/", "\\")) or "\\" in name or ":" in name.split("/")[0]:
        raise BadRequest(f"zip entry {name!r} is an absolute path")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BadRequest(f"zip entry {name!r} is a link; links are not unpacked")
    parts = tuple(p for p in name.split("/") if p)
    if any(p in (".", "..") for p in parts):
        raise BadRequest(f"zip entry {name!r} climbs out of its folder")
    if info.is_dir():
        for kind, part in zip(names.LEVELS, parts, strict=False):
            names.folder(kind, part)
        if len(parts) > 3:
            raise BadRequest(f"zip entry {name!r}: folders below <product>/<version>/<doc>/ are not read")
        return None
    *folders, file = parts
    if file == METADATA and 1 <= len(folders) <= 3:
        pass
    elif len(folders) != 3:
        raise BadRequest(f"zip entry {name!r}: documents go in <product>/<version>/<doc>/<file>")
    else:
        names.file_name(file)
    for kind, part in zip(names.LEVELS, folders, strict=False):
        names.folder(kind, part)
    return parts


def extract_zip(archive: Path, into: Path, limit: int) -> None:
    """Unpack `archive` under `into` (checked as above); any refusal leaves nothing of it under `into`."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise BadRequest(f"not a zip file ({exc})") from None
    written: list[Path] = []
    try:
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                raise BadRequest(f"the zip holds {len(infos):,} entries; at most {MAX_ENTRIES:,} are unpacked")
            plan = [(info, parts) for info in infos if (parts := _target(info)) is not None]
            if not any(parts[-1] != METADATA for _, parts in plan):
                raise BadRequest("the zip holds no document (<product>/<version>/<doc>/<file>)")
            total = 0
            for info, parts in plan:
                dest = into.joinpath(*parts)
                if dest.exists():
                    raise BadRequest(f"zip entry {info.filename!r} is given twice")
                dest.parent.mkdir(parents=True, exist_ok=True)
                written.append(dest)
                check = ContentCheck(parts[-1]) if parts[-1] != METADATA else None
                size = 0
                with zf.open(info) as src, dest.open("xb") as out:
                    while piece := src.read(PIECE):
                        size += len(piece)
                        total += len(piece)
                        if size > MAX_RATIO * max(info.compress_size, 1) and size > PIECE:
                            raise TooLarge(f"zip entry {info.filename!r} expands more than {MAX_RATIO}x "
                                           "(a zip bomb?); nothing was unpacked")
                        if total > limit:
                            raise TooLarge(f"the zip expands past {limit:,} bytes (MCDEWEY_MAX_UNZIPPED_BYTES); "
                                           "nothing was unpacked")
                        if check is not None:
                            check.feed(piece)
                        out.write(piece)
                if check is not None:
                    check.finish()
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as exc:  # encrypted, corrupt
        _remove(written)
        raise BadRequest(f"cannot unpack the zip: {exc}") from None
    except BaseException:
        _remove(written)
        raise


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
