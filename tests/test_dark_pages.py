"""The library pages follow the reader's system setting (prefers-color-scheme), in chromium: light pages
for a light system, dark ones for a dark system, screenshots to show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_chat_look import brightness

PAGES = ["/", "/search?q=UmssMtaBadMail", "/chunks/acme::2.0::admin-guide::admin::0",
         "/docs/acme/2.0/admin-guide/admin.html"]


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_follow_the_systems_colour_scheme(scheme: str, server_url: str, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    for n, path in enumerate(PAGES):
        page.goto(f"{server_url}{path}")
        shot = tmp_path / f"page-{n}-{scheme}.png"
        seen = brightness(page.screenshot(path=str(shot)))
        if scheme == "dark":
            assert seen < 0.25, f"{path} stays light on a dark system ({shot})"
        else:
            assert seen > 0.8, f"{path} is not light on a light system ({shot})"
    context.close()
