"""Adding, removing, restoring and replacing a manual over REST, as a script would (and a zip of a
tree): each change a job that ends with the library searchable as changed (real server, real ingest
process, real Chroma)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
from fixtures_admin import make_pdf

PHRASE = "The quasar flux capacitor needs recalibration every ninety days."
EDITION = "The quasar plasma conduit needs an inspection every thirty days."


def _search(url: str, q: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/search", params={"q": q, "top_k": 3}, timeout=60)
    assert response.status_code == 200, response.text
    return list(response.json())


def _hits(url: str, q: str, source: str) -> list[dict[str, Any]]:
    return [r for r in _search(url, q) if r["source"] == source]


def test_upload_remove_restore_round_trip(admin_server: Any) -> None:
    server = admin_server()
    url = server.url
    files = {"file": ("quasar.pdf", make_pdf(PHRASE, pages=3), "application/pdf")}
    fields = {"product": "quasar", "version": "1.0", "doc": "user-guide", "title": "Quasar User Guide",
              "vendor": "Quasar Labs"}
    response = httpx.post(f"{url}/api/admin/uploads", data=fields, files=files, timeout=60)
    assert response.status_code == 202, response.text
    job = server.wait(response.json())
    assert job["state"] == "done", job
    assert job["report"]["added"] == 1 and job["report"]["failed"] == 0, job["report"]
    assert (server.library / "quasar/1.0/user-guide/quasar.pdf").is_file()
    assert not any((server.library / ".mcdewey-incoming").iterdir())

    source = "quasar/1.0/user-guide/quasar.pdf"
    hits = _hits(url, "quasar flux capacitor recalibration", source)
    assert hits and hits[0]["page"] <= 3 <= (hits[0]["page_end"] or 0) and PHRASE in hits[0]["text"], hits
    assert hits[0]["doc_title"] == "Quasar User Guide"
    assert hits[0]["vendor"] == "Quasar Labs"

    removal = httpx.delete(f"{url}/api/admin/library/quasar/1.0/user-guide/quasar.pdf", timeout=30)
    assert removal.status_code == 202, removal.text
    assert server.wait(removal.json())["state"] == "done"
    assert not (server.library / source).exists()
    assert _hits(url, "quasar flux capacitor recalibration", source) == []

    trash = httpx.get(f"{url}/api/admin/trash", timeout=30).json()
    item = next(i for i in trash if i["path"] == source)
    restored = httpx.post(f"{url}/api/admin/trash/{item['id']}/restore", timeout=30)
    assert restored.status_code == 202, restored.text
    assert server.wait(restored.json())["state"] == "done"
    assert _hits(url, "quasar flux capacitor recalibration", source)
    jobs = httpx.get(f"{url}/api/admin/jobs", timeout=30).json()
    assert [j["kind"] for j in jobs[:3]] == ["restore", "remove", "add"]

    # A new edition of the PDF and a zip of another manual's tree, in one upload.
    tree = io.BytesIO()
    with zipfile.ZipFile(tree, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zipco/2/handbook/handbook.md", "# Handbook\n\nThe bilge pump primes itself in ninety seconds.\n")
        zf.writestr("zipco/mcdewey.toml", 'vendor = "Zip Company"\n')
    edition = {"file": ("quasar.pdf", make_pdf(EDITION, pages=3), "application/pdf")}
    response = httpx.post(f"{url}/api/admin/uploads", data=fields, timeout=60,
                          files=[("file", edition["file"]), ("file", ("tree.zip", tree.getvalue(), "application/zip"))])
    assert response.status_code == 202, response.text
    job = server.wait(response.json())
    report = job["report"]
    assert job["state"] == "done" and (report["added"], report["updated"]) == (1, 1), job
    assert report["chunks_embedded"] < report["chunks_added"], report  # unchanged chunks kept their vectors
    assert not any(PHRASE in h["text"] for h in _hits(url, "quasar flux capacitor recalibration", source))
    assert EDITION in _hits(url, "plasma conduit inspection", source)[0]["text"]
    bilge = _hits(url, "bilge pump primes itself", "zipco/2/handbook/handbook.md")
    assert bilge and bilge[0]["vendor"] == "Zip Company"
    replaced = [i for i in httpx.get(f"{url}/api/admin/trash", timeout=30).json() if i["reason"] == "replaced"]
    assert [i["path"] for i in replaced] == [source]  # the first edition can still be restored
