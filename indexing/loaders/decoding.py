"""A file's bytes, checked and decoded, before any format-specific parsing.

Takes a path (or bytes) and gives the bytes (`read_source`), the kind of binary file they are when
they are not text (`sniff_binary`), or text with a warning when a fallback encoding was needed
(`decode_text`). Manuals come as UTF-8, mislabelled cp1252, or files pasted together from both; every
loader meets them, so the reasons a user sees ("empty file", "the file is a PNG image", "decoded as
cp1252") are worded once, here.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from indexing.document import LoaderError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF"),
    (b"\x7fELF", "an executable"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)
# Browsers decode these labels as windows-1252; so do we (they are usually mislabelled cp1252).
_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "iso_8859-1"}


def read_source(path: Path) -> bytes:
    """Read a file for a loader; an empty file is an error worth showing the user."""
    data = path.read_bytes()
    if not data:
        raise LoaderError("empty file (0 bytes)")
    return data


def sniff_binary(data: bytes) -> str | None:
    """Name the kind of binary file this is, or None if it may be text."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    if b"\x00" in data[:8192]:
        return "a binary file"
    return None


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Decode bytes as text: BOM, then the declared charset, then UTF-8, cp1252, latin-1.

    Returns the text and a warning when a fallback was needed. Never raises on bad bytes.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), None
    candidates: list[str] = []
    if declared:
        label = declared.strip().lower()
        try:
            name = codecs.lookup("cp1252" if label in _LATIN1_LABELS else label).name
            candidates.append(name)
        except LookupError:
            pass
    candidates += ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding not in ("utf-8", candidates[0]):
            return _mixed_lines(data) or (text, f"not valid UTF-8; decoded as {encoding}")
        return text, None
    return _mixed_lines(data) or (data.decode("latin-1"), "not valid UTF-8; decoded as latin-1")


def _mixed_lines(data: bytes) -> tuple[str, str] | None:
    """Text whose lines mix UTF-8 and a legacy encoding (files pasted together): each line decoded on
    its own, UTF-8 first. None when no line holds non-ASCII UTF-8 (then it is all one legacy text)."""
    lines: list[str] = []
    utf8 = legacy = 0
    for raw in data.splitlines(keepends=True):
        try:
            line = raw.decode("utf-8")
            utf8 += not raw.isascii()
        except UnicodeDecodeError:
            try:
                line = raw.decode("cp1252")
            except UnicodeDecodeError:
                line = raw.decode("latin-1")
            legacy += 1
        lines.append(line)
    if not utf8:
        return None
    return "".join(lines), f"mixed encodings: {legacy} line(s) not valid UTF-8 decoded as cp1252"
