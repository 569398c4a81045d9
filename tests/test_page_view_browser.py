"""A reader checks a citation in Debian's chromium (Playwright): ask in the chat, open [1], follow it to
the printed page, and see the mark over the pixels of the cited sentence; a sentence that runs onto the
next page is marked on both; a Markdown citation opens its doc context scrolled to the marked sentence;
a text original opens at the cited sentence.

The sentence's character boxes are read here with PDFium's own search (`test_page_view.char_boxes`) and
scaled to the page image as the browser lays it out; the pixels under the mark are read from a screenshot.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_chat_browser import WAIT_MS, ask, chat_url, open_chat  # noqa: F401  (chat_url: the fixture)
from test_page_view import PDF, char_boxes

from assistant.surfaces.links import chunk_record

QUESTION = "What does MCDEWEY_DATA set?"  # answered from the quick reference PDF, page 3
SENTENCE = "MCDEWEY_DATA: where the index is kept."
MARKDOWN_QUESTION = "How are page numbers kept in Markdown converted from a PDF?"
SLACK_PX = 1.5  # the mark is padded by a point; layout rounds to device pixels


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 700})
    yield ctx
    ctx.close()


def mark_boxes(page: Any) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The page image's box and the sentence marks' boxes, in CSS pixels of the viewport."""
    svg = page.locator("svg.page-image")
    svg.wait_for(timeout=WAIT_MS)
    marks = page.locator("svg.page-image rect.mark-sentence")
    return svg.bounding_box(), [marks.nth(i).bounding_box() for i in range(marks.count())]


def inside(box: tuple[float, float, float, float], rects: list[dict[str, float]]) -> bool:
    x, y, w, h = box
    return any(r["x"] - SLACK_PX <= x and x + w <= r["x"] + r["width"] + SLACK_PX and r["y"] - SLACK_PX <= y
               and y + h <= r["y"] + r["height"] + SLACK_PX for r in rects)


def assert_marked(page: Any, pdf: Path, number: int, text: str) -> None:
    """Every printed character of `text` lies under a sentence mark, and the mark shows ink and tint."""
    page.wait_for_function("() => [...document.images].length === 0 || true")
    svg, rects = mark_boxes(page)
    assert rects, f"no sentence mark on page {number}"
    width_pt = float(page.locator("svg.page-image").get_attribute("viewBox").split()[2])
    scale = svg["width"] / width_pt
    boxes = [(svg["x"] + x * scale, svg["y"] + y * scale, w * scale, h * scale)
             for x, y, w, h in char_boxes(pdf, number, text)]
    assert boxes and all(inside(b, rects) for b in boxes), (rects, boxes[:3])
    first = rects[0]
    page.wait_for_load_state("networkidle")
    shot = Image.open(io.BytesIO(page.screenshot(clip=first))).convert("RGB")
    pixels = list(shot.getdata())
    ink = sum(1 for r, g, b in pixels if r + g + b < 250)  # the sentence's glyphs, drawn by the render
    tint = sum(1 for r, g, b in pixels if r > 200 and g > 150 and b < 170)  # the yellow mark over paper
    assert ink > 20 and tint > len(pixels) // 3, (ink, tint, len(pixels))


@pytest.mark.browser
def test_chat_citation_opens_the_printed_page_with_the_sentence_marked(
    chat_url: str, context: Any, library: Path  # noqa: F811
) -> None:
    page = context.new_page()
    open_chat(page, chat_url)
    answer = ask(page, QUESTION)
    source = answer.locator("li", has_text="McDewey Quick Reference").first  # whichever [n] it is
    source.locator(".element-link").first.click()
    side = page.locator("#side-view-content")
    picture = side.locator("img").first  # the printed page, its sentence marked on the image
    picture.wait_for(timeout=WAIT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 400", arg=picture.element_handle(),
                           timeout=WAIT_MS)
    assert side.locator(".font-bold", has_text="MCDEWEY_DATA").count() == 1  # and in the text, in bold
    with context.expect_page() as opened:
        source.locator("a", has_text="marked page").first.click()
    view = opened.value
    view.wait_for_load_state()
    assert "/pages/" + PDF in view.url and "page=3" in view.url
    quoted = view.locator("mark.cited").inner_text()  # the sentence the answer quotes, as the page's text
    assert SENTENCE.split(":")[0] in quoted
    assert_marked(view, library / PDF, 3, quoted.split(". ")[0])
    assert "printed 2" in view.locator("h1").inner_text()
    view.close()


@pytest.mark.browser
def test_a_sentence_across_two_pages_is_marked_on_both(server_url: str, service: Any, context: Any,
                                                     library: Path) -> None:
    first = next(s.chunk for s in service.index.catalog.file_chunks(PDF) if len(s.chunk.page_starts) > 1)
    cited = first.cited_at("at a glance. Commands mcdewey ingest: index the library.")
    page = context.new_page()
    page.goto(chunk_record(cited, server_url).view_url)
    assert_marked(page, library / PDF, 1, "at a glance.")
    page.click("a[rel=next] >> nth=0")
    page.wait_for_load_state()
    assert_marked(page, library / PDF, 2, "mcdewey ingest: index the library.")


@pytest.mark.browser
def test_a_markdown_citation_opens_scrolled_to_the_marked_sentence(server_url: str, service: Any,
                                                                   context: Any) -> None:
    import httpx

    cited = httpx.post(f"{server_url}/api/ask", json={"question": MARKDOWN_QUESTION}, timeout=120).json()
    record = cited["citations"][0]
    assert record["source"].endswith(".md") and record["quote"], record
    page = context.new_page()
    page.goto(record["view_url"])
    mark = page.locator("mark.cited")
    mark.wait_for(timeout=WAIT_MS)
    assert "marker lines" in mark.inner_text()
    box = mark.bounding_box()
    height = page.evaluate("innerHeight")
    assert page.evaluate("scrollY") > 0 and 0 <= box["y"] < height  # scrolled to it, and it is in view
    assert page.evaluate("document.querySelector(':target').tagName") == "MARK"  # the link's target: the sentence


@pytest.mark.browser
def test_a_text_original_opens_at_the_cited_sentence(start_server: Any, embedder: Any, tmp_path: Path,
                                                     context: Any) -> None:
    """A long plain-text original, indexed in a library of its own (the originals served are the indexed
    ones), opens scrolled to the sentence its citation's file link names, by the link's text fragment."""
    from assistant.service import LibraryService
    from assistant.settings import Settings
    from indexing.index import Index
    from indexing.ingest import Ingester

    lines = [f"Line {i} of the release notes, kept only to make the file long." for i in range(400)]
    lines[300] = "The needle sentence stands here, where the citation points."
    library, data = tmp_path / "library", tmp_path / "data"
    source = "acme/2.0/notes/long.txt"
    (library / source).parent.mkdir(parents=True)
    (library / source).write_text("\n".join(lines), encoding="utf-8")
    index = Index(data, embedder=embedder)
    assert not Ingester(index).run(library).failed
    url = start_server(LibraryService(Settings(library=library, data=data, llm="none"), index))
    chunk = next(s.chunk for s in index.catalog.file_chunks(source) if "needle" in s.chunk.text)
    record = chunk_record(chunk.cited_at(lines[300]), url)
    page = context.new_page()
    page.goto(record.file_url)
    page.wait_for_function("scrollY > 0", timeout=WAIT_MS)
    top = page.evaluate("scrollY") / page.evaluate("document.documentElement.scrollHeight")
    assert 0.6 < top < 0.85  # line 300 of 400, not the top of the file
