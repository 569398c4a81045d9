"""The chat in a real browser (Debian chromium through Playwright), against real servers.

- The session's server (`llm="none"`: retrieval-only answers, deterministic and quick; a child
  process serving the same library if Chainlit was mounted on another app first): ask, see the
  answer with `[1]` and its sources, open `[1]` in the side panel, follow the doc-context link to the
  highlighted passage (on its page when the document is paged), ask a follow-up, use the filters.
- A server of its own in a child process with `MCDEWEY_API_TOKEN` and the embedded model (Chainlit's
  login and its auth secret are per process): without a login the chat does not answer (checked over
  HTTP and socket.io, and in the browser); after logging in, the answer streams in, then shows its
  sources.

Chainlit's page would ask a CDN for fonts and KaTeX; `chat_root.keep_page_offline` drops those links, and
the `browser` fixture fails any test whose pages ask a host other than 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fixtures_server import serve_process

from assistant.surfaces.links import chunk_anchor

QUESTION = "Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?"
PAGED_QUESTION = "How are page numbers kept in Markdown converted from a PDF?"
TOKEN = "chat-login-token"
ANSWER = '[data-step-type="assistant_message"]'
WAIT_MS = 60_000
MODEL_WAIT_MS = 240_000  # the embedded model on a busy 2-core machine




def open_chat(page: Any, url: str) -> None:
    page.goto(f"{url}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    page.locator(ANSWER, has_text="This library holds").wait_for(timeout=WAIT_MS)  # the welcome


def ask(page: Any, question: str, timeout: float = WAIT_MS) -> Any:
    """Type and send `question`; return the finished answer (the message that lists its sources)."""
    before = page.locator(ANSWER).count()
    page.locator("#chat-input").press_sequentially(question)
    page.click("#chat-submit")
    page.wait_for_function(f"document.querySelectorAll('{ANSWER}').length > {before}", timeout=timeout)
    answer = page.locator(ANSWER).nth(before)
    answer.locator("text=Sources").wait_for(timeout=timeout)
    return answer


def context_link(answer: Any, n: int = 1) -> Any:
    """The 'in context' link of source [n] in the answer's sources list."""
    return answer.locator("li", has=answer.page.locator(".element-link", has_text=f"[{n}]")).locator(
        "a", has_text="in context").first


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies and tabs) at a desktop size, closed after the test."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    yield ctx
    ctx.close()


def open_cited_passage(context: Any, link: Any, chunk_id: str) -> tuple[Any, Any]:
    """Follow a source's doc-context link (Chainlit opens it in a new tab): that tab and the cited passage,
    which must be highlighted."""
    with context.expect_page() as opened:
        link.click()
    doc = opened.value
    doc.wait_for_load_state()
    anchor = doc.locator(f"#{chunk_anchor(chunk_id)}")
    if anchor.evaluate("e => e.tagName") == "MARK":  # a cited sentence carries the anchor (issue 22)
        assert anchor.get_attribute("class") == "cited"
        anchor = doc.locator("article.chunk", has=anchor)
    assert "highlighted" in (anchor.get_attribute("class") or "").split()
    return doc, anchor


# --- the session's server -------------------------------------------------------------------------


@pytest.mark.browser
def test_chat_answer_cites_opens_the_passage_and_follows_up(chat_url: str, context: Any) -> None:
    expected = httpx.post(f"{chat_url}/api/ask", json={"question": QUESTION}, timeout=120).json()["citations"][0]
    page = context.new_page()
    open_chat(page, chat_url)
    answer = ask(page, QUESTION)
    body = answer.inner_text()
    assert "UmssMtaBadMail" in body and "Acme Router 2.0 Administration" in body
    marker = answer.locator(".element-link", has_text="[1]").first  # [1] in the text links its chunk
    assert marker.is_visible()
    panel = page.locator("#side-view-title")
    page.wait_for_timeout(1500)
    assert panel.count() == 0  # the passage panel waits for a click (Chainlit would open it unasked)

    marker.click()  # the cited chunk's text in the side panel, and only it
    side = page.locator("#side-view-content")
    side.locator("text=purge_badmail_days").wait_for(timeout=WAIT_MS)
    assert "UmssMtaBadMail folder holds messages" in side.inner_text()
    assert panel.inner_text().strip() == "[1]" and side.locator(":scope > *").count() == 1
    page.wait_for_timeout(1500)
    assert panel.count() == 1  # what the reader opened stays open

    link = context_link(answer)
    href = link.get_attribute("href")
    assert href == expected["url"].removeprefix(chat_url)  # the same link REST hands out, root-relative
    doc, target = open_cited_passage(context, link, expected["chunk_id"])
    assert re.search(r"/docs/acme/2\.0/admin-guide/admin\.html\?chunk=.*#chunk-", doc.url), doc.url
    assert "UmssMtaBadMail" in target.inner_text()
    doc.close()

    follow_up = ask(page, "And in 1.6?")  # the conversation carries the subject over
    assert "/docs/acme/1.6/admin-guide/" in (context_link(follow_up).get_attribute("href") or "")
    assert "UmssMtaBadMail" in follow_up.inner_text()
    page.wait_for_timeout(1500)
    assert panel.count() == 0  # not reopened with every passage of the conversation


@pytest.mark.browser
def test_chat_cites_the_page_of_a_paged_document_and_escapes_its_text(chat_url: str, context: Any) -> None:
    page = context.new_page()
    open_chat(page, chat_url)
    answer = ask(page, PAGED_QUESTION)
    body = answer.inner_text()
    assert "<!-- page N -->" in body  # document text shown literally, not as (hidden) HTML
    assert "p. 4" in body and "original file, p. 4" in body
    answer.locator(".element-link", has_text="[1]").first.click()
    side = page.locator("#side-view-content")
    side.locator("text=Headings build").wait_for(timeout=WAIT_MS)
    # laid out as on the chunk page: the source's wrapped paragraph is one paragraph, not ragged lines
    assert "converted from a PDF keeps its page numbers through marker lines of the form <!-- page N -->; a form " \
        "feed also starts a new page. Headings build the heading trail shown with each citation." in side.inner_text()
    link = context_link(answer)
    href = link.get_attribute("href") or ""
    assert href.startswith("/docs/mcdewey/1.0/user-guide/user-guide.md?page=4&chunk=")
    found = re.search(r"chunk=([^&#]+)", href)
    assert found is not None
    doc, target = open_cited_passage(context, link, unquote(found.group(1)))
    header = target.locator("xpath=ancestor::section[1]/h2[contains(@class, 'page-header')]")
    assert header.inner_text().strip() == "Page 4"
    doc.close()


@pytest.mark.browser
def test_a_citation_in_a_chunk_spanning_two_pages_opens_the_page_of_its_sentence(chat_url: str, context: Any) -> None:
    """The quick reference's first chunk starts on its cover (p. i) and goes on to page 2, where the answer
    is: the citation, its in-context link and the page it opens name page 2, not the cover."""
    page = context.new_page()
    open_chat(page, chat_url)
    answer = ask(page, "What does mcdewey bench measure?")
    assert "ingest speed, search latency, concurrency and answer latency" in answer.inner_text()
    link = context_link(answer)
    href = link.get_attribute("href") or ""
    assert href.startswith("/docs/mcdewey/1.0/quick-reference/quick-reference.pdf?page=2&chunk="), href
    found = re.search(r"chunk=([^&#]+)", href)
    assert found is not None
    doc, target = open_cited_passage(context, link, unquote(found.group(1)))
    header = target.locator("xpath=ancestor::section[1]/h2[contains(@class, 'page-header')]")
    assert header.inner_text().strip().startswith("Page 2")
    assert "ingest speed" in target.inner_text()  # the page's own text, not "No text on this page"
    doc.close()


@pytest.mark.browser
def test_chat_settings_filter_the_product_and_version(chat_url: str, context: Any) -> None:
    page = context.new_page()
    open_chat(page, chat_url)
    page.click("#chat-settings-open-modal")
    page.click("#product")
    page.get_by_role("option", name="acme", exact=True).click()
    page.click("#version")
    page.get_by_role("option", name="1.6", exact=True).click()
    page.get_by_role("button", name="Confirm").click()
    answer = ask(page, "Which folder holds messages the transfer agent could not deliver?")
    assert "/docs/acme/1.6/" in (context_link(answer).get_attribute("href") or "")


# --- a server with a token (its own process) ------------------------------------------------------


@contextmanager
def spawn_server(library: Path, data: Path, work: Path, **settings: str) -> Iterator[str]:
    """`mcdewey serve` in a child process on a copy of the index at `data`; its base URL."""
    with serve_process(library, data, work, **settings) as (url, _):
        yield url


@pytest.fixture(scope="module")
def chat_url(server_url: str, library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's server when it serves the chat; else (Chainlit, one per process, was mounted on
    another app an earlier test built) the same library served by a child process (`llm="none"`)."""
    if httpx.get(f"{server_url}/chat/", timeout=30).status_code == 200:
        yield server_url
        return
    with spawn_server(library, indexed, tmp_path_factory.mktemp("chat-server"), llm="none") as url:
        yield url


@pytest.fixture(scope="module")
def token_server(library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with MCDEWEY_API_TOKEN and the embedded model, in its own process (Chainlit's login
    and its auth secret are per process)."""
    with spawn_server(library, indexed, tmp_path_factory.mktemp("token-server"), api_token=TOKEN,
                      llm="embedded", llm_threads="1") as url:
        yield url


def socket_connect(client: httpx.Client) -> str:
    """Open Chainlit's socket.io session over HTTP long-polling; return the server's reply to CONNECT."""
    path, query = "/chat/ws/socket.io/", {"EIO": "4", "transport": "polling"}
    opened = client.get(path, params=query)
    assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
    sid = json.loads(opened.text[1:])["sid"]
    auth = {"sessionId": f"test-{time.monotonic_ns()}", "clientType": "webapp"}
    sent = client.post(path, params={**query, "sid": sid}, content="40" + json.dumps(auth))
    assert sent.status_code == 200, sent.text
    return client.get(path, params={**query, "sid": sid}).text


def test_chat_without_login_does_not_answer(token_server: str) -> None:
    with httpx.Client(base_url=token_server, timeout=60) as client:
        assert client.get("/chat/auth/config").status_code == 401  # the site's one sign-in guards the chat
        opened = client.get("/chat/ws/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert opened.status_code == 401  # no socket, no answers
        assert client.post("/login", data={"token": "wrong", "next": "/chat"}).status_code == 401
        assert client.get("/chat/auth/config").status_code == 401
        signed_in = client.post("/login", data={"token": TOKEN, "next": "/chat"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/chat"
        assert not client.get("/chat/auth/config").json().get("requireLogin")  # no second login
        assert socket_connect(client).startswith("40")  # CONNECT accepted with the site's cookie
    # a client without the cookie or the token still gets nothing from the REST API
    assert httpx.post(f"{token_server}/api/ask", json={"question": QUESTION}, timeout=60).status_code == 401


@pytest.mark.browser
@pytest.mark.slow
def test_chat_login_then_a_streamed_answer_with_sources(token_server: str, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{token_server}/chat")  # one sign-in for the site and the chat: the site's login page
    password = page.locator("#token")
    password.wait_for(timeout=WAIT_MS)
    assert "/login?next=%2Fchat" in page.url
    assert page.locator("#chat-input").count() == 0  # no chat before the login

    password.fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong token.").wait_for(timeout=WAIT_MS)
    assert page.locator("#chat-input").count() == 0

    page.locator("#token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    page.locator(ANSWER, has_text="This library holds").wait_for(timeout=WAIT_MS)
    assert page.locator('input[type="password"]').count() == 0  # the chat asks for no login of its own
    page.goto(f"{token_server}/")  # and the library pages need none either
    assert page.url == f"{token_server}/" and page.locator("#token").count() == 0
    page.goto(f"{token_server}/chat")
    page.wait_for_selector("#chat-input", timeout=WAIT_MS)
    page.locator(ANSWER, has_text="This library holds").wait_for(timeout=WAIT_MS)

    page.locator("#chat-input").press_sequentially(QUESTION)
    page.click("#chat-submit")
    # While the model writes, the message grows without its sources; then the final answer replaces it.
    answer = page.locator(ANSWER).nth(1)
    answer.wait_for(timeout=MODEL_WAIT_MS)
    partial: set[str] = set()
    deadline = time.monotonic() + MODEL_WAIT_MS / 1000
    while time.monotonic() < deadline:
        text = answer.inner_text()
        if "Sources" in text:
            break
        if text.strip():
            partial.add(text.strip())
        page.wait_for_timeout(100)
    final = answer.inner_text()
    assert "Sources" in final, final
    assert len(partial) >= 2, partial  # it streamed: several growing drafts before the final answer
    assert any(re.search(r"\w \w", p) for p in partial), partial  # tokens joined with their spaces
    assert answer.locator(".element-link", has_text="[1]").count() >= 1
    assert "/docs/acme/2.0/admin-guide/admin.html" in (context_link(answer).get_attribute("href") or "")
