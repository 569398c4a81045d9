"""REST: `/api/search`, `/api/chunks/{id}`, `/api/chunks/{id}/context`, `/api/library`, `/healthz`, `/api/ask`.

Thin on purpose: each endpoint calls one LibraryService (or, for `/api/ask`, Answerer) method and wraps
chunks with their links
(`assistant.surfaces.links`), so REST returns exactly what MCP returns. Errors are McDeweyError subclasses,
turned into `{"detail": reason}` with their status by the app's exception handler (server.py).
Ranges are checked by the service, not by FastAPI, so REST and MCP reject a bad value with the same
reason. Endpoints are plain `def`, so FastAPI runs the blocking search (embedding, Chroma) in its threadpool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from assistant.answerer import MAX_ASK_TOP_K, MAX_HISTORY_CHARS, Answerer, Asked
from assistant.answering.results import Timings
from assistant.service import MAX_CONTEXT, MAX_QUERY_CHARS, LibraryListing, LibraryService
from assistant.surfaces.links import ChunkRecord, chunk_records

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


# --- answers --------------------------------------------------------------------------------------

ShortName = Annotated[str, StringConstraints(max_length=64)]


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: Annotated[str, StringConstraints(max_length=MAX_HISTORY_CHARS * 4)]


class AskRequest(BaseModel):
    question: Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS * 4)] = Field(
        description=f"The question (1–{MAX_QUERY_CHARS} characters)"
    )
    product: ShortName | None = Field(default=None, description="Only this product (as listed by /api/library)")
    version: ShortName | None = Field(default=None, description="Only this version")
    history: list[HistoryMessage] = Field(
        default_factory=list, max_length=100,
        description="Earlier turns, oldest first, so a follow-up ('and in 1.6?') is understood",
    )
    top_k: int | None = Field(
        default=None, description=f"Chunks to retrieve, 1–{MAX_ASK_TOP_K} (default MCDEWEY_TOP_K, 8)"
    )


class AskResponse(BaseModel):
    question: str
    query: str = Field(description="What was searched (a follow-up rewritten as a standalone question)")
    answer: str = Field(description="The answer; [n] refers to citations[n-1]")
    citations: list[ChunkRecord] = Field(description="The cited chunks in cited order, with url and file_url")
    declined: bool = Field(description="True when the library does not hold an answer")
    passages: list[ChunkRecord] = Field(
        description="When declined: the closest passages; when the answer is the passages' own words: those"
    )
    note: str | None = Field(description="Why the answer is degraded (model unreachable, cut off, ...)")
    scope: str = Field(description="What was searched, e.g. 'the whole library' or 'Acme 2.0'")
    retrieved: list[str] = Field(description="chunk_ids of everything retrieved, best first")
    llm: str | None = Field(description="The model that wrote the answer; null for retrieval-only")
    timings: Timings


def ask_response(asked: Asked, base_url: str) -> AskResponse:
    """The REST (and `mcdewey ask --json`) shape of an answer: chunks as records with their links."""
    result = asked.result
    return AskResponse(
        question=result.question, query=result.query, answer=result.answer,
        citations=chunk_records(result.citations, base_url), declined=result.declined,
        passages=chunk_records(result.passages, base_url), note=result.note, scope=result.scope,
        retrieved=[c.chunk_id for c in asked.retrieved], llm=result.llm, timings=result.timings,
    )


def ask_router(answerer: Answerer, base_url: str) -> APIRouter:
    """`POST /api/ask`, bound to the app's answerer; `base_url` makes the records' links absolute."""
    router = APIRouter(tags=["answers"])

    @router.post(
        "/api/ask", summary="Answer a question from the library, with citations",
        responses={400: {"description": "Empty or overlong question, unknown product/version, bad history"},
                   401: {"description": "Missing or wrong bearer token (only when MCDEWEY_API_TOKEN is set)"},
                   503: {"description": "The vector store (Chroma) is unreachable"}},
    )
    def ask(request: AskRequest) -> AskResponse:
        """The same pipeline as the chat: retrieve, decline when the library does not hold the answer,
        else answer with `[n]` markers tied to `citations` in code. A model that is down or fails
        mid-answer is not an error: the answer falls back to the passages and `note` says why."""
        asked = answerer.ask(
            request.question, product=request.product, version=request.version,
            history=[m.model_dump() for m in request.history], top_k=request.top_k,
        )
        return ask_response(asked, base_url)

    return router
