"""Screenshots of McDewey for docs/screenshots/: the home page, a chunk, a Markdown original at a page,
the chat with an answer whose citation [1] is open, and a PDF page with its cited sentence marked.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

What a new user gets: `mcdewey ingest` with no --library (the demo library, in a throw-away HOME), then
a real `mcdewey serve` on a free loopback port with the embedded model, photographed by Debian's
/usr/bin/chromium through Playwright (never a browser download). It stops with exit status 1 when a
page asked anything of a host other than 127.0.0.1, or when a PNG is over MAX_BYTES.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
MAX_BYTES = 300_000  # a README image; the chat at 1280x800 is ~100 KB
CHUNK_QUERY = "How does McDewey keep the page numbers of Markdown converted from a PDF?"
MARKDOWN_PAGE = "/files/mcdewey/1.0/user-guide/user-guide.md#page=4"
QUESTION = "How are page numbers kept in Markdown converted from a PDF?"
PDF_QUESTION = "What does MCDEWEY_DATA set?"  # cited from the quick reference PDF, page 3
ANSWER = '[data-step-type="assistant_message"]'
MODEL_WAIT_MS = 600_000  # the embedded model, one thread, on a busy machine


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.surfaces.cli", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(home: Path) -> Iterator[str]:
    """The demo library indexed and served as a new user would; the server's base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCDEWEY_", "CHAINLIT_"))}
    env["HOME"] = str(home)
    subprocess.run(cli("ingest"), cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cli("serve", "--port", str(port)), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def shoot(page: Any, path: Path) -> None:
    page.wait_for_timeout(500)  # fonts and the fragment's scroll settle
    page.screenshot(path=str(path))
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size:,} bytes")


def chat(page: Any, url: str, out: Path, question: str = QUESTION, name: str = "chat.png") -> None:
    page.goto(f"{url}/chat")
    page.locator(ANSWER, has_text="This library holds").wait_for(timeout=120_000)
    page.locator("#chat-input").press_sequentially(question)
    page.click("#chat-submit")
    answer = page.locator(ANSWER).nth(1)
    answer.locator("text=Sources").wait_for(timeout=MODEL_WAIT_MS)
    answer.locator(".element-link", has_text="[1]").first.click()
    page.locator("#side-view-content").wait_for(timeout=60_000)
    if page.locator("#side-view-content img").count():  # a PDF's marked page: wait for the image
        page.wait_for_function("() => [...document.querySelectorAll('#side-view-content img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    shoot(page, out / name)


def take(url: str, out: Path) -> list[str]:
    """Photograph the four views into `out`; the requests that went outside 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    first = httpx.get(f"{url}/api/search", params={"q": CHUNK_QUERY}, timeout=60).json()[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport=VIEWPORT)
        context.on("request", lambda r: None if urlsplit(r.url).hostname in (None, "127.0.0.1")
                   else outside.append(r.url))
        page = context.new_page()
        page.on("console", lambda m: print(f"  console {m.type}: {m.text}") if m.type == "error" else None)
        page.goto(f"{url}/")
        shoot(page, out / "home.png")
        page.goto(f"{url}/chunks/{quote(first['chunk_id'], safe='')}")
        shoot(page, out / "chunk.png")
        page.goto(f"{url}{MARKDOWN_PAGE}")
        shoot(page, out / "markdown-page.png")
        cited = httpx.post(f"{url}/api/ask", json={"question": PDF_QUESTION}, timeout=600).json()["citations"]
        page.goto(next(c["view_url"] for c in cited if "/pages/" in c["view_url"]))
        page.locator("svg.page-image rect.mark-sentence").first.wait_for(timeout=60_000)
        page.wait_for_load_state("networkidle")
        page.locator("svg.page-image rect.mark-sentence").first.scroll_into_view_if_needed()
        shoot(page, out / "page.png")
        chat(page, url, out)
        chat(context.new_page(), url, out, PDF_QUESTION, "chat-pdf.png")
        browser.close()
    return outside


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent (apt-get install -y chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mcdewey-shots-") as tmp, serve(Path(tmp)) as url:
        outside = take(url, args.out.resolve())
    big = [p.name for p in args.out.glob("*.png") if p.stat().st_size > MAX_BYTES]
    for request in outside:
        print(f"outside request: {request}", file=sys.stderr)
    if big:
        print(f"over {MAX_BYTES:,} bytes: {', '.join(big)}", file=sys.stderr)
    return 1 if outside or big else 0


if __name__ == "__main__":
    sys.exit(main())
