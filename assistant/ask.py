"""Asking the library: the glue between the answer pipeline and its surfaces (REST, CLI; the chat too).

`POST /api/ask`, `mcdewey ask` and the Chainlit chat all run `assistant.answer.stream_answer` over
`LibraryService.search` with the one model this process holds (`get_llm`), so the three give the
same answer, citations and declines for the same question. Citations leave here as chunk records
(`assistant.links`), like search results: each has `url` (the passage in its document's context)
and `file_url` (the original file at that page).

Nothing heavy is imported here: the model loads on first use, or in the background at server start
(`warm_llm`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from assistant.answer import AnswerResult, Final, Retrieved, SearchFn, Timings, stream_answer
from assistant.errors import BadRequest, McDeweyError
from assistant.links import ChunkRecord, chunk_records, doc_href, file_href
from assistant.llm import ChatLLM, LLMError, make_llm, ollama_base_url
from assistant.service import MAX_QUERY_CHARS
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.service import LibraryService

log = logging.getLogger("mcdewey.ask")

MAX_HISTORY_MESSAGES = 20  # more than a follow-up needs; condensing reads the last few only
MAX_HISTORY_CHARS = 4000  # per message: an answer with its citations fits easily
MAX_ASK_TOP_K = 20


# --- the model: one per process -------------------------------------------------------------------

_LLMS: dict[tuple[str, ...], ChatLLM | None] = {}
_LLMS_LOCK = threading.Lock()


def _llm_key(settings: Settings) -> tuple[str, ...]:
    spec = settings.llm.strip()
    key = (spec, str(settings.llm_threads), str(settings.llm_timeout))
    if spec.startswith("ollama:"):
        key += (ollama_base_url(),)  # OLLAMA_HOST is read when the client is made
    return key


def get_llm(settings: Settings) -> ChatLLM | None:
    """The model `settings.llm` names, made once per process and shared by every surface.

    Raises ValueError for a malformed `MCDEWEY_LLM` (as `make_llm` does). Never loads or connects.
    """
    key = _llm_key(settings)
    with _LLMS_LOCK:
        if key not in _LLMS:
            _LLMS[key] = make_llm(settings)
        return _LLMS[key]


def warm_llm(settings: Settings) -> threading.Thread | None:
    """Load the embedded model in the background (server start), so the first question is not slow.

    Other backends have nothing to load here (Ollama is asked only when a question comes).
    Failures are logged: the first question reports them as the answer's note.
    """
    try:
        llm = get_llm(settings)
    except ValueError as exc:
        log.warning("%s", exc)
        return None
    load = getattr(llm, "load", None)
    if load is None:
        return None

    def run() -> None:
        try:
            load()
            log.info("language model %s loaded", getattr(llm, "name", "?"))
        except LLMError as exc:
            log.warning("language model not loaded: %s", exc.reason)
        except Exception as exc:  # a broken model must not take the server down
            log.warning("language model not loaded: %s: %s", type(exc).__name__, exc)

    thread = threading.Thread(target=run, name="mcdewey-llm-warm-up", daemon=True)
    thread.start()
    return thread


# --- validation -----------------------------------------------------------------------------------


def search_fn(service: LibraryService) -> SearchFn:
    """The service's search in the shape the pipeline takes."""

    def search(query: str, top_k: int, product: str | None, version: str | None) -> list[Any]:
        return service.search(query, top_k, product, version)

    return search


def default_top_k(settings: Settings) -> int:
    """How many chunks a question retrieves unless it says otherwise: MCDEWEY_TOP_K, capped."""
    return max(1, min(settings.top_k, MAX_ASK_TOP_K))


def check_question(question: str) -> str:
    """The question stripped; BadRequest when it is empty or absurdly long (same limits as search)."""
    question = (question or "").strip()
    if not question:
        raise BadRequest("question is empty")
    if len(question) > MAX_QUERY_CHARS:
        raise BadRequest(f"question is longer than {MAX_QUERY_CHARS} characters")
    return question


def check_history(history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Earlier turns as {"role": "user"|"assistant", "content": str}; the last MAX_HISTORY_MESSAGES."""
    out: list[dict[str, str]] = []
    for turn in list(history)[-MAX_HISTORY_MESSAGES:]:
        role, content = turn.get("role"), turn.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str):
            raise BadRequest("history items must be {\"role\": \"user\" or \"assistant\", \"content\": text}")
        out.append({"role": role, "content": content[:MAX_HISTORY_CHARS]})
    return out


def run_answer(
    service: LibraryService,
    settings: Settings,
    question: str,
    *,
    product: str | None = None,
    version: str | None = None,
    history: Sequence[dict[str, str]] = (),
    top_k: int | None = None,
) -> tuple[AnswerResult, list[str]]:
    """Validate, then run the pipeline to the end: (result, ids of the chunks retrieved).

    Raises BadRequest for bad input (before any search or model call) and the service's errors
    (e.g. Unavailable when Chroma is down). Model failures are not errors: they are the note.
    """
    question = check_question(question)
    service.validate_filters(product, version, None)
    k = default_top_k(settings) if top_k is None else top_k
    if not 1 <= k <= MAX_ASK_TOP_K:
        raise BadRequest(f"top_k must be between 1 and {MAX_ASK_TOP_K}, not {k}")
    retrieved: list[str] = []
    result: AnswerResult | None = None
    events = stream_answer(
        question, search=search_fn(service), llm=get_llm(settings), history=check_history(history),
        product=product or None, version=version or None, top_k=k,
    )
    for event in events:
        if isinstance(event, Retrieved):
            retrieved = [c.chunk_id for c in event.chunks]
        elif isinstance(event, Final):
            result = event.result
    if result is None:  # pragma: no cover - stream_answer always ends with Final
        raise RuntimeError("the answer pipeline ended without a result")
    return result, retrieved


# --- REST -----------------------------------------------------------------------------------------

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


def ask_response(result: AnswerResult, retrieved: list[str], base_url: str) -> AskResponse:
    return AskResponse(
        question=result.question, query=result.query, answer=result.answer,
        citations=chunk_records(result.citations, base_url), declined=result.declined,
        passages=chunk_records(result.passages, base_url), note=result.note, scope=result.scope,
        retrieved=retrieved, llm=result.llm, timings=result.timings,
    )


def ask_router(service: LibraryService, settings: Settings) -> APIRouter:
    """`POST /api/ask`, bound to one service and the app's settings (which model, which base URL)."""
    router = APIRouter(tags=["answers"])
    base_url = settings.base_url()

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
        result, retrieved = run_answer(
            service, settings, request.question, product=request.product, version=request.version,
            history=[m.model_dump() for m in request.history], top_k=request.top_k,
        )
        return ask_response(result, retrieved, base_url)

    return router


# --- CLI ------------------------------------------------------------------------------------------


def format_answer(result: AnswerResult, base_url: str) -> str:
    """The answer as plain text for a terminal: text, note, then the sources with their links."""
    lines = [result.answer]
    if result.note and not result.declined:
        lines += ["", f"Note: {result.note}"]
    if result.query != result.question:
        lines += ["", f"Searched for: {result.query} (in {result.scope})"]
    listed = result.citations if result.citations else result.passages
    if listed:
        lines += ["", "Sources:" if result.citations else "Closest passages:"]
        for n, chunk in enumerate(listed, 1):
            where = " · ".join(x for x in (chunk.doc_title, chunk.version, chunk.pages_text(),
                                           " › ".join(chunk.heading)) if x)
            lines.append(f"[{n}] {where}")
            lines.append(f"    {doc_href(chunk.source, chunk.page, chunk.chunk_id, base_url)}")
            lines.append(f"    {file_href(chunk.source, chunk.page, base_url)}")
    return "\n".join(lines)


def ask_cli(settings: Settings, question: str, product: str | None, version: str | None, as_json: bool) -> int:
    """`mcdewey ask`: 0 with an answer (or a decline), 2 for bad input or an unreachable index."""
    from assistant.service import LibraryService

    try:
        service = LibraryService(settings)
        result, retrieved = run_answer(service, settings, question, product=product, version=version)
    except McDeweyError as exc:
        print(f"mcdewey ask: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a malformed MCDEWEY_LLM
        print(f"mcdewey ask: {exc}", file=sys.stderr)
        return 2
    base_url = settings.base_url()
    if as_json:
        print(json.dumps(ask_response(result, retrieved, base_url).model_dump(mode="json"), indent=2,
                         ensure_ascii=False))
    else:
        print(format_answer(result, base_url))
    return 0
