"""A person's path through the pages in a real browser (Debian chromium via Playwright), JavaScript off.

Home → type a query → submit → first result → "View in doc context" → the passage is highlighted,
scrolled into view by the URL fragment alone, under its "Page N" header.
"""

from __future__ import annotations

import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_browser import NetworkWatch, WatchedBrowser

from assistant.surfaces.links import chunk_anchor

VIEWPORT = {"width": 1000, "height": 420}
QUERY = "GET /healthz reports the state of the index and of Chroma"

pytestmark = pytest.mark.browser


def test_search_to_highlighted_passage_without_javascript(server_url: str, browser: Any) -> None:
    expected = httpx.get(f"{server_url}/api/search", params={"q": QUERY, "product": "mcdewey"}, timeout=60).json()[0]
    assert expected["page"] is not None

    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{server_url}/")
        page.fill("input[name=q]", QUERY)
        page.select_option("select[name=product]", "mcdewey")
        page.click("form.search button[type=submit]")
        page.wait_for_url(re.compile(r"/search\?"))

        first = page.locator("ol.results li.result a.result-title").first
        first.click()
        page.wait_for_url(re.compile(r"/chunks/"))
        assert f"chunk_id {expected['chunk_id']}" in page.inner_text("main")

        page.click("text=View in doc context")
        page.wait_for_url(re.compile(r"/docs/.*#chunk-"))
        assert page.url == expected["url"]

        target = page.locator(f"#{chunk_anchor(expected['chunk_id'])}")
        assert target.is_visible()
        assert "highlighted" in (target.get_attribute("class") or "").split()
        box = target.bounding_box()
        assert box is not None
        assert 0 <= box["y"] < VIEWPORT["height"], box  # the fragment scrolled it into view
        header = target.locator("xpath=ancestor::section[1]/h2[contains(@class, 'page-header')]")
        assert re.fullmatch(rf"Page {expected['page']}( \(printed .+\))?", header.inner_text().strip())
        title = page.locator("main h1").bounding_box()
        assert title is not None and title["y"] < 0, title  # the page really scrolled down to it
    finally:
        context.close()


def test_the_browser_fixture_reports_outside_requests_and_missing_files(chromium: Any, tmp_path: Path) -> None:
    """What every browser test is checked for: a page on a plain local server that asks a CDN for a
    stylesheet, shows an image that is not there and has no /favicon.ico is reported on all three."""
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="https://cdn.example.invalid/font.css"><img src="/missing.png"><p>hello</p>')
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        watched = WatchedBrowser(chromium, NetworkWatch())
        context = watched.new_context()
        context.route("https://cdn.example.invalid/**", lambda route: route.abort())  # never leaves the machine
        try:
            page = context.new_page()
            page.goto(f"{url}/index.html")
            page.wait_for_load_state("load")
        finally:
            context.close()
        faults = watched.network.faults()
        httpd.shutdown()
    assert "outside request: https://cdn.example.invalid/font.css" in faults
    assert f"404: {url}/missing.png" in faults
    assert f"{url}/favicon.ico answers 404" in faults
