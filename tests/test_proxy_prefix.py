"""Behind a real reverse proxy (Debian's nginx) under a path: every page, its links, static files, the
chat, REST and MCP answer under the prefix (`MCDEWEY_PUBLIC_URL=http://host:port/mcdewey`), whether
the proxy strips the prefix or the server is reached with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fixtures_server import free_port, mcp_session
from reverse_proxy import nginx
from served import mcdewey_serve

PREFIX = "/mcdewey"
TOKEN = "proxy-t0ken"
WAIT_MS = 60_000
# A proxy that strips the prefix (the usual `proxy_pass http://app/;`), websockets passed on (the chat).
PROXY = """map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server {
  listen 127.0.0.1:{port};
  location /mcdewey/ {
    proxy_pass http://127.0.0.1:APP/;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_read_timeout 300s;
  }
  # the site's icon at the origin's root, where browsers (and the browser fixture's check) look for it
  location = /favicon.ico { proxy_pass http://127.0.0.1:APP/favicon.ico; }
}
"""


@pytest.fixture(scope="module")
def proxied(library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the site's public URL through nginx, the app's own URL)."""
    work = tmp_path_factory.mktemp("proxy")
    app_port = free_port()
    with nginx(work / "nginx", PROXY.replace("APP", str(app_port))) as port:
        public = f"http://127.0.0.1:{port}{PREFIX}"
        with mcdewey_serve(work / "app", app_port, "--library", str(library), "--data", str(indexed),
                           llm="none", public_url=public) as direct:
            yield public, direct


def _root_links(html: str) -> list[str]:
    return re.findall(r'\s(?:href|src|action)="(/[^"]*)"', html)


def test_every_page_link_is_under_the_prefix_and_answers(proxied: tuple[str, str]) -> None:
    public, _ = proxied
    with httpx.Client(timeout=60, headers={"accept": "text/html"}, follow_redirects=True) as client:
        home = client.get(f"{public}/")
        assert home.status_code == 200, home.text[:300]
        links = _root_links(home.text)
        assert links and all(link.startswith(f"{PREFIX}/") for link in links), links
        results = client.get(f"{public}/search", params={"q": "UmssMtaBadMail"})
        assert results.status_code == 200
        found = _root_links(results.text)
        assert any(link.startswith(f"{PREFIX}/chunks/") for link in found), found
        assert all(link.startswith(f"{PREFIX}/") for link in found), found
        origin = public.removesuffix(PREFIX)
        for link in sorted(set(links + found)):
            if link.startswith(f"{PREFIX}/search?"):
                continue
            page = client.get(urljoin(origin, link))
            assert page.status_code == 200 and str(page.url).startswith(public), (link, page.status_code, page.url)
            assert all(x.startswith(f"{PREFIX}/") for x in _root_links(page.text) if "text/html" in
                       page.headers.get("content-type", "") and not link.startswith(f"{PREFIX}/files/")), link


def test_the_server_answers_under_the_prefix_without_a_proxy_too(proxied: tuple[str, str]) -> None:
    _, direct = proxied
    page = httpx.get(f"{direct}{PREFIX}/", headers={"accept": "text/html"}, timeout=60)
    assert page.status_code == 200 and f'href="{PREFIX}/search"' in page.text
    assert httpx.get(f"{direct}{PREFIX}/static/style.css", timeout=60).status_code == 200


def test_rest_records_link_under_the_prefix(proxied: tuple[str, str]) -> None:
    public, _ = proxied
    hits = httpx.get(f"{public}/api/search", params={"q": "UmssMtaBadMail"}, timeout=60)
    assert hits.status_code == 200
    first = hits.json()[0]
    assert first["url"].startswith(f"{public}/docs/"), first["url"]
    assert httpx.get(first["url"], timeout=60).status_code == 200
    assert httpx.get(first["file_url"].partition("#")[0], timeout=60).status_code == 200
    docs = httpx.get(f"{public}/api/docs", timeout=60)
    assert docs.status_code == 200 and f"'{PREFIX}/openapi.json'" in docs.text
    assert httpx.get(f"{public}/openapi.json", timeout=60).status_code == 200


async def test_mcp_through_the_proxy(proxied: tuple[str, str]) -> None:
    public, _ = proxied
    async with mcp_session(public) as session:
        result = await session.call_tool("search_docs", {"query": "UmssMtaBadMail"})
    assert not result.isError
    assert result.structuredContent and result.structuredContent["result"][0]["url"].startswith(f"{public}/")


@pytest.mark.browser
def test_the_chat_answers_through_the_proxy(proxied: tuple[str, str], browser: Any) -> None:
    public, _ = proxied
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{public}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    answers = '[data-step-type="assistant_message"]'
    page.locator(answers, has_text="This library holds").wait_for(timeout=WAIT_MS)
    page.locator("#chat-input").press_sequentially("Which folder holds undeliverable messages in Acme Router 2.0?")
    page.click("#chat-submit")
    answer = page.locator(answers).nth(1)
    answer.locator("text=Sources").wait_for(timeout=WAIT_MS)
    assert "UmssMtaBadMail" in answer.inner_text()
    link = answer.locator("a", has_text="in context").first.get_attribute("href") or ""
    assert link.startswith(f"{public}/docs/"), link


@pytest.fixture(scope="module")
def proxied_with_token(library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("proxy-token")
    app_port = free_port()
    with nginx(work / "nginx", PROXY.replace("APP", str(app_port))) as port:
        public = f"http://127.0.0.1:{port}{PREFIX}"
        with mcdewey_serve(work / "app", app_port, "--library", str(library), "--data", str(indexed),
                           llm="none", public_url=public, api_token=TOKEN):
            yield public


def test_the_one_sign_in_works_under_the_prefix(proxied_with_token: str) -> None:
    public = proxied_with_token
    with httpx.Client(timeout=60, headers={"accept": "text/html"}) as client:
        refused = client.get(f"{public}/chat")
        assert refused.status_code == 303
        assert refused.headers["location"] == f"{PREFIX}/login?next=%2Fmcdewey%2Fchat"
        form = client.get(f"{public}/login", params={"next": f"{PREFIX}/chat"})
        assert f'action="{PREFIX}/login"' in form.text
        signed_in = client.post(f"{public}/login", data={"token": TOKEN, "next": f"{PREFIX}/chat"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == f"{PREFIX}/chat"
        chat = client.get(f"{public}/chat/")
        assert chat.status_code == 200 and f'content="{PREFIX}/chat"' in chat.text  # Chainlit's root path
        assert client.get(f"{public}/").status_code == 200  # the same sign-in opens the pages
