"""REST: `/api/search`, `/api/chunks/{id}`, `/api/chunks/{id}/context`, `/api/library`, `/healthz`.

Thin on purpose: each endpoint calls one LibraryService method and wraps chunks with their links
(`assistant.links`), so REST returns exactly what MCP returns. Errors are McDeweyError subclasses,
turned into `{"detail": reason}` with their status by the app's exception handler (server.py).
Ranges are checked by the service, not by FastAPI, so REST and MCP reject a bad value with the same
reason. Endpoints are plain `def`, so FastAPI runs the blocking search (embedding, Chroma) in its threadpool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from assistant.links import ChunkRecord, chunk_records
from assistant.service import MAX_CONTEXT, MAX_QUERY_CHARS, LibraryListing, LibraryService

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (empty query, absurd top_k, unknown product/version/doc); see detail"},
    401: {"description": "Missing or wrong bearer token (only when MCDEWEY_API_TOKEN is set)"},
    404: {"description": "No such chunk"},
    503: {"description": "The vector store (Chroma) is unreachable"},
}

Filter = Annotated[str | None, Query(description="Only this one (exact name, as listed by /api/library)")]


def api_router(service: LibraryService, base_url: str) -> APIRouter:
    """The REST endpoints bound to one service; `base_url` makes the records' links absolute."""
    router = APIRouter(tags=["library"], responses=ERRORS)

    @router.get("/api/search", summary="Hybrid search (dense + BM25) over the library")
    def search(
        q: Annotated[str, Query(description=f"The question or terms (1–{MAX_QUERY_CHARS} characters)")],
        top_k: Annotated[int | None, Query(description="Number of chunks (default 8)")] = None,
        product: Filter = None,
        version: Filter = None,
        doc: Filter = None,
    ) -> list[ChunkRecord]:
        """Chunks best first; each carries `url` (its doc-context page) and `file_url` to cite it."""
        return chunk_records(service.search(q, top_k, product, version, doc), base_url)

    @router.get("/api/chunks/{chunk_id}", summary="One chunk by id")
    def get_chunk(chunk_id: str) -> ChunkRecord:
        return chunk_records([service.get_chunk(chunk_id)], base_url)[0]

    @router.get("/api/chunks/{chunk_id}/context", summary="A chunk with its neighbours, in document order")
    def get_context(
        chunk_id: str,
        before: Annotated[int, Query(description=f"Chunks before it, 0–{MAX_CONTEXT}")] = 1,
        after: Annotated[int, Query(description=f"Chunks after it, 0–{MAX_CONTEXT}")] = 1,
    ) -> list[ChunkRecord]:
        return chunk_records(service.get_context(chunk_id, before, after), base_url)

    @router.get("/api/library", summary="Vendors → products → versions → documents, with chunk counts")
    def library() -> LibraryListing:
        return service.list_library()

    @router.get("/healthz", summary="200 when the index and Chroma answer, 503 with the reason otherwise",
                tags=["health"], responses={503: {"description": "Chroma is unreachable"}})
    def healthz() -> JSONResponse:
        status = service.health()
        return JSONResponse(status, status_code=200 if status.get("status") == "ok" else 503)

    return router
