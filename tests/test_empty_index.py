"""An empty or missing index says so, and what to run, on every surface: the CLI, /healthz, the pages,
REST, MCP and the chat (a real `mcdewey serve` over a data directory nothing was ingested into)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_server import free_port, mcp_session
from served import mcdewey_serve

from assistant.surfaces import cli

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library that exists and a data directory that holds no index."""
    root = tmp_path_factory.mktemp("empty-index")
    (root / "lib").mkdir()
    return root / "lib", root / "data"


@pytest.fixture(scope="module")
def empty_server(empty: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    library, data = empty
    with mcdewey_serve(tmp_path_factory.mktemp("empty-server"), free_port(), "--library", str(library),
                       "--data", str(data), llm="none") as url:
        yield url


def _says_what_to_run(text: str, data: Path) -> None:
    text = " ".join(text.split())
    assert f"nothing is indexed in {data}" in text, text
    assert "mcdewey ingest" in text, text


@pytest.mark.parametrize("command", [["search", "kadmin"], ["ask", "What does kadmin do?", "--llm", "none"]])
def test_cli_says_nothing_is_indexed(command: list[str], empty: tuple[Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    library, data = empty
    assert cli.main([*command, "--library", str(library), "--data", str(data / "missing")]) == 2
    out = capsys.readouterr()
    _says_what_to_run(out.err, data / "missing")
    assert "does not hold an answer" not in out.out


def test_healthz_pages_rest_and_mcp_say_nothing_is_indexed(empty_server: str, empty: tuple[Path, Path]) -> None:
    _, data = empty
    health = httpx.get(f"{empty_server}/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["status"] == "empty"
    _says_what_to_run(health.json()["reason"], data)
    html = {"accept": "text/html"}
    _says_what_to_run(httpx.get(f"{empty_server}/", headers=html, timeout=30).text, data)
    page = httpx.get(f"{empty_server}/search", params={"q": "kadmin"}, headers=html, timeout=30)
    assert page.status_code == 503
    _says_what_to_run(page.text, data)
    rest = httpx.get(f"{empty_server}/api/search", params={"q": "kadmin"}, timeout=30)
    assert rest.status_code == 503
    _says_what_to_run(rest.json()["detail"], data)


async def test_mcp_search_says_nothing_is_indexed(empty_server: str, empty: tuple[Path, Path]) -> None:
    async with mcp_session(empty_server) as session:
        result = await session.call_tool("search_docs", {"query": "kadmin"})
    assert result.isError
    _says_what_to_run(" ".join(c.text for c in result.content if hasattr(c, "text")), empty[1])


@pytest.mark.browser
def test_the_chat_says_nothing_is_indexed(empty_server: str, empty: tuple[Path, Path], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{empty_server}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    answers = '[data-step-type="assistant_message"]'
    page.locator(answers).first.wait_for(timeout=WAIT_MS)  # the welcome
    page.locator("#chat-input").press_sequentially("What does kadmin do?")
    page.click("#chat-submit")
    reply = page.locator(answers, has_text="nothing is indexed")
    reply.wait_for(timeout=WAIT_MS)
    _says_what_to_run(reply.inner_text(), empty[1])
