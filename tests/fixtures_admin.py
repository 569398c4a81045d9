"""Servers whose library may be changed: each on its own copy of the session's library and index.

`admin_server(**settings)` → `AdminServer` (base URL, library and data folders): the copy keeps the
files' times, so the first job's ingest finds the index current and reads only what the test changed.
`upload_pdf(phrase, pages)` makes a real PDF whose last page says `phrase`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from library_factory import copy_index
from pdf_factory import PageWriter

JOB_SECONDS = 400.0  # a job starts a process that loads the embedding model; 2 cores shared with other test runs


@dataclass
class AdminServer:
    url: str
    library: Path
    data: Path

    def wait(self, job: dict[str, Any], headers: dict[str, str] | None = None,
             timeout: float = JOB_SECONDS) -> dict[str, Any]:
        """Poll the job until it ends; its last record."""
        deadline = time.monotonic() + timeout
        while True:
            record = httpx.get(f"{self.url}/api/admin/jobs/{job['id']}", headers=headers, timeout=30).json()
            if record["state"] not in ("queued", "running"):
                return dict(record)
            if time.monotonic() > deadline:
                pytest.fail(f"job {job['id']} did not end: {record}")
            time.sleep(0.3)


def make_pdf(phrase: str, pages: int = 2, filler: int = 0) -> bytes:
    """A real PDF of `pages` pages; the last one says `phrase`; `filler` lines of text on the others."""
    w = PageWriter()
    w.pdf.set_title("Uploaded Manual")
    for n in range(1, pages):
        w.page()
        w.heading(f"Chapter {n}")
        w.paragraph([f"Filler text of chapter {n}, line {i}: routers forward packets." for i in range(filler)]
                    or [f"Chapter {n} introduces the uploaded manual."])
    w.page()
    w.heading("Appendix")
    w.paragraph([phrase])
    return w.output()


@pytest.fixture(scope="session")
def admin_server(tmp_path_factory: pytest.TempPathFactory, library: Path, indexed: Path,
                 start_server: Any, embedder: Any) -> Callable[..., AdminServer]:
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from indexing.index import Index

    def start(library_in: Path | None = None, data_in: Path | None = None, **settings: Any) -> AdminServer:
        """`library_in`, `data_in`: folders (a small disk) to hold the copies instead of a temporary one."""
        root = tmp_path_factory.mktemp("admin")
        lib, data = (library_in or root) / "library", (data_in or root) / "data"
        shutil.copytree(library, lib)
        copy_index(indexed, data, lib)
        service = LibraryService(Settings(library=lib, data=data, llm="none"), Index(data, embedder=embedder))
        return AdminServer(start_server(service, **settings), lib, data)

    return start
