"""Jobs: a running job can be cancelled, leaving the index whole for searches, and the next job repairs
what it left; progress refreshes while it runs; a server killed mid-job shows the job as interrupted
after its restart, and its next job indexes the library."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_admin import AdminServer
from fixtures_server import serve_process
from library_factory import copy_index


def _manual(paragraphs: int) -> bytes:
    """A plain-text manual of distinct paragraphs (about one chunk each)."""
    return "\n\n".join(
        f"Section {n}. The cryostat valve {n} opens when the helium pressure in loop {n % 7} passes "
        f"{n * 3} kilopascals; operators log each opening in register {n} and check the seals of pump "
        f"{n % 11} before the next cycle of the refrigeration plant begins. " * 2
        for n in range(paragraphs)).encode()


def _upload(url: str, name: str, body: bytes) -> dict[str, Any]:
    response = httpx.post(f"{url}/api/admin/uploads", timeout=60, data={"product": "cryo", "version": "1",
                          "doc": "ops"}, files={"file": (name, body, "text/plain")})
    assert response.status_code == 202, response.text
    return dict(response.json())


def _wait_embedding(server: AdminServer, job: dict[str, Any]) -> dict[str, Any]:
    """Poll until the job has embedded some of the file's chunks, not all (progress moves inside a file:
    at each encoder batch of 32, not once a file); the record then. How often
    it refreshes is measured by scripts/measure_admin.py, not here (this machine's load varies 10x)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        record = httpx.get(f"{server.url}/api/admin/jobs/{job['id']}", timeout=30).json()
        progress = record["progress"] or {}
        done, known = progress.get("chunks_done", 0), progress.get("chunks_known", 0)
        if progress.get("stage") == "embedding" and 0 < done < known:
            return dict(record)
        assert record["state"] in ("queued", "running"), record
        time.sleep(0.1)
    pytest.fail(f"job {job['id']} never showed progress inside its file")


def test_cancel_keeps_the_index_whole_and_the_next_job_repairs(admin_server: Any) -> None:
    server = admin_server()
    job = _upload(server.url, "cryostat.txt", _manual(200))
    progress = _wait_embedding(server, job)["progress"]
    assert progress["total"] == 1 and progress["file"] == "cryo/1/ops/cryostat.txt", progress
    assert {"chunks_per_s", "eta_s", "elapsed_s", "fraction", "updated_at"} <= set(progress)
    cancelled = httpx.post(f"{server.url}/api/admin/jobs/{job['id']}/cancel", timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    assert server.wait(job)["state"] == "cancelled"
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
    hits = httpx.get(f"{server.url}/api/search", params={"q": "UmssMtaBadMail folder"}, timeout=60).json()
    assert hits and hits[0]["product"] == "acme"
    assert httpx.post(f"{server.url}/api/admin/jobs/{job['id']}/cancel", timeout=30).status_code == 409

    again = httpx.post(f"{server.url}/api/admin/reindex", timeout=30).json()
    done = server.wait(again)
    assert done["state"] == "done" and done["report"]["failed"] == 0, done
    hits = httpx.get(f"{server.url}/api/search", params={"q": "cryostat valve 117 register 117"}, timeout=60).json()
    assert hits[0]["source"] == "cryo/1/ops/cryostat.txt"
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200


def test_a_killed_server_shows_its_job_as_interrupted(library: Path, indexed: Path, tmp_path: Path) -> None:
    import shutil

    lib = tmp_path / "library"
    shutil.copytree(library, lib)
    data = copy_index(indexed, tmp_path / "data", lib)  # the job writes this copy, never the session's index
    with serve_process(lib, data, tmp_path / "first", chat="false", llm="none") as (url, proc):
        job = _upload(url, "cryostat.txt", _manual(200))
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/api/admin/jobs/{job['id']}", timeout=30).json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    data = tmp_path / "first" / "data"
    with serve_process(lib, data, tmp_path / "second", copy_data=False, chat="false", llm="none") as (url, _):
        record = httpx.get(f"{url}/api/admin/jobs/{job['id']}", timeout=30).json()
        assert record["state"] == "interrupted" and "stopped" in record["error"], record
        again = httpx.post(f"{url}/api/admin/reindex", timeout=30).json()
        server = AdminServer(url, lib, data)
        done = server.wait(again)
        assert done["state"] == "done", done
        hits = httpx.get(f"{url}/api/search", params={"q": "cryostat valve 117 register 117"}, timeout=60).json()
        assert hits[0]["source"] == "cryo/1/ops/cryostat.txt"
