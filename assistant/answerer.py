"""The one way to ask the library: every surface that answers questions calls only this.

The chat, `POST /api/ask`, `mcdewey ask`, `mcdewey eval --answers` and the bench reach the answer
pipeline (`assistant.answering`) through `Answerer.ask`, `stream_ask` or `astream_ask`, so they give
the same answer, citations and declines for the same question, and reject the same bad input with
the same reason. The `Answerer` checks the question, the history, the filters and the top-k cap,
holds the process's one model (`model`), and runs the pipeline over `LibraryService.search`. It sits
beside the service (searching and reading records), built on it by whichever surface answers.

It is also where answers queue (`assistant.answering.admission`): at most `MCDEWEY_MAX_ANSWERS` run at
once and `MCDEWEY_ANSWER_QUEUE` more wait; beyond that an ask is refused at once with `Busy` (REST: 503
with `Retry-After`), so a burst of questions cannot starve searches, pages, MCP and /healthz.

Nothing heavy is imported here: the model loads on first use, or in the background at server start
(`warm`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from assistant.answering.admission import AnswerSlots, GatedStream
from assistant.answering.bridge import iterate_in_thread
from assistant.answering.pipeline import SearchFn, stream_answer
from assistant.answering.results import AnswerEvent, AnswerResult, Final, Retrieved
from assistant.answering.verify import Similarity
from assistant.errors import BadRequest
from assistant.llm import ChatLLM, LLMError, make_llm
from assistant.service import MAX_QUERY_CHARS, LibraryService
from assistant.settings import Settings
from indexing.chunk import Chunk
from indexing.embedder import Embedder
from indexing.index import Index

log = logging.getLogger("mcdewey.ask")

MAX_HISTORY_MESSAGES = 20  # more than a follow-up needs; condensing reads the last few only
MAX_HISTORY_CHARS = 4000  # per message: an answer with its citations fits easily
MAX_ASK_TOP_K = 20
MAX_NAMED_PRODUCTS = 12  # a decline names at most this many products it searched


# --- the model: one per process -------------------------------------------------------------------

_MODELS: dict[tuple[str, ...], ChatLLM | None] = {}
_MODELS_LOCK = threading.Lock()


def shared_model(settings: Settings) -> ChatLLM | None:
    """The model `settings.llm` names, made once per process and shared by every surface.

    Never loads or connects: the embedded model loads on its first answer (or `Answerer.warm`).
    """
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    key = (str(settings.llm), str(settings.llm_threads), str(settings.llm_timeout), settings.ollama_host,
           settings.openai_base_url, secret)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = make_llm(settings)
        return _MODELS[key]


def embedding_similarity(source: Embedder | Index) -> Similarity:
    """cosine(sentence, candidates) under the index's own embedding model (its vectors are unit length):
    the model that wrote the served vectors when given the index (`Index.query_embedder`, read at each call)."""

    def similarity(sentence: str, candidates: Sequence[str]) -> list[float]:
        embedder = source.query_embedder() if isinstance(source, Index) else source
        vectors = embedder.encode([sentence, *candidates])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    return similarity


@dataclass(frozen=True)
class Asked:
    """A question answered to the end: the result every surface renders, and everything retrieved."""

    result: AnswerResult
    retrieved: list[Chunk]


class Answerer:
    """Answers questions from one service's library with the process's model."""

    def __init__(self, service: LibraryService, settings: Settings | None = None) -> None:
        """`settings` (which model, top-k) default to the service's; the bench passes others to
        compare a model with none over one index."""
        self.service = service
        self.settings = settings or service.settings
        self.slots = AnswerSlots(self.settings.max_answers, self.settings.answer_queue)

    @property
    def model(self) -> ChatLLM | None:
        return shared_model(self.settings)

    @property
    def default_top_k(self) -> int:
        """How many chunks a question retrieves unless it says otherwise: MCDEWEY_TOP_K, capped."""
        return max(1, min(self.settings.top_k, MAX_ASK_TOP_K))

    # --- the entry points ------------------------------------------------------------------------
    def stream_ask(
        self, question: str, *, product: str | None = None, version: str | None = None,
        history: Sequence[dict[str, str]] = (), top_k: int | None = None, doc: str | None = None,
    ) -> GatedStream[AnswerEvent]:
        """`Retrieved`, then `Delta`*, then one `Final`.

        The input is checked here, before the first event: BadRequest for an empty or overlong
        question, bad history, unknown product/version or top_k out of range; then the answer takes
        a place (running or in line), or Busy is raised at once when every place is taken. The first
        event waits for a free slot; the slot is freed when the stream ends or is closed. The
        service's errors (Unavailable when Chroma is down) come from the stream. A model that fails is
        not an error: the answer falls back to the passages and its note says why.
        """
        question = check_question(question)
        turns = check_history(history)
        self.service.validate_filters(product, version, doc)
        k = self.default_top_k if top_k is None else top_k
        if not 1 <= k <= MAX_ASK_TOP_K:
            raise BadRequest(f"top_k must be between 1 and {MAX_ASK_TOP_K}, not {k}")
        return self.slots.admit(lambda: stream_answer(  # runs once a slot is free (the first event)
            question, search=self._search if not doc else self._in_doc(product, version, doc), llm=self.model,
            history=turns,
            product=product or None, version=version or None, top_k=k,
            similarity=embedding_similarity(self.service.index), following=self._following,
            holdings=self._holdings(),
        ))

    def ask(
        self, question: str, *, product: str | None = None, version: str | None = None,
        history: Sequence[dict[str, str]] = (), top_k: int | None = None, doc: str | None = None,
    ) -> Asked:
        """`stream_ask` run to the end (CLI, evaluation), in the calling thread."""
        retrieved: list[Chunk] = []
        events = self.stream_ask(question, product=product, version=version, history=history, top_k=top_k,
                                 doc=doc)
        try:
            for event in events:
                if isinstance(event, Retrieved):
                    retrieved = list(event.chunks)
                elif isinstance(event, Final):
                    return Asked(event.result, retrieved)
        finally:
            events.close()  # the slot is free as soon as the answer is
        raise RuntimeError("the answer pipeline ended without a result")  # pragma: no cover - a bug

    def astream_ask(
        self, question: str, *, product: str | None = None, version: str | None = None,
        history: Sequence[dict[str, str]] = (), top_k: int | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        """`stream_ask` for async callers (Chainlit, REST): the input is checked and the place taken
        now (BadRequest, Busy), the work runs in a thread, and leaving the loop early (client gone)
        takes a waiting answer out of the line, or stops a running one at its next token."""
        events = self.stream_ask(question, product=product, version=version, history=history, top_k=top_k)
        return iterate_in_thread(lambda: events, on_leave=events.cancel)

    def warm(self) -> threading.Thread | None:
        """Load the embedded model in the background (server start), so the first question is not slow.

        Other backends have nothing to load here (Ollama is asked only when a question comes).
        Failures are logged: the first question reports them as the answer's note.
        """
        model = self.model
        load = getattr(model, "load", None)
        if load is None:
            return None

        def run() -> None:
            try:
                load()
                log.info("language model %s loaded", getattr(model, "name", "?"))
            except LLMError as exc:
                log.warning("language model not loaded: %s", exc.reason)
            except Exception as exc:  # a broken model must not take the server down
                log.warning("language model not loaded: %s: %s", type(exc).__name__, exc)

        thread = threading.Thread(target=run, name="mcdewey-llm-warm-up", daemon=True)
        thread.start()
        return thread

    def _holdings(self) -> str:
        """'bind9 9.18, haproxy 2.6, …': the products and versions a decline says it searched (kept
        until the next ingest publishes)."""

        def build(_catalog: object) -> str:
            listing = self.service.list_library()
            held = sorted(f"{p.product} {', '.join(v.version for v in p.versions)}"
                          for vendor in listing.vendors for p in vendor.products)
            return ", ".join(held[:MAX_NAMED_PRODUCTS]) + (", …" if len(held) > MAX_NAMED_PRODUCTS else "")

        return str(self.service.index.derived("holdings", build))

    def _search(self, query: str, top_k: int, product: str | None, version: str | None) -> list[Chunk]:
        return self.service.search(query, top_k, product, version)

    def _in_doc(self, product: str | None, version: str | None, doc: str) -> SearchFn:
        """A search held to one document: a product or version the question names does not move it."""
        return lambda query, top_k, _product, _version: self.service.search(query, top_k, product, version, doc)

    def _following(self, chunk: Chunk) -> Chunk | None:
        """The next chunk of the same document (a lead-in's payoff may start there)."""
        after = self.service.get_context(chunk.chunk_id, 0, 1)
        return after[-1] if len(after) > 1 else None


async def gather_answer(events: AsyncIterator[AnswerEvent]) -> Asked:
    """`astream_ask`'s events run to the end (REST); cancelling the awaiting task stops the answer."""
    retrieved: list[Chunk] = []
    try:
        async for event in events:
            if isinstance(event, Retrieved):
                retrieved = list(event.chunks)
            elif isinstance(event, Final):
                return Asked(event.result, retrieved)
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    raise RuntimeError("the answer pipeline ended without a result")  # pragma: no cover - a bug


# --- input checks ---------------------------------------------------------------------------------


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
