"""REST: `/api/search`, `/api/chunks/{id}`, `/api/chunks/{id}/context`, `/api/library`, `/healthz`, `/api/ask`.

Thin on purpose: each endpoint calls one LibraryService (or, for `/api/ask`, Answerer) method and wraps
chunks with their links
(`assistant.surfaces.links`), so REST returns exactly what MCP returns. Errors are McDeweyError subclasses,
turned into `{"detail": reason}` with their status by the app's exception handler (server.py).
Ranges are checked by the service, not by FastAPI, so REST and MCP reject a bad value with the same
reason. Endpoints are plain `def`, so FastAPI runs them in its threadpool, but for the search (embedding,
Chroma), which runs in the search lane's threads (`search_lane`);
`/api/ask` is async and waits for its answer without holding a threadpool thread: a burst of questions
queues (or is refused with 503 and Retry-After) in the Answerer, and the searches keep their threads. A
client that goes away stops its answer (checked every DISCONNECT_POLL_S).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from assistant.answerer import MAX_ASK_TOP_K, MAX_HISTORY_CHARS, Answerer, Asked, gather_answer
from assistant.answering.results import Timings
from assistant.service import MAX_CONTEXT, MAX_QUERY_CHARS, LibraryListing, LibraryService
from assistant.surfaces.access import is_authorized
from assistant.surfaces.links import ChunkRecord, chunk_records
from assistant.surfaces.search_lane import searching

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (empty query, absurd top_k, unknown product/version/doc); see detail"},
    401: {"description": "Missing or wrong bearer token (only when MCDEWEY_API_TOKEN is set)"},
    404: {"description": "No such chunk"},
    503: {"description": "The vector store (Chroma) is unreachable"},
}

Filter = Annotated[str | None, Query(description="Only this one (exact name, as listed by /api/library)")]
DISCONNECT_POLL_S = 0.25
CLIENT_GONE = 499  # nginx's "client closed request": logged, never seen by the client


def api_router(service: LibraryService, base_url: str) -> APIRouter:
    """The REST endpoints bound to one service; `base_url` makes the records' links absolute."""
    router = APIRouter(tags=["library"], responses=ERRORS)

    @router.get("/api/search", summary="Hybrid search (dense + BM25) over the library")
    async def search(
        q: Annotated[str, Query(description=f"The question or terms (1–{MAX_QUERY_CHARS} characters)")],
        top_k: Annotated[int | None, Query(description="Number of chunks (default 8)")] = None,
        product: Filter = None,
        version: Filter = None,
        doc: Filter = None,
    ) -> list[ChunkRecord]:
        """Chunks best first; each carries `url` (its doc-context page) and `file_url` to cite it."""
        found = await searching(lambda: service.search(q, top_k, product, version, doc))
        return chunk_records(found, base_url)

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
                tags=["health"], responses={503: {"description": "Chroma is unreachable, or a part of the index "
                                                                 "lags its catalog (`reason`)"}})
    def healthz(request: Request) -> JSONResponse:
        """The index served now: `generation` (the latest published, the one searches use), `chunks`,
        `vectors` (in Chroma), `current` (keyword index and vectors agree with the catalog), `chroma`.
        Without the token (when MCDEWEY_API_TOKEN is set) only `{"status": ...}`: no path, no counts."""
        status = service.health()
        code = 200 if status.get("status") == "ok" else 503
        return JSONResponse(status if is_authorized(request) else {"status": status.get("status")}, status_code=code)

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
        "/api/ask", summary="Answer a question from the library, with citations", response_model=AskResponse,
        responses={400: {"description": "Empty or overlong question, unknown product/version, bad history"},
                   401: {"description": "Missing or wrong bearer token (only when MCDEWEY_API_TOKEN is set)"},
                   503: {"description": "Busy (every answer slot and queue place taken: retry after the "
                                        "`Retry-After` header's seconds), or the vector store is unreachable"}},
    )
    async def ask(body: AskRequest, request: Request) -> Any:
        """The same pipeline as the chat: retrieve, decline when the library does not hold the answer,
        else answer with `[n]` markers tied to `citations` in code. A model that is down or fails
        mid-answer is not an error: the answer falls back to the passages and `note` says why. When
        MCDEWEY_MAX_ANSWERS answers run and MCDEWEY_ANSWER_QUEUE wait, the ask is refused at once: 503
        with `Retry-After`."""
        events = await run_in_threadpool(  # the checks read the catalog; Busy or BadRequest from here
            answerer.astream_ask, body.question, product=body.product, version=body.version,
            history=[m.model_dump() for m in body.history], top_k=body.top_k,
        )
        asked = await unless_gone(request, gather_answer(events))
        if asked is None:
            return Response(status_code=CLIENT_GONE)
        return ask_response(asked, base_url)

    return router


async def unless_gone(request: Request, work: Any) -> Any:
    """Await `work`; None, with `work` cancelled, as soon as the client disconnects."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if not task.done() and await request.is_disconnected():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return None
        return task.result()
    finally:
        task.cancel()  # the endpoint itself was cancelled (server shutting down): stop the answer too
