"""One access rule when MCDEWEY_API_TOKEN is set: nothing that reveals the library answers without it.

Every route needs the token — pages (`/`, `/search`, `/chunks/...`, `/docs/...`), the original files
(`/files/...`), REST (`/api/...`, `/openapi.json`, `/api/docs`) and MCP (`/mcp`) — given either way:

- machines: `Authorization: Bearer <token>`;
- people in a browser: the login page `/login` (POST the token) sets the cookie `mcdewey_session`, an
  HMAC of the token (HttpOnly, SameSite=Strict, Secure under an https public URL), compared in constant
  time. Changing the token signs everyone out. A page asked for without it redirects to the login
  (303), anything else gets 401 with `WWW-Authenticate: Bearer`.

Public, because they reveal nothing of the library: `/static/...`, `/favicon.ico`, `/login`, `/logout`,
and `/healthz`, which without the token answers only `{"status": ...}` (no path, no counts; `healthz`
asks `is_authorized`). The chat (`/chat/...`, its socket included) is guarded like every page: one sign-in
at `/login` serves the pages and the chat.
Without a token nothing is checked: the server binds to loopback unless told otherwise, and `serve`
warns when it does not (`server.exposure_warning`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.surfaces.prefix import route_path
from assistant.surfaces.web import render

COOKIE = "mcdewey_session"
COOKIE_MAX_AGE = 30 * 24 * 3600  # a month; changing the token ends every session at once
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
PUBLIC_PATHS = frozenset({"/favicon.ico", LOGIN_PATH, LOGOUT_PATH, "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
AUTHORIZED = "mcdewey.authorized"  # set on every request's ASGI scope by the middleware
MAX_NEXT_CHARS = 2000


def session_value(token: str) -> str:
    """The login cookie's value: an HMAC of the token, so the token itself never sits in a browser."""
    return hmac.new(token.encode("utf-8"), b"mcdewey web session v1", hashlib.sha256).hexdigest()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_authorized(request: Request) -> bool:
    """Whether the request carried the token (always, when no token is set)."""
    return bool(request.scope.get(AUTHORIZED, True))


def safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only (never `//host`, a scheme or a backslash)."""
    target = (target or "/").strip()
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc
            or len(target) > MAX_NEXT_CHARS or any(ord(ch) < 32 for ch in target)):
        return "/"
    return target


class AccessMiddleware:
    """The token on every route but the public ones: bearer header or login cookie, in constant time."""

    def __init__(self, app: ASGIApp, token: str, also: str | None = None) -> None:
        self.app = app
        self.token = token.encode("utf-8")
        self.admin = (also or token).encode("utf-8")  # MCDEWEY_ADMIN_TOKEN reads too
        self.session = session_value(token).encode("ascii")

    def authorized(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        scheme, _, value = headers.get("authorization", "").partition(" ")
        given = value.strip().encode("utf-8")
        bearer = scheme.lower() == "bearer" and (hmac.compare_digest(given, self.token)
                                                 | hmac.compare_digest(given, self.admin))
        return bearer or hmac.compare_digest(self._cookie(headers).encode("utf-8"), self.session)

    @staticmethod
    def _cookie(headers: Headers) -> str:
        for header in headers.getlist("cookie"):
            for pair in header.split(";"):
                name, _, value = pair.strip().partition("=")
                if name == COOKIE:
                    return value.strip()
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope[AUTHORIZED] = allowed = self.authorized(scope)
        if allowed or is_public(route_path(scope)):  # the path under a proxy's prefix (root_path)
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await refusal(scope)(scope, receive, send)


def refusal(scope: Scope) -> Response:
    """A browser asking for a page goes to the login; anything else gets 401 and a reason."""
    headers = Headers(scope=scope)
    if scope["method"] in ("GET", "HEAD") and "text/html" in headers.get("accept", ""):
        path = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")  # as the browser sent it
        query = scope.get("query_string", b"").decode("latin-1")
        target = safe_next(path + (f"?{query}" if query else ""))
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
    return JSONResponse(
        {"detail": "missing or wrong bearer token (Authorization: Bearer <MCDEWEY_API_TOKEN>); in a browser, "
                   f"sign in at {LOGIN_PATH}"},
        status_code=401, headers={"WWW-Authenticate": 'Bearer realm="mcdewey"'},
    )


def login_router(token: str, secure: bool) -> APIRouter:
    """`/login` (the form, and the token posted to it) and `/logout`; `secure` marks the cookie Secure."""
    router = APIRouter(include_in_schema=False)
    expected = token.encode("utf-8")

    @router.get(LOGIN_PATH, response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return render("login.html", next_path=safe_next(next), signed_in=is_authorized(request), error=None)

    @router.post(LOGIN_PATH)
    def login(token: Annotated[str, Form(max_length=4096)] = "", next: Annotated[str, Form()] = "/") -> Response:
        target = safe_next(next)
        if not hmac.compare_digest(token.strip().encode("utf-8"), expected):
            return render("login.html", status=401, next_path=target, signed_in=False, error="Wrong token.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, session_value(token.strip()), max_age=COOKIE_MAX_AGE, path="/",
                            httponly=True, samesite="strict", secure=secure)
        return response

    @router.post(LOGOUT_PATH)
    def logout() -> Response:
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
        return response

    return router
