"""One ASGI app for everything McDewey serves: pages, REST (/api), MCP (/mcp) and the chat (/chat).

Every surface calls the same LibraryService, so an agent over MCP, a script over REST, a person in
the browser and `mcdewey search` see the same chunk records. Nothing is built at import time:
`create_app(settings)` builds an app, `serve(settings)` runs it with uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answerer import Answerer
from assistant.errors import McDeweyError
from assistant.service import LibraryService
from assistant.settings import Settings
from assistant.surfaces import chat_root, listen
from assistant.surfaces.access import LOGIN_PATH, AccessMiddleware, login_router
from assistant.surfaces.admin_mount import UPLOAD_PATH, mount_admin
from assistant.surfaces.api import api_router, ask_router
from assistant.surfaces.body_check import JsonBodyCheck
from assistant.surfaces.connections import RequestDeadlineProtocol, raise_file_limit
from assistant.surfaces.mcp_tools import build_mcp
from assistant.surfaces.page_view import page_router
from assistant.surfaces.prefix import PrefixMiddleware, path_prefix, route_path
from assistant.surfaces.web import STATIC, error_page, web_router

log = logging.getLogger("mcdewey.server")

MAX_BODY_BYTES = 1 << 20  # no endpoint takes more than a small JSON-RPC message
CHAT_TARGET = Path(__file__).parent / "chat.py"
CHAT_PATH = "/chat"
API_PATHS = ("/api/", "/mcp", "/healthz", "/openapi.json")
DESCRIPTION = """Multi-vendor documentation library · semantic search · MCP endpoint at `/mcp`.

Every search result is a chunk record with `url` (the passage in its document's context) and
`file_url` (the original file, `#page=N` for PDFs and Markdown). Errors are `{"detail": reason}`."""


# --- middleware -----------------------------------------------------------------------------------
class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for any request body over `max_bytes`, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt  # routes that enforce their own, larger limit while streaming (uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body larger than {self.max_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


# --- errors ---------------------------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    return route_path(request.scope).startswith(API_PATHS) or "text/html" not in request.headers.get("accept", "")


def _error(request: Request, status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    """JSON `{"detail": reason}` for machines, an HTML page for browsers; never a stack trace."""
    if _wants_json(request):
        return JSONResponse({"detail": reason}, status_code=status, headers=headers)
    return error_page(status, reason)


def add_error_handlers(app: FastAPI) -> None:
    async def library_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, McDeweyError)
        return _error(request, exc.status, str(exc), exc.headers() or None)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return _error(request, 500, "internal error (see the server log)")

    app.add_exception_handler(McDeweyError, library_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


# --- the app --------------------------------------------------------------------------------------
def warm_up(service: LibraryService) -> threading.Thread:
    """Load the embedding model, Chroma and the keyword index in the background at startup.

    They load lazily on the first search, which would otherwise take several seconds (and time
    out impatient clients); one throwaway search through the public API loads them all.
    """

    def run() -> None:
        try:
            service.search("warm up", 1)
        except Exception as exc:  # an empty library or an unreachable Chroma: /healthz reports it
            log.info("warm-up search failed: %s", exc)

    thread = threading.Thread(target=run, name="mcdewey-warm-up", daemon=True)
    thread.start()
    return thread


def mount_chat(app: FastAPI, target: Path = CHAT_TARGET) -> bool:
    """Mount the Chainlit chat at /chat when `target` exists; the rest of the app works without it.

    Chainlit's app is a process-wide singleton: the service is handed over on its `state`
    (`chainlit.server.app.state`:
    `mcdewey_service`, `mcdewey_answerer`, `mcdewey_settings`). A second mount in one process
    (a second app in tests) fails inside Chainlit; that is logged, not raised.
    """
    if not target.is_file():
        return False
    # Chainlit finds .chainlit/config.toml, chainlit.md and public/ in its app root (default: the cwd)
    # and writes its translations there: a private root over the project's files (chat_root).
    chat_root.prepare()
    try:
        from chainlit.server import app as chainlit_app
        from chainlit.utils import mount_chainlit

        if getattr(chainlit_app.state, "mcdewey_mounted", False):  # keep the first app's service
            raise RuntimeError("Chainlit is already mounted in this process")
        chainlit_app.state.mcdewey_service = getattr(app.state, "service", None)
        chainlit_app.state.mcdewey_answerer = getattr(app.state, "answerer", None)
        chainlit_app.state.mcdewey_settings = getattr(app.state, "settings", None)
        mount_chainlit(app=app, target=str(target), path=CHAT_PATH)
        chainlit_app.state.mcdewey_mounted = True
    except Exception as exc:
        log.warning("chat not mounted at %s: %s", CHAT_PATH, exc)
        return False
    return True


def create_app(settings: Settings, service: LibraryService | None = None) -> FastAPI:
    """Pages, REST, MCP and (when present) the chat, all over one LibraryService."""
    service = service or LibraryService(settings)
    answerer = Answerer(service, settings)  # the app's settings choose the model (a test may share a service)
    mcp = build_mcp(settings, service)
    mcp_app = mcp.streamable_http_app()  # creates the session manager the lifespan runs

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warm_up(service)
        answerer.warm()  # the embedded model loads in the background, not on the first question
        async with mcp.session_manager.run():
            yield

    app = FastAPI(
        title="McDewey", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
        docs_url="/api/docs", redoc_url=None,  # /docs/{source} is the doc-context page
    )
    app.state.settings = settings
    app.state.service = service
    app.state.answerer = answerer
    app.state.mcp = mcp
    app.include_router(api_router(service, settings.base_url()))
    app.include_router(ask_router(answerer, settings.base_url()))
    app.include_router(web_router(settings, service))
    app.include_router(page_router(settings, service))
    mount_admin(app, mcp, settings, is_loopback(settings.host))  # library management: REST, MCP, its page
    if settings.api_token:
        app.include_router(login_router(settings.api_token, secure=settings.base_url().startswith("https://")))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.routes.extend(mcp_app.routes)  # /mcp itself, not a mount that redirects to /mcp/
    add_error_handlers(app)
    app.add_middleware(JsonBodyCheck)  # inside the body limit: reads at most MAX_BODY_BYTES
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES, exempt=(UPLOAD_PATH,))
    if settings.api_token:
        app.add_middleware(AccessMiddleware, token=settings.api_token,  # outermost: before any body
                           also=settings.admin_token)
    prefix = path_prefix(settings.public_url)
    if prefix:  # behind a proxy under a path: ASGI's root_path (the chat reads it when mounted)
        app.root_path = prefix
        app.add_middleware(PrefixMiddleware, prefix=prefix)  # outermost: every layer sees the full path
    if settings.chat:
        mount_chat(app)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: Settings) -> str | None:
    """The warning `serve` logs when the server is reachable from other machines (None on loopback)."""
    if is_loopback(settings.host):
        return None
    where = f"serving on {settings.host}:{settings.port}, reachable from other machines"
    if settings.api_token:
        return (f"{where}: the library (pages, /files, /api, /mcp, /chat) is protected by MCDEWEY_API_TOKEN "
                f"(bearer header, or sign in at {LOGIN_PATH}); only /static, /favicon.ico, /login and a bare "
                "/healthz status are public. The token crosses the network in clear unless TLS (a reverse "
                "proxy) is in front")
    return (f"{where} without MCDEWEY_API_TOKEN: anyone who can reach this address can read the whole "
            "library (pages, /files, /api, /mcp, /chat); set MCDEWEY_API_TOKEN (and MCDEWEY_PUBLIC_URL for links)")


def serve(settings: Settings, sock: socket.socket | None = None) -> None:
    """Run the app with uvicorn on settings.host:settings.port (127.0.0.1 unless told otherwise), on `sock`
    when the caller bound it already (`mcdewey serve` does, before importing all this)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sock = sock or listen.bind(settings.host, settings.port)  # a busy port stops here (PortBusy), before the app
    warning = exposure_warning(settings)
    if warning:
        log.warning(warning)
    app = create_app(settings)
    base = settings.base_url()
    log.info("McDewey at %s/ · MCP endpoint %s/mcp · REST %s/api · chat %s%s", base, base, base, base, CHAT_PATH)
    raise_file_limit()
    run_uvicorn(app, sock, host=settings.host, port=settings.port, log_level="info", http=RequestDeadlineProtocol)


def run_uvicorn(app: FastAPI, sock: socket.socket, **config: Any) -> None:
    """uvicorn on the socket bound before the app loaded, handed over as the socket object it is: given as
    an `fd` it is rebuilt as an AF_UNIX socket, asyncio then leaves TCP_NODELAY off, and each keep-alive
    response waited ~40 ms (tests/test_live_reindex.py made 48 searches during four ingests instead of 420)."""
    uvicorn.Server(uvicorn.Config(app, **config)).run(sockets=[sock])
