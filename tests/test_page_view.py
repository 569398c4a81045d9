"""The page view over real HTTP: a PDF page rendered on the server, the cited sentence marked over the
characters PDFium prints it with; the doc context and the original marking a text citation; bad input.

The expected character boxes are read here from the PDF with PDFium's own text search, not through
`indexing.pdf_page`, so a mark drawn in the wrong place fails.
"""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest

from assistant.surfaces.links import chunk_anchor, chunk_record
from assistant.surfaces.page_cache import PageCache
from indexing.chunk import Chunk

PDF = "mcdewey/1.0/quick-reference/quick-reference.pdf"
HTML_DOC = "acme/2.0/admin-guide/admin.html"
HTML = {"accept": "text/html"}
RECT = re.compile(r'<rect class="(mark-sentence|mark-line)" x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" '
                  r'height="([\d.]+)"/>')
TOLERANCE = 0.5  # points: PDFium's line rectangle and its character boxes are computed apart


def chunks_of(service: Any, source: str) -> list[Chunk]:
    return [s.chunk for s in service.index.catalog.file_chunks(source)]


def marks(html: str, kind: str) -> list[tuple[float, float, float, float]]:
    return [tuple(map(float, m.groups()[1:])) for m in RECT.finditer(html) if m[1] == kind]  # type: ignore[misc]


def char_boxes(path: Path, page: int, text: str) -> list[tuple[float, float, float, float]]:
    """(x, y, w, h) from the page's top-left of each printed character of `text` (spaces left out: a mark
    may leave the gap between two pieces), found by PDFium's own search."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        pdf_page = pdf[page - 1]
        textpage = pdf_page.get_textpage()
        top = pdf_page.get_height()
        found = textpage.search(text, match_case=True).get_next()
        assert found is not None, f"{text!r} is not printed on page {page}"
        index, count = found
        out = []
        for i in range(index, index + count):
            left, bottom, right, upper = textpage.get_charbox(i)
            if right > left and upper > bottom and not textpage.get_text_range(i, 1).isspace():
                out.append((left, top - upper, right - left, upper - bottom))
        return out
    finally:
        pdf.close()


def covered(box: tuple[float, float, float, float], rects: list[tuple[float, float, float, float]]) -> bool:
    x, y, w, h = box
    return any(rx - TOLERANCE <= x and x + w <= rx + rw + TOLERANCE and ry - TOLERANCE <= y
               and y + h <= ry + rh + TOLERANCE for rx, ry, rw, rh in rects)


def get(url: str, status: int = 200, **params: Any) -> str:
    response = httpx.get(url, params=params or None, headers=HTML, timeout=60)  # {} would drop the URL's own
    assert response.status_code == status, response.text[:500]
    return response.text


def test_the_cited_sentence_is_marked_over_its_characters(server_url: str, service: Any, library: Path) -> None:
    settings = next(c for c in chunks_of(service, PDF) if "MCDEWEY_DATA" in c.text)
    sentence = "MCDEWEY_DATA: where the index is kept."
    record = chunk_record(settings.cited_at(sentence), server_url)
    assert record.quote is not None and record.view_url.startswith(f"{server_url}/pages/{PDF}?page={settings.page}")
    html = get(record.view_url)
    sentence_rects, line_rects = marks(html, "mark-sentence"), marks(html, "mark-line")
    boxes = char_boxes(library / PDF, settings.page or 0, sentence)
    assert sentence_rects and all(covered(b, sentence_rects) for b in boxes)
    neighbour = char_boxes(library / PDF, settings.page or 0, "MCDEWEY_LIBRARY: the library folder.")
    assert not any(covered(b, sentence_rects) for b in neighbour)  # the sentence, not the chunk
    assert all(covered(b, line_rects) for b in neighbour)  # the chunk's other lines, lightly
    assert f"(printed {settings.page_label})" in html and " › ".join(settings.heading) in html
    assert '<mark class="cited">MCDEWEY_DATA: where the index is kept.</mark>' in html  # the text below
    assert f'href="/files/{PDF}#page={settings.page}"' in html
    image = httpx.get(f"{server_url}/page-images/{PDF}", params={"page": settings.page}, timeout=60)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG") and len(image.content) > 10_000


def test_a_sentence_across_two_pages_is_marked_on_both(server_url: str, service: Any, library: Path) -> None:
    first = chunks_of(service, PDF)[0]
    assert [s.page for s in first.page_starts] == [1, 2]
    cited = first.cited_at("at a glance. Commands mcdewey ingest: index the library.")
    assert (cited.page, cited.page_end) == (1, 2)
    html_one = get(chunk_record(cited, server_url).view_url)
    assert all(covered(b, marks(html_one, "mark-sentence")) for b in char_boxes(library / PDF, 1, "at a glance."))
    next_page = re.search(r'<a rel="next" href="([^"]+)"', html_one)
    assert next_page and "at=" in next_page[1]  # paging on keeps the sentence
    html_two = get(server_url + next_page[1].replace("&amp;", "&"))
    on_two = char_boxes(library / PDF, 2, "mcdewey ingest: index the library.")
    assert all(covered(b, marks(html_two, "mark-sentence")) for b in on_two)
    assert not any(covered(b, marks(html_two, "mark-sentence")) for b in char_boxes(library / PDF, 2, "Options"))


def test_a_text_citation_opens_the_doc_context_and_the_original_at_the_sentence(server_url: str, service: Any) -> None:
    chunk = next(c for c in chunks_of(service, HTML_DOC) if "UmssMtaBadMail" in c.text)
    sentence = next(s for s in re.split(r"(?<=\.)\s+", chunk.text) if "UmssMtaBadMail" in s)
    record = chunk_record(chunk.cited_at(sentence), server_url)
    assert record.view_url == record.url and "at=" in record.url
    html = get(record.url.split("#")[0])
    anchor = chunk_anchor(chunk.chunk_id)
    assert record.url.endswith("#" + anchor) and html.count(f'id="{anchor}"') == 1
    mark = re.search(rf'<mark class="cited" id="{anchor}">(.*?)</mark>', html, re.S)
    assert mark and "UmssMtaBadMail" in mark[1]  # the link lands on the sentence, marked
    assert "#:~:text=" in record.file_url  # the original opens at the passage too (a text fragment)
    plain = chunk_record(chunk, server_url)  # a chunk cited without a sentence: its context, as before
    assert "at=" not in plain.url and plain.view_url == plain.url and "#:~:text" not in plain.file_url


def test_bad_page_view_requests_say_why(server_url: str, service: Any) -> None:
    pdf_chunk = chunks_of(service, PDF)[1]
    other = chunks_of(service, HTML_DOC)[0]
    cases = [
        ({"page": 99}, 404, "has pages 1–4, not 99"),
        ({"page": 0}, 404, "not 0"),
        ({"page": "x"}, 422, "page"),
        ({"chunk": other.chunk_id}, 400, f"is from '{HTML_DOC}'"),
        ({"chunk": pdf_chunk.chunk_id, "at": "5-2"}, 400, "outside the chunk's text"),
        ({"chunk": pdf_chunk.chunk_id, "at": "five"}, 400, "START-END"),
        ({"chunk": pdf_chunk.chunk_id, "at": "0-20", "page": 1}, 404, "not on page 1"),
        ({"at": "0-20"}, 400, "give 'chunk' too"),
        ({"chunk": "nope::1::x::y::0"}, 404, "no chunk"),
    ]
    for params, status, reason in cases:
        for accept in ("text/html", "application/json"):
            response = httpx.get(f"{server_url}/pages/{PDF}", params=params, headers={"accept": accept}, timeout=60)
            assert response.status_code == status, (params, response.text[:300])
            text = unescape(response.text)
            assert reason in text and "Traceback" not in text, (params, text[:300])
    assert httpx.get(f"{server_url}/pages/{HTML_DOC}", timeout=60).status_code == 400  # not a PDF
    assert httpx.get(f"{server_url}/pages/nope.pdf", timeout=60).status_code == 404
    assert httpx.get(f"{server_url}/page-images/{PDF}", params={"page": 9}, timeout=60).status_code == 404


def test_a_pdf_that_fails_to_render_is_a_clear_error(
    start_server: Any, service: Any, library: Path, tmp_path: Path
) -> None:
    """The indexed PDF replaced on disk by bytes PDFium cannot open (the index still lists it)."""
    from assistant.service import LibraryService

    broken = tmp_path / "library"
    shutil.copytree(library, broken)
    (broken / PDF).write_bytes(b"%PDF-1.4\n%%EOF\n")
    url = start_server(LibraryService(service.settings.model_copy(update={"library": broken}), service.index))
    for path in (f"/pages/{PDF}?page=1", f"/page-images/{PDF}?page=1"):
        response = httpx.get(url + path, headers=HTML, timeout=60)
        assert response.status_code == 500 and "cannot be" in response.text and "PDFium" in response.text
        assert "Traceback" not in response.text


def test_the_page_cache_keeps_its_byte_bound() -> None:
    cache = PageCache(max_bytes=250)
    renders: list[int] = []

    def make(n: int) -> bytes:
        renders.append(n)
        return bytes(100)

    for n in (1, 2, 1, 3, 4, 1):  # 1 is used again before 3 comes: 2 goes first, then 1 (before 4)
        cache.get(n, lambda n=n: make(n))  # type: ignore[misc]
    assert renders == [1, 2, 3, 4, 1] and cache.bytes <= 250 and len(cache) == 2 and cache.hits == 1
    assert cache.get("big", lambda: bytes(300)) and len(cache) == 2  # larger than the bound: not kept


@pytest.mark.parametrize("bad", ["-1-5", "1-2-3", " 1-2"])
def test_at_is_two_offsets(bad: str) -> None:
    from assistant.errors import BadRequest
    from assistant.surfaces.cited import parse_at

    chunk = Chunk(chunk_id="a::1::d::f::0", text="One sentence here.", vendor="v", product="a", version="1",
                  doc="d", doc_title="D", source="a/1/d/f.pdf", ordinal=0)
    with pytest.raises(BadRequest):
        parse_at(bad, chunk)
    assert parse_at("4-12", chunk) is not None


def test_the_coverage_check_tells_a_covering_mark_from_a_missing_one(service: Any, library: Path) -> None:
    """`mcdewey eval --marks` checks each sentence with PDFium's text under the marks."""
    from assistant.measure.marks import check

    settings = next(c for c in chunks_of(service, PDF) if "MCDEWEY_DATA" in c.text)
    good = check(library / PDF, settings.cited_at("MCDEWEY_DATA: where the index is kept."), settings.page or 0)
    assert good.covered and good.level == "exact" and good.reason == ""
    reworded = settings.model_copy(update={"text": settings.text.replace("index is kept", "vectors are stored")})
    missed = check(library / PDF, reworded.cited_at("MCDEWEY_DATA: where the vectors are stored."), settings.page or 0)
    assert not missed.covered and missed.reason  # not printed on the page: no mark, and a reason


def test_a_turned_page_gets_no_marks_rather_than_wrong_ones(library: Path, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    from indexing.pdf_page import locate

    writer = PdfWriter()
    for number, page in enumerate(PdfReader(library / PDF).pages, 1):
        writer.add_page(page.rotate(90) if number == 3 else page)
    turned = tmp_path / "turned.pdf"
    with turned.open("wb") as out:
        writer.write(out)
    sentence = "MCDEWEY_DATA: where the index is kept."
    assert locate(library / PDF, 3, [sentence])[0].boxes  # upright: marked
    assert locate(turned, 3, [sentence])[0].level is None  # turned: not marked (the page says so)
