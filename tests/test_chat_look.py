"""What a person sees in the chat, in chromium: the "Dark Theme" toggle darkens the whole page (not only
the input box), the logo shows the whole name, and the icon buttons have names a screen reader says."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_server import free_port
from served import mcdewey_serve

PUBLIC = Path(__file__).resolve().parents[1] / "public"
WAIT_MS = 60_000
ICON_BUTTONS = {"new-chat-button": "New chat", "chat-settings-open-modal": "Chat settings",
                "chat-submit": "Send question"}


def brightness(png: bytes) -> float:
    """Mean lightness of a screenshot, 0 (black) to 1 (white)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L").resize((120, 90))
    return sum(image.getdata()) / (255 * 120 * 90)


@pytest.fixture(scope="module")
def chat_server(server_url: str, library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[str]:
    """The session's server when it serves the chat; else (Chainlit mounts once a process) a child."""
    if httpx.get(f"{server_url}/chat/", timeout=30).status_code == 200:
        yield server_url
        return
    with mcdewey_serve(tmp_path_factory.mktemp("chat-look"), free_port(), "--library", str(library),
                       "--data", str(indexed), llm="none") as url:
        yield url


def _open_chat(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{url}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
    return page


@pytest.mark.browser
def test_the_dark_theme_toggle_darkens_the_whole_chat(chat_server: str, browser: Any, tmp_path: Path) -> None:
    page = _open_chat(browser, chat_server)
    light = page.screenshot(path=str(tmp_path / "chat-light.png"))
    page.click("#theme-toggle")
    page.get_by_role("menuitem", name="Dark Theme").click()  # the reader's choice in the theme menu
    page.locator("html.dark").wait_for(state="attached", timeout=WAIT_MS)
    page.wait_for_timeout(300)
    dark = page.screenshot(path=str(tmp_path / "chat-dark.png"))
    assert brightness(light) > 0.8
    assert brightness(dark) < 0.25, f"the page stays light in the dark theme ({tmp_path / 'chat-dark.png'})"


def test_every_theme_sets_the_same_colours() -> None:
    """Chainlit sets a theme's variables on the page and never removes them: a colour that only the light
    theme sets stays light in the dark one (the white page behind a dark input box)."""
    import json

    variables = json.loads((PUBLIC / "theme.json").read_text(encoding="utf-8"))["variables"]
    assert set(variables["dark"]) == set(variables["light"])


@pytest.mark.browser
@pytest.mark.parametrize("logo", ["logo_light.svg", "logo_dark.svg"])
def test_the_logo_shows_the_whole_name(logo: str, browser: Any) -> None:
    page = browser.new_page()
    page.set_content((PUBLIC / logo).read_text(encoding="utf-8"))
    right, width = page.evaluate("""(() => { const box = document.querySelector('svg text').getBBox();
        return [box.x + box.width, document.querySelector('svg').viewBox.baseVal.width]; })()""")
    assert right <= width, f"the name ends at {right:.0f} of {width:.0f}: the logo cuts it off"


@pytest.mark.browser
def test_icon_buttons_have_accessible_names(chat_server: str, browser: Any) -> None:
    page = _open_chat(browser, chat_server)
    for name in ICON_BUTTONS.values():
        page.get_by_role("button", name=name, exact=True).wait_for(timeout=WAIT_MS)
    unnamed_js = """[...document.querySelectorAll('button')].filter(b => b.offsetParent !== null)
        .filter(b => !(b.getAttribute('aria-label') || b.innerText.trim() || b.title
                       || b.getAttribute('aria-labelledby'))).map(b => b.id || b.outerHTML.slice(0, 400))"""
    # a button React renders late (the welcome message's actions) is named as soon as the page names it
    with contextlib.suppress(Exception):
        page.wait_for_function(f"({unnamed_js}).length === 0", timeout=WAIT_MS)
    assert page.evaluate(unnamed_js) == []
