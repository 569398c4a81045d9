"""`openai:<model>`: a chat model behind any OpenAI-compatible server, streamed over HTTP.

llama.cpp's `llama-server`, vLLM, LM Studio, LocalAI and hosted services all answer
`POST <base>/chat/completions` with `"stream": true` as server-sent events (`data: {json}` lines,
ended by `data: [DONE]`). This module speaks that one route with httpx, so no client library is
needed, and maps what goes wrong onto the errors the answer pipeline already turns into a note:
`LLMUnavailable` before the first token (unreachable, unknown model, a refused key: the message
names the setting to fix), `LLMFailed` after it (an error mid-stream, `llm_timeout`).

The API key (`MCDEWEY_OPENAI_API_KEY`) is sent as `Authorization: Bearer <key>` and never appears in
an error, a name or a log: a server that echoes it back has it replaced by `***`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from assistant.llm import LLMFailed, LLMUnavailable

# llama.cpp's `llama-server` listens on 8080 and serves the API under /v1: the one such server that
# installs here (xllamacpp). vLLM's default port, 8000, is McDewey's own: defaulting to it would point
# McDewey at itself.
DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
BASE_URL_FORM = "expected http(s)://host[:port][/path], e.g. http://127.0.0.1:8080/v1"
_BASE_URL = re.compile(r"https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?(?:/[^\s?#@]*)?")
MAX_REASON_CHARS = 200  # of a server's own error message, quoted in ours


def check_base_url(value: str) -> str:
    """`value` without a trailing slash, or ValueError saying what form is expected.

    Credentials in the URL (`http://user:key@host`) are refused: the key goes in MCDEWEY_OPENAI_API_KEY,
    which is never shown."""
    url = value.strip().rstrip("/")
    if "@" in url.split("/", 3)[2 if "://" in url else 0]:
        raise ValueError("put the key in MCDEWEY_OPENAI_API_KEY, not in the URL")
    if not _BASE_URL.fullmatch(url):
        raise ValueError(BASE_URL_FORM)
    port = re.search(r":(\d+)(?:/|$)", url.split("://", 1)[1])
    if port and not 0 < int(port.group(1)) < 65536:
        raise ValueError(f"port {port.group(1)} is out of range; {BASE_URL_FORM}")
    return url


def _server_reason(body: bytes) -> str:
    """The message of an OpenAI-style error body (`{"error": {"message": ...}}`, or vLLM's older
    `{"message": ...}`), else the start of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:MAX_REASON_CHARS]
    error = data.get("error", data) if isinstance(data, dict) else data
    message = error.get("message", error) if isinstance(error, dict) else error
    return str(message).strip()[:MAX_REASON_CHARS]


class OpenAIChatLLM:
    """A model served over the OpenAI chat-completions protocol. Construction does no I/O."""

    # The same budget as an Ollama model: a real model gets whole chunks (see assistant/llm.py).
    prompt_budget = 2000
    rewrites_questions = True
    # Asked to end each sentence with its passage's own words (prompts/system_quoted.md): a capable
    # model's paraphrases otherwise all fail the check (support set: 0 of 49 kept).
    quotes_passages = True

    def __init__(self, model: str, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 timeout: float = 120.0) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self._api_key = api_key or None
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the key
        return f"OpenAIChatLLM(model={self.model!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the pooled HTTP connections (the server-wide instance lives as long as the process)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> Any:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                self._client = httpx.Client(
                    headers=headers, timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)))
            return self._client

    def _hide(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _refused(self, status: int, body: bytes) -> LLMUnavailable:
        """The reason a server refused the request before streaming, naming the setting to fix."""
        reason = self._hide(_server_reason(body))
        where = f"the server at {self.base_url}"
        if status in (401, 403):
            fix = ("set MCDEWEY_OPENAI_API_KEY to a key it accepts" if self._api_key
                   else "it needs a key: set MCDEWEY_OPENAI_API_KEY")
            return LLMUnavailable(f"{where} refused the API key ({status}: {reason}); {fix}")
        if status == 404:
            return LLMUnavailable(
                f"{where} has no model {self.model!r} or no /chat/completions route ({status}: {reason}); "
                "check the model in MCDEWEY_LLM and MCDEWEY_OPENAI_BASE_URL (it usually ends in /v1)")
        return LLMUnavailable(f"{where} answered {status}: {reason}")

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        import httpx

        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "stream": True,
                "temperature": 0.0}  # reproducible answers, as with the other backends
        deadline = time.monotonic() + self.timeout
        produced = False
        try:
            with self._http().stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                if response.status_code != 200:
                    raise self._refused(response.status_code, response.read())
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise LLMFailed(f"no complete answer within {self.timeout:g} s")
                    data = line[5:].strip() if line.startswith("data:") else ""
                    if not data:
                        continue  # blank separators, comments (": ping"), event names
                    if data == "[DONE]":
                        return
                    event = json.loads(data)
                    if isinstance(event, dict) and "error" in event:
                        reason = self._hide(_server_reason(data.encode()))
                        raise (LLMFailed if produced else LLMUnavailable)(f"the server at {self.base_url}: {reason}")
                    for choice in event.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            produced = True
                            yield text
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise LLMUnavailable(f"cannot reach the server at {self.base_url} ({type(exc).__name__}); "
                                 "check MCDEWEY_OPENAI_BASE_URL") from exc
        except httpx.TimeoutException as exc:
            raise LLMFailed(f"no complete answer within {self.timeout:g} s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise (LLMFailed if produced else LLMUnavailable)(
                f"the server at {self.base_url}: {type(exc).__name__}") from exc
        except ValueError as exc:  # a line that is not JSON: not an OpenAI-compatible stream
            raise (LLMFailed if produced else LLMUnavailable)(
                f"the server at {self.base_url} sent something other than an OpenAI-style event stream") from exc
