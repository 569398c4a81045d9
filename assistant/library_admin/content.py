"""Is a file what its name says? Checked on the bytes as they stream in, before anything is kept.

A `.pdf` must start like a PDF; text formats (Markdown, HTML, plain text) must hold no NUL byte (a
binary renamed `.txt`) and Markdown and plain text must be UTF-8 (the loaders read them so).
"""

from __future__ import annotations

import codecs
from pathlib import PurePosixPath

from assistant.errors import BadRequest

PDF_MAGIC = b"%PDF-"
PDF_MAGIC_WITHIN = 1024  # readers accept the header anywhere in the first KB (junk before it is common)
ZIP_MAGIC = b"PK\x03\x04"
UTF8_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text"})


class ContentCheck:
    """Fed the file's bytes in order (`feed`), then `finish`; raises BadRequest with the reason."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.suffix = PurePosixPath(name).suffix.lower()
        self.head = b""
        self.size = 0
        self.utf8 = codecs.getincrementaldecoder("utf-8")() if self.suffix in UTF8_SUFFIXES else None

    def _refuse(self, why: str) -> BadRequest:
        return BadRequest(f"{self.name}: {why}")

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if len(self.head) < PDF_MAGIC_WITHIN:
            self.head += data[: PDF_MAGIC_WITHIN - len(self.head)]
        if self.suffix in (".pdf", ".zip"):
            return
        if b"\x00" in data:
            raise self._refuse(f"is named {self.suffix} but holds binary data (a NUL byte)")
        if self.utf8 is not None:
            try:
                self.utf8.decode(data)
            except UnicodeDecodeError as exc:
                raise self._refuse(f"is named {self.suffix} but is not UTF-8 text ({exc.reason})") from None

    def finish(self) -> None:
        if self.size == 0:
            raise self._refuse("is empty")
        if self.suffix == ".pdf" and PDF_MAGIC not in self.head:
            raise self._refuse("is named .pdf but is not a PDF (no %PDF- header)")
        if self.suffix == ".zip" and not self.head.startswith(ZIP_MAGIC):
            raise self._refuse("is named .zip but is not a zip file")
        if self.utf8 is not None:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                raise self._refuse(f"is named {self.suffix} but ends inside a UTF-8 character") from None
