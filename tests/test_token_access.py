"""One access rule when MCDEWEY_API_TOKEN is set: no route reveals the library without the token.

`test_no_route_reveals_the_library_without_the_token` walks EVERY route of the app (`app.routes`, into
every mount: the chat's Chainlit app, /static, and MCP's /mcp), in a child process (this file run as a
script), because Chainlit is mounted once per process and its login is set up by the first mount. The
child serves the real app (uvicorn, the session's index, the chat mounted with its login), requests each
route without the token — GET (as a browser and as a machine) for GET routes, an empty JSON body for
POST/PUT/DELETE/PATCH, real chunk ids and sources for path parameters — and prints what came back;
the parent fails on any route outside a small allow-list that answers 2xx, and on any answer at all
that holds library content (its text, titles, paths, ids, the library's folder).

The login (POST the token to /login → an HttpOnly, SameSite=Strict cookie → the pages) and the minimal
/healthz are checked on a server in this process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "walk-t0ken-7c1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MACHINE = {"accept": "application/json"}
PROBE_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
# Public on purpose: they reveal nothing of the library (asserted below for each answer).
ALLOWED = ("/static/", "/favicon.ico", "/login", "/logout", "/healthz")
CHAT = "/chat"  # guarded like every page: the one sign-in at /login serves the chat too (nothing allowed)


def allowed(path: str) -> bool:
    return path.startswith(ALLOWED)


# --- the walk (runs in the child) -----------------------------------------------------------------


def endpoints(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) for every route, into every included router and mount; a mount without
    routes gets one of its files (StaticFiles) or its root."""
    from starlette.routing import Mount

    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router, resolved lazily
        if included is not None:
            yield from endpoints(list(included.routes), prefix + route.include_context.prefix)
            continue
        path = prefix + route.path
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                yield from endpoints(list(inner), path)
                continue
            directory = getattr(route.app, "directory", None)
            files = sorted(p.name for p in Path(directory).iterdir() if p.is_file()) if directory else []
            yield "GET", f"{path}/{files[0] if files else ''}"
            continue
        methods = getattr(route, "methods", None) or {"GET", "POST", "DELETE"}  # an ASGI app takes any
        for method in sorted(methods):
            yield method, path


def fill(template: str, chunk_id: str, source: str) -> str:
    values = {"chunk_id": quote(chunk_id, safe=""), "source": quote(source, safe="/")}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), template)


def walk(library: str, data: str) -> list[dict[str, Any]]:
    from fixtures_server import _Server

    from assistant.settings import Settings
    from assistant.surfaces.server import create_app

    apps: list[Any] = []

    def make_app(port: int) -> Any:
        settings = Settings(library=Path(library), data=Path(data), llm="none", api_token=TOKEN, chat=True,
                            host="127.0.0.1", port=port)
        apps.append(create_app(settings))
        return apps[-1]

    server = _Server(make_app)
    url = server.start()
    out: list[dict[str, Any]] = []
    try:
        hit = httpx.get(f"{url}/api/search", params={"q": "UmssMtaBadMail"}, headers=AUTH, timeout=120).json()[0]
        assert any(getattr(r, "path", "") == CHAT for r in apps[0].routes), "the chat is not mounted"
        seen: set[tuple[str, str]] = set()
        with httpx.Client(base_url=url, timeout=60) as client:
            for method, template in endpoints(list(apps[0].routes)):
                path = fill(template, hit["chunk_id"], hit["source"])
                if (method, path) in seen or method not in PROBE_METHODS:
                    continue
                seen.add((method, path))
                variants = [BROWSER, MACHINE] if method in ("GET", "HEAD") else [MACHINE]
                for headers in variants:
                    body = {} if method not in ("GET", "HEAD") else None
                    response = client.request(method, path, headers=headers, json=body)
                    out.append({"method": method, "path": path, "template": template, "accept": headers["accept"],
                                "status": response.status_code, "location": response.headers.get("location"),
                                "text": response.text[:20000]})
        out.append({"markers": [hit["chunk_id"], hit["source"], hit["doc_title"], "UmssMtaBadMail", "Acme Networks",
                                library, data]})
    finally:
        server.stop()
    return out


# --- the tests ------------------------------------------------------------------------------------


def test_no_route_reveals_the_library_without_the_token(library: Path, indexed: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(indexed, data)  # the child's own Chroma over a copy of the session's index
    proc = subprocess.run([sys.executable, __file__, str(library), str(data)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={**_clean_env(), "HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = json.loads(proc.stdout.strip().splitlines()[-1])
    markers = answers.pop()["markers"]
    templates = {a["template"] for a in answers}
    for expected in ("/", "/search", "/chunks/{chunk_id}", "/docs/{source:path}", "/files/{source:path}",
                     "/api/search", "/api/ask", "/api/library", "/mcp", "/openapi.json", "/api/docs", "/healthz",
                     "/login", "/chat/project/settings"):
        assert expected in templates, f"the walk missed {expected}: {sorted(templates)}"
    leaks, open_routes = [], []
    for a in answers:
        where = f"{a['method']} {a['path']} ({a['accept']}) → {a['status']}"
        leaks += [f"{where}: {m!r}" for m in markers if m and m in a["text"]]
        if allowed(a["path"]):
            continue
        if 200 <= a["status"] < 300 or (300 <= a["status"] < 400 and not (a["location"] or "").startswith("/login")):
            open_routes.append(where)
    assert leaks == [], leaks
    assert open_routes == [], open_routes
    for a in answers:
        if a["path"] == "/healthz" and a["method"] == "GET":
            assert json.loads(a["text"]) == {"status": "ok"}  # no library path, no counts
    pages = [a for a in answers if a["path"] == "/" and a["accept"] == BROWSER["accept"]]
    assert pages and pages[0]["status"] == 303 and pages[0]["location"] == "/login?next=%2F"
    print(f"\nwalked {len(templates)} routes ({len(answers)} requests) without the token: no leak")


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("MCDEWEY_", "CHAINLIT_"))}


@pytest.fixture(scope="module")
def token_url(start_server: Any) -> str:
    return start_server(api_token=TOKEN, chat=False)


def test_a_browser_signs_in_with_the_token_and_reads_pages(token_url: str, service: Any) -> None:
    chunk = service.search("UmssMtaBadMail", 1)[0]
    page = f"/chunks/{quote(chunk.chunk_id, safe='')}"
    with httpx.Client(base_url=token_url, timeout=60, headers=BROWSER) as browser:
        refused = browser.get(page)
        assert refused.status_code == 303 and refused.headers["location"] == f"/login?next={quote(page, safe='')}"
        form = browser.get(refused.headers["location"])
        assert form.status_code == 200 and 'type="password"' in form.text and "UmssMtaBadMail" not in form.text

        wrong = browser.post("/login", data={"token": "not-the-token", "next": page})
        assert wrong.status_code == 401 and "Wrong token" in wrong.text and not browser.cookies
        assert browser.get(page).status_code == 303

        signed_in = browser.post("/login", data={"token": TOKEN, "next": page})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == page
        cookie = signed_in.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and TOKEN not in cookie
        shown = browser.get(page)
        assert shown.status_code == 200 and "UmssMtaBadMail" in shown.text
        assert browser.get(f"/files/{chunk.source}").status_code == 200
        assert browser.get("/api/library").status_code == 200  # the cookie works for /api/docs' calls too

        assert browser.post("/logout").status_code == 303
        browser.cookies.clear()  # httpx keeps an expired cookie's deletion as the server sent it
        assert browser.get(page).status_code == 303
    forged = httpx.get(f"{token_url}{page}", cookies={"mcdewey_session": "0" * 64}, headers=BROWSER, timeout=60)
    assert forged.status_code == 303


def test_the_login_never_sends_a_browser_elsewhere(token_url: str) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = httpx.post(f"{token_url}/login", data={"token": TOKEN, "next": target}, timeout=60)
        assert response.status_code == 303 and response.headers["location"] == "/", target


def test_machines_use_the_bearer_header_and_health_says_only_ok(token_url: str) -> None:
    assert httpx.get(f"{token_url}/healthz", timeout=60).json() == {"status": "ok"}
    full = httpx.get(f"{token_url}/healthz", headers=AUTH, timeout=60).json()
    assert full["status"] == "ok" and full["chunks"] > 0 and "library" in full
    denied = httpx.get(f"{token_url}/openapi.json", timeout=60)
    assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{token_url}/openapi.json", headers=AUTH, timeout=60).status_code == 200
    assert httpx.get(f"{token_url}/static/style.css", timeout=60).status_code == 200
    assert httpx.get(f"{token_url}/favicon.ico", timeout=60).status_code == 200


if __name__ == "__main__":  # the child: walk the routes and print what came back, as JSON
    sys.path.insert(0, str(Path(__file__).parent))
    print(json.dumps(walk(sys.argv[1], sys.argv[2])))
