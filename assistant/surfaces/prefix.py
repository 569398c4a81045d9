"""Serving under a path prefix, behind a reverse proxy: `MCDEWEY_PUBLIC_URL=https://host/mcdewey`.

The prefix is the path of the public URL, and it is carried the way ASGI says: `root_path` is the
prefix and `path` starts with it, so Starlette's routing, mounts (static files, the chat) and FastAPI's
API docs all see it. A proxy may pass the prefix through (`location /mcdewey/ { proxy_pass
http://app; }`) or strip it (`proxy_pass http://app/;`): a path without it gets it added. On the way
out, what the app writes root-absolute gains the prefix: a redirect's `Location`, and the `href`,
`src` and `action` of our own pages (the chat writes its own, from the same root path; the library's
original files and the API docs are left as they are).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ROOT_ABSOLUTE = re.compile(rb'(\s(?:href|src|action)=")/(?!/)')
# Responses under these paths are not our pages: originals from the library, the chat (Chainlit
# prefixes its own page), FastAPI's API docs (it reads root_path itself).
_NOT_OUR_PAGES = ("/files/", "/chat", "/api/")


def route_path(scope: Scope) -> str:
    """The path below the prefix ('/search' for '/mcdewey/search' under root_path '/mcdewey'): what the
    app's routes and rules (access, error format) are written against."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return (path[len(root):] or "/") if root and (path == root or path.startswith(root + "/")) else path


def path_prefix(public_url: str | None) -> str:
    """'/mcdewey' for 'http://host:8001/mcdewey/' ('' without a public URL or a path)."""
    return urlsplit(public_url or "").path.rstrip("/")


class PrefixMiddleware:
    """Every request seen under `prefix` (added when the proxy stripped it); root-absolute links and
    redirects written by the app get it on the way out."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.encoded = prefix.encode("utf-8")

    def _under_prefix(self, scope: Scope) -> Scope:
        path: str = scope["path"]
        scope = {**scope, "root_path": self.prefix}
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            scope["path"] = self.prefix + path
            scope["raw_path"] = self.encoded + (scope.get("raw_path") or path.encode("utf-8"))
        return scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = self._under_prefix(scope)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        ours = scope["method"] != "HEAD" and not route_path(scope).startswith(_NOT_OUR_PAGES)
        start: Message | None = None
        body: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location and location.startswith("/") and not location.startswith("//") and not (
                        location == self.prefix or location.startswith(self.prefix + "/")):
                    headers["location"] = self.prefix + location
                if ours and headers.get("content-type", "").startswith("text/html"):
                    start = message  # held until the whole page is here, then rewritten
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = _ROOT_ABSOLUTE.sub(rb"\1" + self.encoded.replace(b"\\", b"\\\\") + b"/", b"".join(body))
                headers = MutableHeaders(scope=start)
                if "content-length" in headers:
                    headers["content-length"] = str(len(page))
                await send(start)
                await send({"type": "http.response.body", "body": page, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, rewrite)
