"""A TEST ADAPTER that speaks the Ollama HTTP protocol in front of the embedded llama.cpp model.

No Ollama server can be installed here, yet `MCDEWEY_LLM=ollama:<model>` must be tested through the
unmodified `ollama` client and `llama-index-llms-ollama`. This adapter answers the subset of the
Ollama API those clients use — `GET /api/tags`, `POST /api/show`, `POST /api/chat`,
`POST /api/generate` (streaming NDJSON or one JSON object), `GET /api/version`, `GET /` — by
running the request on a `ChatLLM` (normally `assistant.llm.EmbeddedLLM`), and `POST /api/embed` on
a real embedding model when one is given (`serve(..., embedder=)`: the packaged MiniLM, for
`MCDEWEY_EMBED_MODEL=ollama:<model>`). It is not Ollama: no model management, templates or tools, and
`options` other than `num_predict` are ignored.

It runs in-process on a free loopback port (`serve()`), for the duration of a pytest fixture.
`fail_after=N` makes every generation report an error after N deltas, the way Ollama reports a
failure mid-stream (an `{"error": ...}` line), to exercise that path for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.llm import ChatLLM, LLMError

DEFAULT_NUM_PREDICT = 128


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _AdapterServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    # -- plumbing ---------------------------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_ndjson(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _line(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_ndjson(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}")

    # -- routes -----------------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/":
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/api/version":
            self._json(200, {"version": "0.0.0-mcdewey-test-adapter"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [self.server.model_entry()]})
        else:
            self._json(404, {"error": f"{self.path} is not served by the test adapter"})

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/api/show":
            if self._known(body.get("model") or body.get("name")):
                self._json(200, self.server.show())
        elif self.path == "/api/chat":
            if self._known(body.get("model")):
                messages = [{"role": m["role"], "content": m.get("content") or ""} for m in body.get("messages", [])]
                self._generate(body, messages, key="message")
        elif self.path == "/api/embed" and self.server.embedder is not None:
            if self._known(body.get("model")):
                texts = body.get("input") or []
                texts = [texts] if isinstance(texts, str) else list(texts)
                vectors = self.server.embedder.encode(texts)  # (`ollama` client: list of lists, unnormalised ok)
                self._json(200, {"model": body.get("model"), "embeddings": (vectors * 3.0).tolist()})
        elif self.path == "/api/generate":
            if self._known(body.get("model")):
                messages = [{"role": "system", "content": body["system"]}] if body.get("system") else []
                messages.append({"role": "user", "content": body.get("prompt") or ""})
                self._generate(body, messages, key="response")
        else:
            self._json(404, {"error": f"{self.path} is not served by the test adapter"})

    def _known(self, model: str | None) -> bool:
        if model in self.server.names():
            return True
        self._json(404, {"error": f"model '{model}' not found"})
        return False

    def _generate(self, body: dict[str, Any], messages: list[dict[str, str]], key: str) -> None:
        options = body.get("options") or {}
        max_tokens = int(options.get("num_predict") or DEFAULT_NUM_PREDICT)
        stream = body.get("stream", True)
        started = time.monotonic_ns()

        def piece(text: str) -> Any:
            return {"role": "assistant", "content": text} if key == "message" else text

        def final(text: str, count: int) -> dict[str, Any]:
            return {
                "model": body["model"], "created_at": _now(), key: piece(text), "done": True,
                "done_reason": "length" if count >= max_tokens else "stop",
                "total_duration": time.monotonic_ns() - started, "load_duration": 0,
                "prompt_eval_count": 0, "eval_count": count, "eval_duration": time.monotonic_ns() - started,
            }

        deltas = self.server.llm.stream(messages, max_tokens)
        if not stream:
            try:
                parts = list(deltas)
            except LLMError as exc:
                self._json(500, {"error": exc.reason})
                return
            self._json(200, final("".join(parts), len(parts)))
            return
        self._start_ndjson()
        count = 0
        try:
            for delta in deltas:
                if self.server.fail_after is not None and count >= self.server.fail_after:
                    raise LLMError("injected failure (fail_after)")
                count += 1
                self._line({"model": body["model"], "created_at": _now(), key: piece(delta), "done": False})
        except LLMError as exc:
            self._line({"error": exc.reason})
        except (BrokenPipeError, ConnectionResetError):  # the client left: stop generating, as Ollama does
            self.close_connection = True
            return
        else:
            self._line(final("", count))
        finally:
            close = getattr(deltas, "close", None)
            if close:
                close()
        self._end_ndjson()


class _AdapterServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, llm: ChatLLM, model: str, fail_after: int | None, embedder: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.llm = llm
        self.embedder = embedder
        self.model = model
        self.fail_after = fail_after

    def names(self) -> set[str]:
        """Ollama accepts a name with or without the default ':latest' tag."""
        base = self.model.removesuffix(":latest")
        return {base, f"{base}:latest", self.model}

    def model_entry(self) -> dict[str, Any]:
        return {
            "name": self.model, "model": self.model, "modified_at": _now(), "size": 0,
            "digest": "0" * 64, "details": self._details(),
        }

    def _details(self) -> dict[str, Any]:
        return {"format": "gguf", "family": "llama", "families": ["llama"], "parameter_size": "135M",
                "quantization_level": "Q4_1"}

    def show(self) -> dict[str, Any]:
        return {
            "modelfile": f"# test adapter in front of {self.llm.name}", "parameters": "", "template": "",
            "details": self._details(),
            "model_info": {"general.architecture": "llama", "llama.context_length": 4096},
            "capabilities": ["completion"],
        }


@contextmanager
def serve(llm: ChatLLM | None, model: str = "smollm2:135m", fail_after: int | None = None,
          embedder: Any = None) -> Iterator[str]:
    """Run the adapter on a free 127.0.0.1 port; yields its base URL (e.g. http://127.0.0.1:41234)."""
    server = _AdapterServer(llm, model, fail_after, embedder)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name="ollama-test-adapter", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
