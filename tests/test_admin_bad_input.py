"""Bad uploads and removals get a 4xx with the reason and leave the library and the index as they were:
too large, not what the name says, names that climb out, zip bombs, empty, cut off half-way, a full
disk, the same file twice at once; an upload while a job runs waits its turn."""

from __future__ import annotations

import io
import random
import socket
import stat
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fixtures_admin import AdminServer, make_pdf
from test_disk_full import SmallDisk

FIELDS = {"product": "quasar", "version": "1.0", "doc": "guide"}


def _scan(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _tree(root: Path) -> dict[str, int]:
    """Every file of the library (hidden staging included) and its size: what a failed upload must not change.
    Read once it has settled: the server may still be clearing the staging folder of an upload that ended
    a moment ago (a folder vanishing under the scan)."""
    for _ in range(50):
        try:
            first = _scan(root)
            time.sleep(0.1)
            if _scan(root) == first:
                return first
        except FileNotFoundError:
            time.sleep(0.1)
    return _scan(root)


def _upload(url: str, files: list[tuple[str, bytes]], fields: dict[str, str] | None = None) -> httpx.Response:
    if not files:  # httpx would send the fields alone as a urlencoded form: a multipart body of fields only
        body = b"".join(b"--b0\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (k.encode(), v.encode())
                        for k, v in FIELDS.items()) + b"--b0--\r\n"
        return httpx.post(f"{url}/api/admin/uploads", content=body, timeout=60,
                          headers={"Content-Type": "multipart/form-data; boundary=b0"})
    return httpx.post(f"{url}/api/admin/uploads", data=FIELDS if fields is None else fields, timeout=60,
                      files=[("file", (name, body, "application/octet-stream")) for name, body in files])


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return out.getvalue()


@pytest.fixture(scope="module")
def server(admin_server: Any) -> AdminServer:
    return admin_server(max_upload_bytes=200_000, max_unzipped_bytes=2_000_000)


def _words(count: int, seed: int) -> bytes:
    """Text that deflates about 15x (805 KB to 52 KB): under the zip-bomb ratio, over the total with three."""
    rng = random.Random(seed)
    return b"".join(rng.choice((b"router ", b"switch ", b"packet ", b"bridge ")) for _ in range(count))


GOOD_DOC = "quasar/1.0/guide/"
CASES = {
    "over the upload limit": ([("big.txt", b"word " * 60_000)], None, 413, "MCDEWEY_MAX_UPLOAD_BYTES"),
    "a .pdf that is not a PDF": ([("fake.pdf", b"<html>not a pdf</html>")], None, 400, "not a PDF"),
    "a binary named .txt": ([("blob.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00")], None, 400, "binary data"),
    "Latin-1 named .md": ([("notes.md", "caf\xe9 au lait".encode("latin-1"))], None, 400, "not UTF-8"),
    "a name climbing out": ([("../escape.txt", b"text")], None, 400, "not allowed"),
    "an absolute name": ([("/etc/cron.d/x.txt", b"text")], None, 400, "not allowed"),
    "a hidden name": ([(".hidden.txt", b"text")], None, 400, "not allowed"),
    "an unreadable suffix": ([("tool.exe", b"MZ")], None, 400, "McDewey reads"),
    "a product climbing out": ([("a.txt", b"text")], {**FIELDS, "product": ".."}, 400, "not a valid folder"),
    "a version with a slash": ([("a.txt", b"text")], {**FIELDS, "version": "1/../../x"}, 400, "not a valid folder"),
    "no doc named": ([("a.txt", b"text")], {"product": "quasar"}, 400, "not a valid folder"),
    "an empty file": ([("empty.txt", b"")], None, 400, "is empty"),
    "no file at all": ([], None, 400, "no file"),
    "the same name twice": ([("a.txt", b"one"), ("a.txt", b"two")], None, 400, "twice"),
    "a good file beside a bad one": ([("good.txt", b"fine text"), ("bad.pdf", b"nope")], None, 400, "not a PDF"),
    "a zip entry climbing out": ([("t.zip", _zip({"../../evil/1/d/x.txt": b"x"}))], None, 400, "climbs out"),
    "a zip entry absolute": ([("t.zip", _zip({"/tmp/p/1/d/x.txt": b"x"}))], None, 400, "absolute"),
    "a zip entry link": ([("t.zip", _zip({"p/1/d/a.txt": b"x"}, links=("p/1/d/link.txt",)))], None, 400, "link"),
    "a zip entry bad folder": ([("t.zip", _zip({"p q/1/d/a.txt": b"x"}))], None, 400, "not a valid folder"),
    "a zip entry outside a doc": ([("t.zip", _zip({"p/a.txt": b"x"}))], None, 400, "<product>/<version>/<doc>"),
    "a zip entry not what it says": ([("t.zip", _zip({"p/1/d/a.pdf": b"no"}))], None, 400, "not a PDF"),
    "a zip bomb (ratio)": ([("t.zip", _zip({"p/1/d/a.txt": b"a" * 2_000_000}))], None, 413, "zip bomb"),
    "a zip past its total": ([("t.zip", _zip({f"p/1/d/{n}.txt": _words(100_000, n) for n in range(3)}))],
                             None, 413, "MCDEWEY_MAX_UNZIPPED_BYTES"),
    "a corrupt zip": ([("t.zip", b"PK\x03\x04 broken")], None, 400, "zip"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_upload_is_refused_and_changes_nothing(server: AdminServer, case: str) -> None:
    files, fields, status, reason = CASES[case]
    before = _tree(server.library)
    response = _upload(server.url, files, fields)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert _tree(server.library) == before
    assert httpx.get(f"{server.url}/api/admin/jobs", timeout=30).json() == []


def test_removing_what_does_not_exist(server: AdminServer) -> None:
    for path, status in (("no-such", 404), ("acme/9.9", 404), ("acme/2.0/admin-guide/none.html", 404),
                         ("acme/2.0/admin-guide/..%2F..%2Fx.html", 400)):
        response = httpx.delete(f"{server.url}/api/admin/library/{path}", timeout=30)
        assert response.status_code == status, (path, response.text)
    assert httpx.post(f"{server.url}/api/admin/trash/nope/restore", timeout=30).status_code == 404
    assert httpx.get(f"{server.url}/api/admin/jobs/nope", timeout=30).status_code == 404


def _start_raw_upload(url: str, name: str, declared: int) -> tuple[socket.socket, bytes]:
    """Begin a multipart upload by hand and send its first half; the socket and the part's boundary."""
    target = urlparse(url)
    sock = socket.create_connection((target.hostname, target.port), timeout=30)
    boundary = b"cutoffboundary"
    head = b"".join(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k.encode(),
                    v.encode()) for k, v in FIELDS.items())
    head += b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n\r\n" % (boundary,
                                                                                                  name.encode())
    sock.sendall(b"POST /api/admin/uploads HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; "
                 b"boundary=%s\r\nContent-Length: %d\r\n\r\n" % (target.netloc.encode(), boundary, declared))
    sock.sendall(head + b"half of the text " * 2000)
    return sock, boundary


def test_cut_off_upload_leaves_nothing(server: AdminServer) -> None:
    before = _tree(server.library)
    sock, _ = _start_raw_upload(server.url, "cut.txt", 150_000)
    time.sleep(1.0)
    assert any(".mcdewey-incoming" in p for p in _tree(server.library))  # it was being written
    sock.close()
    deadline = time.monotonic() + 10
    while _tree(server.library) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tree(server.library) == before


def test_two_uploads_of_one_file_at_once(server: AdminServer) -> None:
    before = _tree(server.library)
    sock, _ = _start_raw_upload(server.url, "same.txt", 150_000)
    try:
        time.sleep(1.0)
        second = _upload(server.url, [("same.txt", b"the second upload")])
        assert second.status_code == 409 and "being uploaded" in second.json()["detail"]
    finally:
        sock.close()
    time.sleep(1.0)
    assert _tree(server.library) == before


def test_full_disk_during_upload_keeps_nothing(admin_server: Any, tmp_path: Path) -> None:
    disk = SmallDisk(tmp_path / "small", 400)  # the library copy (~90 KB) and a little more
    try:
        server = admin_server(library_in=disk.path)
        before = _tree(server.library)
        response = _upload(server.url, [("large.txt", b"a line of text\n" * 40_000)])  # 600 KB
        assert response.status_code == 507 and "no space left" in response.json()["detail"], response.text
        assert _tree(server.library) == before
    finally:
        disk.unmount()


def test_upload_while_a_job_runs_waits_its_turn(server: AdminServer) -> None:
    running = httpx.post(f"{server.url}/api/admin/reindex", timeout=30).json()
    upload = _upload(server.url, [("waits.pdf", make_pdf("The waiting manual mentions zeppelin hangars."))])
    assert upload.status_code == 202, upload.text
    assert upload.json()["state"] == "queued"
    assert not (server.library / GOOD_DOC / "waits.pdf").exists()  # not before its turn
    assert server.wait(running)["state"] == "done"
    job = server.wait(upload.json())
    assert job["state"] == "done" and job["started_at"] >= server.wait(running)["ended_at"], job
    hits = httpx.get(f"{server.url}/api/search", params={"q": "zeppelin hangars"}, timeout=60).json()
    assert hits[0]["source"] == GOOD_DOC + "waits.pdf"


def test_full_disk_during_the_ingest_fails_the_job_and_the_next_repairs(admin_server: Any, tmp_path: Path) -> None:
    """The index's disk fills while the job's ingest writes it: the job fails with the reason, searches keep
    answering from the last generation, and a re-index with space again makes the manual searchable."""
    disk = SmallDisk(tmp_path / "small", 1000)  # the index copy (~800 KB) and a little more
    try:
        server = admin_server(data_in=disk.path)
        body = "\n\n".join(f"Paragraph {n}: the ballast tank {n} vents through valve {n * 7} before diving."
                           for n in range(1000)).encode()
        job = _upload(server.url, [("ballast.txt", body)]).json()
        failed = server.wait(job)
        assert failed["state"] == "failed" and "no space left on device" in failed["error"], failed
        hits = httpx.get(f"{server.url}/api/search", params={"q": "UmssMtaBadMail"}, timeout=60)
        assert hits.status_code == 200 and hits.json()[0]["product"] == "acme"
        disk.resize(64 * 1024)
        again = server.wait(httpx.post(f"{server.url}/api/admin/reindex", timeout=30).json())
        assert again["state"] == "done", again
        hits = httpx.get(f"{server.url}/api/search", params={"q": "ballast tank 999 vents"}, timeout=60).json()
        assert hits[0]["source"] == GOOD_DOC + "ballast.txt"
    finally:
        disk.unmount()
