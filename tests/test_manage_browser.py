"""The library management page as a person uses it, in Debian's chromium (Playwright): reach it from
the home page, fill the names with the keyboard, pick a PDF the test makes, upload it, watch its job
finish, find its text in search, open its chunk at the right page, remove it, see search no longer
find it, restore it from the trash."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_admin import JOB_SECONDS, make_pdf

PHRASE = "The orbital tether winch reels in at forty metres per minute."
pytestmark = pytest.mark.browser


def _job_done(page: Any, kind: str) -> None:
    page.wait_for_selector(f"#jobs li[data-state=done] >> text=/^{kind} /", timeout=JOB_SECONDS * 1000)


def _search_hits(url: str) -> list[str]:
    hits = httpx.get(f"{url}/api/search", params={"q": "orbital tether winch metres"}, timeout=60).json()
    return [h["source"] for h in hits]


def test_upload_search_remove_restore_in_the_browser(admin_server: Any, browser: Any, tmp_path: Path) -> None:
    server = admin_server()
    pdf = tmp_path / "tether.pdf"
    pdf.write_bytes(make_pdf(PHRASE, pages=3))
    page = browser.new_page()
    page.goto(f"{server.url}/")
    page.click("header.site nav >> text=Manage")
    page.wait_for_url(re.compile(r"/manage$"))

    page.focus("input[name=product]")
    page.keyboard.type("orbital")
    page.keyboard.press("Tab")
    page.keyboard.type("4.1")
    page.keyboard.press("Tab")
    page.keyboard.type("ops-guide")
    page.keyboard.press("Tab")
    page.keyboard.type("Orbital Operations Guide")
    page.set_input_files("#files", str(pdf))
    page.focus("#upload-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#uploads li.upload >> text=queued as a job")
    assert page.eval_on_selector("#uploads li.upload progress", "p => p.value") == 100
    _job_done(page, "add")

    page.goto(f"{server.url}/search?q=orbital+tether+winch+metres")
    page.locator("ol.results li.result a.result-title").first.click()
    page.wait_for_url(re.compile(r"/chunks/"))
    main = page.inner_text("main")
    assert "winch reels in at forty metres" in main and "Orbital Operations Guide" in main
    assert re.search(r"pages? (\d–)?3\b", main), main  # the chunk runs onto page 3, where the phrase is
    page.click("text=View in doc context")
    page.wait_for_url(re.compile(r"/docs/.*#chunk-"))
    page_three = page.locator("section", has=page.locator("h2.page-header", has_text=re.compile(r"^Page 3$")))
    assert "winch reels in at forty metres" in page_three.inner_text()

    page.goto(f"{server.url}/manage")
    page.click("#tree button >> text='Remove orbital/4.1/ops-guide'")
    _job_done(page, "remove")
    assert "orbital/4.1/ops-guide/tether.pdf" not in _search_hits(server.url)

    page.click("#trash button >> text='Restore orbital/4.1/ops-guide'")
    _job_done(page, "restore")
    assert _search_hits(server.url)[0] == "orbital/4.1/ops-guide/tether.pdf"
    assert (server.library / "orbital/4.1/ops-guide/tether.pdf").is_file()


def test_dropped_file_is_uploaded(admin_server: Any, browser: Any) -> None:
    """Drag and drop: a file dropped on the zone is the one uploaded (refused here: it is empty)."""
    server = admin_server()
    page = browser.new_page()
    page.goto(f"{server.url}/manage")
    for name, value in (("product", "p"), ("version", "1"), ("doc", "d")):
        page.fill(f"input[name={name}]", value)
    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File([""], "dropped.md", {type: "text/markdown"}));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", {dataTransfer: data}));
    }""")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#uploads li.error >> text=dropped.md: dropped.md: is empty")
    assert not (server.library / "p").exists()
