"""Who may change the library, and the defences that keep a browser from being tricked into a change.

The rule (README, "Who may change the library"):
- with `MCDEWEY_ADMIN_TOKEN` set, a change needs `Authorization: Bearer <admin token>` (the read token,
  `MCDEWEY_API_TOKEN`, is not enough; the admin token also reads);
- without it, changes are open only on a server bound to loopback that has no `MCDEWEY_API_TOKEN`
  either and no `MCDEWEY_PUBLIC_URL` (one person's machine), to requests that did not come through a
  proxy (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`), and refused everywhere else: a server bound to
  `0.0.0.0`, or behind a proxy, without an admin token can never be changed over the network.

Against cross-site requests (every write, every surface): a request whose `Origin` is not this server,
or that a browser marks `Sec-Fetch-Site: cross-site`/`same-site`, is refused. On an open loopback
server the `Host` must be a loopback name (a DNS-rebinding page names its own host), and a browser's
request (one that carries `Origin`) must also carry `X-McDewey-CSRF` with the server's token, which
only this server's own pages can read (`/api/admin/rights`, same-origin: no CORS header is ever sent).
A form post cannot set that header, and a cross-site `fetch` that sets it is stopped by the browser's
preflight before it is sent.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from assistant.library_admin.errors import Forbidden
from assistant.settings import Settings

CSRF_HEADER = "x-mcdewey-csrf"
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")  # a reverse proxy in front of a loopback server
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
NO_RIGHT = ("changing the library needs MCDEWEY_ADMIN_TOKEN (Authorization: Bearer <admin token>); without "
            "one, changes are allowed only on a server bound to loopback with no MCDEWEY_API_TOKEN")


class Unauthenticated(Forbidden):
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="mcdewey-admin"'}


def _host_name(host: str) -> str:
    return (urlsplit(f"//{host}").hostname or "").lower()


class AdminRights:
    def __init__(self, settings: Settings, loopback: bool) -> None:
        self.token = (settings.admin_token or "").encode("utf-8") or None
        # A public URL means a proxy in front: the server is reachable from elsewhere, whatever it binds to.
        self.open = self.token is None and settings.api_token is None and loopback and not settings.public_url
        self.csrf = secrets.token_urlsafe(32)

    def describe(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """What `/api/admin/rights` says: whether this caller may change the library, and how."""
        try:
            self.check(headers)
            allowed, reason = True, None
        except Forbidden as exc:
            allowed, reason = False, str(exc)
        mode = "admin token" if self.token else "open (loopback, no token)" if self.open else "closed"
        same_site = self.open and _host_name(headers.get("host", "")) in LOOPBACK_NAMES
        return {"can_change": allowed, "reason": reason, "rule": mode, "csrf": self.csrf if same_site else None}

    def check(self, headers: Mapping[str, str]) -> None:
        """Raise (403, or 401 for a missing or wrong admin token) unless this request may change the library."""
        origin = headers.get("origin")
        host = headers.get("host", "")
        if headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
            raise Forbidden("refused: a request from another site may not change the library")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            raise Forbidden(f"refused: a request from {origin} may not change the library (not this server)")
        if self.token is not None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode("utf-8"), self.token):
                return
            raise Unauthenticated(NO_RIGHT)
        if not self.open:
            raise Forbidden(NO_RIGHT)
        if _host_name(host) not in LOOPBACK_NAMES:
            raise Forbidden(f"refused: host {host!r} is not this loopback server's (DNS rebinding?)")
        if any(name in headers for name in PROXY_HEADERS):
            raise Forbidden("refused: the request came through a proxy; set MCDEWEY_ADMIN_TOKEN to change the "
                            "library from elsewhere")
        if origin is not None and not hmac.compare_digest(headers.get(CSRF_HEADER, "").encode("utf-8"),
                                                          self.csrf.encode("utf-8")):
            raise Forbidden(f"refused: a browser's change needs the {CSRF_HEADER} header of this server's page")

    def require(self, request: Request) -> None:
        """The FastAPI dependency of every write route."""
        self.check(request.headers)
