"""Malformed JSON bodies on `/api/…` and `/mcp` get a 400 with a reason a client can act on.

Each of these answered 500 with a traceback in the log (issue 24): bytes that are not UTF-8 in an MCP
body (the SDK's `json.loads` raises UnicodeDecodeError, which it does not catch); 200,000 nested `[`
(~400 KB, under the body limit: RecursionError); a lone surrogate (`"\\ud800"`, half of a UTF-16 pair,
no character) in `/api/ask`, whose 422 then failed to encode, and in `search_docs`, which answered
with the tokenizer's internals. A JSON-RPC request whose `id` is an object was taken for a
notification: 202 and dropped. This middleware reads the body (already bounded by `BodyLimitMiddleware`)
once, checks it, and hands the same bytes on; what parses well is left for the app to judge.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MCP_PATH = "/mcp"
API_PREFIX = "/api/"
PARSE_ERROR = -32700  # JSON-RPC: not JSON
INVALID_REQUEST = -32600  # JSON-RPC: JSON, but not a request


class Malformed(ValueError):
    def __init__(self, reason: str, code: int = PARSE_ERROR) -> None:
        super().__init__(reason)
        self.code = code


def _lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) holding a lone surrogate, walked without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _check_ids(message: Any) -> None:
    """A JSON-RPC id is a string or a number (spec: null discouraged, nothing else allowed)."""
    for item in message if isinstance(message, list) else [message]:
        if isinstance(item, dict) and "id" in item:
            rpc_id = item["id"]
            if isinstance(rpc_id, bool) or not isinstance(rpc_id, str | int | float | type(None)):
                raise Malformed(f"a JSON-RPC id must be a string or a number, not {type(rpc_id).__name__}",
                                INVALID_REQUEST)


def check(body: bytes, mcp: bool) -> None:
    """Raise Malformed with the reason when `body` is not well-formed JSON text a handler can take."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"the body is not UTF-8: byte 0x{body[exc.start]:02x} at offset {exc.start}") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise Malformed("the JSON is nested too deeply to parse (send at most a few hundred levels)") from None
    except json.JSONDecodeError:
        return  # plain bad JSON: the app's own parse error says where (FastAPI 422, MCP -32700)
    found = _lone_surrogate(value)
    if found is not None:
        at = next(i for i, ch in enumerate(found) if "\ud800" <= ch <= "\udfff")
        raise Malformed(f"the text {found[:at][-40:]!r}… holds \\u{ord(found[at]):04x}, half of a UTF-16 surrogate "
                        "pair, which is no character: send the character itself, or both halves of its pair",
                        INVALID_REQUEST)
    if mcp:
        _check_ids(value)


class JsonBodyCheck:
    """400 for a malformed JSON body on `/api/…` or `/mcp` (JSON-RPC's error shape on `/mcp`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        mcp = path == MCP_PATH
        content_type = Headers(scope=scope).get("content-type", "") if path else ""
        if scope.get("method") != "POST" or not (mcp or path.startswith(API_PREFIX)) or (
                content_type and "json" not in content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check(body, mcp)
        except Malformed as exc:
            await _reject(exc, mcp)(scope, receive, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _reject(exc: Malformed, mcp: bool) -> JSONResponse:
    if mcp:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": exc.code, "message": str(exc)}},
                            status_code=400)
    return JSONResponse({"detail": str(exc)}, status_code=400)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive that gives `messages` first, then whatever `then` gives (a disconnect, later)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
