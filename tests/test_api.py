"""REST over real HTTP: the running app (uvicorn) on the session's indexed library."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fixtures_server import raw_get


def get(server_url: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server_url}{path}", params=params, timeout=60)


def search(server_url: str, q: str, **params: Any) -> list[dict[str, Any]]:
    response = get(server_url, "/api/search", q=q, **params)
    assert response.status_code == 200, response.text
    return response.json()


# --- search ---------------------------------------------------------------------------------------
def test_search_returns_records_with_links(server_url: str) -> None:
    results = search(server_url, "how is the routing table declared", top_k=5)
    assert 1 <= len(results) <= 5
    for r in results:
        assert {"chunk_id", "text", "vendor", "product", "version", "doc", "doc_title", "source", "page",
                "heading", "ordinal", "score", "url", "file_url"} <= r.keys()
        assert r["url"].startswith(f"{server_url}/docs/{quote(r['source'])}")
        assert r["url"].endswith("#chunk-" + "".join(ch if ch.isalnum() or ch in "_-" else "-"
                                                      for ch in r["chunk_id"]))
        assert r["file_url"].startswith(f"{server_url}/files/{quote(r['source'])}")


def test_pdf_records_link_the_page(server_url: str) -> None:
    results = search(server_url, "quick reference", product="mcdewey", top_k=10)
    pdf = [r for r in results if r["source"].endswith(".pdf")]
    assert pdf, [r["source"] for r in results]
    r = pdf[0]
    assert r["page"] >= 1
    assert r["file_url"].endswith(f".pdf#page={r['page']}")
    assert f"page={r['page']}" in r["url"]
    assert httpx.get(r["url"], timeout=30).status_code == 200


def test_exact_term_finds_the_acme_chunk(server_url: str) -> None:
    results = search(server_url, "UmssMtaBadMail")
    assert results[0]["product"] == "acme"
    assert "UmssMtaBadMail" in results[0]["text"]


def test_version_filter_returns_only_that_version(server_url: str) -> None:
    results = search(server_url, "routing table", product="acme", version="1.6")
    assert results
    assert {(r["product"], r["version"]) for r in results} == {("acme", "1.6")}


def test_unknown_product_is_400_with_reason(server_url: str) -> None:
    response = get(server_url, "/api/search", q="routing", product="nosuchproduct")
    assert response.status_code == 400
    assert "unknown product 'nosuchproduct'" in response.json()["detail"]


def test_unknown_version_is_400(server_url: str) -> None:
    response = get(server_url, "/api/search", q="routing", product="acme", version="9.9")
    assert response.status_code == 400
    assert "unknown version '9.9'" in response.json()["detail"]


@pytest.mark.parametrize("q", ["", "   "])
def test_empty_query_is_400(server_url: str, q: str) -> None:
    response = get(server_url, "/api/search", q=q)
    assert response.status_code == 400
    assert response.json()["detail"] == "query is empty"


def test_missing_query_is_422_with_reason(server_url: str) -> None:
    response = get(server_url, "/api/search")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


@pytest.mark.parametrize("top_k", ["0", "10000", "-1"])
def test_absurd_top_k_is_400(server_url: str, top_k: str) -> None:
    response = get(server_url, "/api/search", q="routing", top_k=top_k)
    assert response.status_code == 400
    assert "top_k must be between 1 and" in response.json()["detail"]


def test_non_numeric_top_k_is_422(server_url: str) -> None:
    assert get(server_url, "/api/search", q="routing", top_k="many").status_code == 422


# --- records --------------------------------------------------------------------------------------
def test_get_chunk_matches_search_record(server_url: str) -> None:
    hit = search(server_url, "UmssMtaBadMail")[0]
    response = get(server_url, f"/api/chunks/{quote(hit['chunk_id'], safe='')}")
    assert response.status_code == 200
    record = response.json()
    assert record["chunk_id"] == hit["chunk_id"]
    assert record["text"] == hit["text"]
    assert record["url"] == hit["url"] and record["file_url"] == hit["file_url"]
    assert record["score"] is None  # scores belong to search results only


def test_unknown_chunk_is_404(server_url: str) -> None:
    response = get(server_url, "/api/chunks/acme::2.0::admin-guide::admin::999")
    assert response.status_code == 404
    assert "no chunk" in response.json()["detail"]


def test_malformed_chunk_id_is_400(server_url: str) -> None:
    response = get(server_url, "/api/chunks/not-a-chunk-id")
    assert response.status_code == 400
    assert "not a chunk id" in response.json()["detail"]


def test_context_returns_neighbours_in_order(server_url: str, service: Any) -> None:
    source = next(s for s, f in service.index.catalog.files().items() if f.chunks >= 3)
    ids = service.index.catalog.chunk_ids(source)
    middle = ids[1]
    response = get(server_url, f"/api/chunks/{quote(middle, safe='')}/context", before=1, after=1)
    assert response.status_code == 200
    records = response.json()
    assert [r["chunk_id"] for r in records] == ids[0:3]
    assert [r["ordinal"] for r in records] == sorted(r["ordinal"] for r in records)
    assert all(r["url"] and r["file_url"] for r in records)


def test_context_range_is_checked(server_url: str) -> None:
    hit = search(server_url, "UmssMtaBadMail")[0]
    response = get(server_url, f"/api/chunks/{quote(hit['chunk_id'], safe='')}/context", before=500)
    assert response.status_code == 400
    assert "before and after" in response.json()["detail"]


def test_library_listing(server_url: str) -> None:
    listing = get(server_url, "/api/library").json()
    vendors = {v["vendor"]: v for v in listing["vendors"]}
    assert {"Acme Networks", "McDewey project"} <= vendors.keys()
    acme = next(p for p in vendors["Acme Networks"]["products"] if p["product"] == "acme")
    assert {v["version"] for v in acme["versions"]} == {"1.6", "2.0"}
    assert listing["chunks"] > 0
    docs = [d for v in acme["versions"] for d in v["documents"]]
    assert all(d["title"] and d["chunks"] > 0 for d in docs)


def test_healthz(server_url: str) -> None:
    response = get(server_url, "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["chroma"] == "ok" and body["chunks"] > 0


def test_openapi_lists_the_api(server_url: str) -> None:
    spec = get(server_url, "/openapi.json").json()
    assert {"/api/search", "/api/chunks/{chunk_id}", "/api/chunks/{chunk_id}/context", "/api/library",
            "/healthz"} <= spec["paths"].keys()
    assert not any(p.startswith(("/docs/", "/files/", "/chunks/")) for p in spec["paths"])


def test_unknown_route_is_json_404(server_url: str) -> None:
    response = get(server_url, "/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


# --- files and traversal --------------------------------------------------------------------------
TRAVERSALS = [
    "/files/../../../../etc/passwd",
    "/files/acme/../../../../etc/passwd",
    "/files/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/acme/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/files/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/acme/2.0/admin-guide/admin.html%00.pdf",
    "/files/acme/2.0/admin-guide/..%5c..%5c..%5cetc%5cpasswd",
    "/files/.",
    "/files/acme/.hidden",
    "/docs/../../../../etc/passwd",
    "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/docs/..%2f..%2f..%2fetc%2fpasswd",
    "/docs//etc/passwd",
]


def test_library_file_is_served(server_url: str) -> None:
    assert raw_get(server_url, "/files/acme/2.0/admin-guide/admin.html")[0] == 200


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_probes_are_404(server_url: str, path: str) -> None:
    assert raw_get(server_url, path)[0] == 404


@pytest.fixture(scope="module")
def linked_library(service: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the library with one symlink leading out of it and one staying inside."""
    root = tmp_path_factory.mktemp("linked") / "library"
    shutil.copytree(service.library_root, root, symlinks=True)
    secret = root.parent / "secret.txt"
    secret.write_text("TOP-SECRET-OUTSIDE-THE-LIBRARY", encoding="utf-8")
    os.symlink(secret, root / "acme" / "2.0" / "admin-guide" / "leak.txt")
    os.symlink(root.parent, root / "acme" / "2.0" / "admin-guide" / "up")
    os.symlink(root / "acme" / "2.0" / "admin-guide" / "admin.html", root / "acme" / "inside.html")
    return root, secret


def test_symlinks_out_of_the_library_are_404(
    service: Any, start_server: Any, linked_library: tuple[Path, Path]
) -> None:
    from assistant.service import LibraryService
    from assistant.settings import Settings

    root, _ = linked_library
    svc = LibraryService(Settings(library=root, data=service.settings.data, llm="none"), service.index)
    url = start_server(svc)
    assert raw_get(url, "/files/acme/2.0/admin-guide/leak.txt")[0] == 404
    assert raw_get(url, "/files/acme/2.0/admin-guide/up/secret.txt")[0] == 404
    response = httpx.get(f"{url}/files/acme/2.0/admin-guide/admin.html", timeout=30)  # the indexed original
    assert response.status_code == 200 and "UmssMtaBadMail" in response.text
    # a link that stays inside the library but was never indexed is not served either (only indexed files are)
    assert httpx.get(f"{url}/files/acme/inside.html", timeout=30).status_code == 404
    assert "TOP-SECRET" not in httpx.get(f"{url}/files/acme/2.0/admin-guide/leak.txt", timeout=30).text


# --- limits and the token -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/search?q=x", "/mcp", "/"])
def test_oversized_body_is_413(server_url: str, path: str) -> None:
    body = b"x" * (2 * 1024 * 1024)
    response = httpx.post(f"{server_url}{path}", content=body, timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_streamed_oversized_body_is_413(server_url: str) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"y" * 65536

    response = httpx.post(f"{server_url}/mcp", content=chunks(), timeout=60,
                          headers={"content-type": "application/json", "accept": "application/json"})
    assert response.status_code == 413


def test_token_guards_api_and_mcp(start_server: Any) -> None:
    url = start_server(api_token="s3cret-token")
    good = {"Authorization": "Bearer s3cret-token"}
    bad = {"Authorization": "Bearer wrong"}
    assert httpx.get(f"{url}/api/library", timeout=30).status_code == 401
    assert httpx.get(f"{url}/api/library", headers=bad, timeout=30).status_code == 401
    assert httpx.get(f"{url}/api/library", headers={"Authorization": "s3cret-token"}, timeout=30).status_code == 401
    response = httpx.get(f"{url}/api/library", headers=good, timeout=30)
    assert response.status_code == 200 and response.json()["chunks"] > 0
    denied = httpx.post(f"{url}/mcp", json={}, timeout=30)
    assert denied.status_code == 401
    assert "bearer token" in denied.json()["detail"]
    assert denied.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{url}/healthz", timeout=30).json() == {"status": "ok"}  # monitoring stays open, bare


def test_no_stack_trace_in_errors(server_url: str) -> None:
    response = get(server_url, "/api/chunks/" + quote("a::b::c::d::1" * 50, safe=""))
    assert response.status_code in (400, 404)
    assert "Traceback" not in response.text


def test_exposure_warning() -> None:
    from assistant.settings import Settings
    from assistant.surfaces.server import exposure_warning, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert exposure_warning(Settings()) is None
    assert exposure_warning(Settings(api_token="t")) is None
    protected = exposure_warning(Settings(host="0.0.0.0", api_token="t"))  # no silent publish either way
    assert protected and "protected by MCDEWEY_API_TOKEN" in protected and "/login" in protected
    warning = exposure_warning(Settings(host="0.0.0.0"))
    assert warning and "without MCDEWEY_API_TOKEN" in warning and "whole library" in warning


def test_similarity_is_the_cosine_to_the_question_itself(service: Any) -> None:
    """Feedback moves the dense query; `similarity` (what declines rest on) must not move with it."""
    import numpy as np

    question = "Where are letters kept after the postman fails to hand them over?"
    hits = service.search(question, 5)
    vector = service.index.embedder.encode_query(question)
    stored = service.index.store.vectors([h.chunk_id for h in hits])
    assert hits and all(h.similarity is not None for h in hits)
    for hit in hits:
        assert abs(hit.similarity - float(np.dot(stored[hit.chunk_id], vector))) < 1e-3
