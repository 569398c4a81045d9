"""Debian's chromium driven by Playwright (never a browser download), shared by the browser tests.

`browser` hands out contexts that watch every request their pages make. A test fails at teardown when
a page asked anything of a host other than 127.0.0.1 (McDewey runs offline: a font or stylesheet from
a CDN is a fault even when the page still works), when a local request failed or found nothing (404),
or when a server the test visited does not serve `/favicon.ico`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps knocking on this machine's closed network.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
LOCAL_HOST = "127.0.0.1"
# URLs that never leave the page.
INLINE_SCHEMES = frozenset({"data", "blob", "about", "chrome-extension", "devtools"})
# A request cut short because its page navigated or closed (socket.io's long poll at the end of a test,
# a stylesheet when a link was clicked first) is no fault of the server.
ABORTED = "net::ERR_ABORTED"


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in INLINE_SCHEMES or parts.hostname == LOCAL_HOST


class NetworkWatch:
    """What the pages of one test asked for: outside hosts, failed or missing local loads, local origins."""

    def __init__(self) -> None:
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.missing: list[str] = []
        self.origins: set[str] = set()

    def watch(self, context: Any) -> Any:
        context.on("request", self._request)
        context.on("requestfailed", self._failed)
        context.on("response", self._response)
        context.on("page", lambda page: page.on("websocket", lambda ws: self._url(ws.url)))
        return context

    def _url(self, url: str) -> None:
        if not is_local(url):
            self.outside.append(url)
        elif urlsplit(url).scheme in ("http", "https"):
            parts = urlsplit(url)
            self.origins.add(f"{parts.scheme}://{parts.netloc}")

    def _request(self, request: Any) -> None:
        self._url(request.url)

    def _failed(self, request: Any) -> None:
        reason = request.failure or ""
        if is_local(request.url) and ABORTED not in reason:
            self.failed.append(f"{request.url} ({reason})")

    def _response(self, response: Any) -> None:
        if is_local(response.url) and response.status == 404:
            self.missing.append(response.url)

    def faults(self) -> list[str]:
        found = [f"outside request: {url}" for url in self.outside]
        found += [f"failed: {what}" for what in self.failed]
        found += [f"404: {url}" for url in self.missing]
        for origin in sorted(self.origins):
            icon = httpx.get(f"{origin}/favicon.ico", timeout=30)
            if icon.status_code != 200:
                found.append(f"{origin}/favicon.ico answers {icon.status_code}")
        return found


class WatchedBrowser:
    """The browser, with every context it opens watched by one `NetworkWatch`."""

    def __init__(self, browser: Any, network: NetworkWatch) -> None:
        self._browser = browser
        self.network = network

    def new_context(self, **options: Any) -> Any:
        return self.network.watch(self._browser.new_context(**options))

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[WatchedBrowser]:
    """Chromium for one test; the test fails if its pages went outside 127.0.0.1 or missed a local file."""
    watched = WatchedBrowser(chromium, NetworkWatch())
    yield watched
    faults = watched.network.faults()
    assert not faults, "the pages' requests:\n" + "\n".join(faults)
