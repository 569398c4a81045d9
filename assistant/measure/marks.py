"""`mcdewey eval QUESTIONS --marks [MORE.jsonl ...]`: does the page view's mark cover the cited sentence?

Each question is answered as the chat answers it (`Answerer`, the model `MCDEWEY_LLM` names); every
citation of a PDF that quotes a sentence is collected (once per chunk and sentence), and a sample of
them (`--marks-sample`, 200, a fixed seed) is checked page by page: the page view finds its marks
(`page_view.find_marks`), then PDFium is asked, independently of how they were found, which text lies
inside the sentence's boxes (`get_text_bounded`). A page of the sentence counts as covered when the
sentence's letters and digits on that page appear, in order, in the text under its marks, and that text
is not much longer (`MAX_EXTRA`): a mark over the whole paragraph is a miss too. A miss is listed with a
reason read from the page: no text layer (scanned), ligatures, hyphenation, or text drawn out of order.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pypdfium2 as pdfium

from assistant.answerer import Answerer
from assistant.errors import McDeweyError
from assistant.measure.retrieval import Question, load_questions
from assistant.surfaces.cited import quote_on_page
from assistant.surfaces.files import library_file
from assistant.surfaces.links import is_pdf
from assistant.surfaces.page_view import find_marks, quote_pages
from indexing.chunk import Chunk
from indexing.loaders.pdf import _PDFIUM_LOCK
from indexing.pdf_page import Box

if TYPE_CHECKING:
    from assistant.service import LibraryService

SAMPLE = 200
SEED = 22
MAX_EXTRA = 1.5  # the marked text may hold up to 1.5x the sentence's letters (+ a line): its lines' ends
LINE_LETTERS = 90  # about one printed line of a manual, in letters and digits
LIGATURES = frozenset("\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06")


@dataclass
class Checked:
    """One cited sentence on one page: whether the mark covers it, and why not."""

    chunk_id: str
    page: int
    sentence: str
    covered: bool
    reason: str
    level: str | None  # how loosely the page view matched it (exact, hyphenation, case, letters)


def _letters(text: str) -> str:
    return "".join(c.casefold() for c in text if c.isalnum())


def _under(textpage: pdfium.PdfTextPage, boxes: Sequence[Box], top: float, left: float) -> str:
    """The text PDFium finds inside the boxes (top-left coordinates back to the page's own)."""
    return "".join(textpage.get_text_bounded(b.x + left, top - b.y - b.height, b.x + b.width + left, top - b.y)
                   for b in boxes)


def _in_order(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(c in it for c in needle)


def _reason(page_text: str, sentence: str) -> str:
    if len(_letters(page_text)) < 20:
        return "no text layer (a scanned page)"
    if any(c in LIGATURES for c in page_text):
        return "ligatures on the page"
    if "-\r\n" in page_text or "\u00ad" in page_text:
        return "hyphenation at a line end"
    return "text drawn out of order, or read differently by the loader"


def check(path: Path, chunk: Chunk, page: int) -> Checked:
    """Whether the page view's sentence mark on `page` covers the part of the sentence printed there."""
    assert chunk.quote is not None
    part = quote_on_page(chunk, chunk.quote, page)
    marks = find_marks(path, page, chunk, chunk.quote)
    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            pdf_page = pdf[page - 1]
            textpage = pdf_page.get_textpage()
            left, _, _, top = pdf_page.get_bbox()
            marked, page_text = _under(textpage, marks.sentence, top, left), textpage.get_text_range()
        finally:
            pdf.close()
    needle, hay = _letters(part), _letters(marked)
    covered = bool(needle) and _in_order(needle, hay) and len(hay) <= MAX_EXTRA * len(needle) + LINE_LETTERS
    reason = "" if covered else (
        "marked too much" if marks.sentence and _in_order(needle, hay)
        else "the mark lies off the sentence's text" if marks.sentence else _reason(page_text, part))
    return Checked(chunk.chunk_id, page, " ".join(part.split()), covered, reason, marks.sentence_level)


def cited_sentences(service: LibraryService, questions: Sequence[Question]) -> list[Chunk]:
    """Every PDF citation that quotes a sentence, once per (chunk, sentence), in question order."""
    answerer = Answerer(service)
    seen: set[tuple[str, int, int]] = set()
    out: list[Chunk] = []
    for n, q in enumerate(questions, 1):
        try:
            citations = answerer.ask(q.question).result.citations
        except McDeweyError as exc:  # a question the answer path refuses cites nothing; say so and go on
            print(f"\n{q.id}: not answered: {exc}", file=sys.stderr)
            continue
        for c in citations:
            key = (c.chunk_id, c.quote.start, c.quote.end) if c.quote else None
            if key and key not in seen and is_pdf(c.source) and c.page is not None:
                seen.add(key)
                out.append(c)
        print(f"\r{n}/{len(questions)} questions, {len(out)} cited PDF sentences", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def evaluate_marks(service: LibraryService, questions: Sequence[Question], sample: int = SAMPLE) -> dict[str, Any]:
    """The share of sampled cited sentences whose every page is covered by its mark, and the misses."""
    cited = cited_sentences(service, questions)
    picked = random.Random(SEED).sample(cited, min(sample, len(cited)))
    checks = [check(library_file(service.library_root, c.source), c, page)
              for c in picked for page in quote_pages(c, c.quote) if c.quote]
    by_sentence: dict[tuple[str, str], bool] = {}
    for c, chk in ((c, chk) for c in picked for chk in checks if chk.chunk_id == c.chunk_id):
        by_sentence.setdefault((c.chunk_id, str(c.quote)), True)
        by_sentence[(c.chunk_id, str(c.quote))] &= chk.covered
    covered = sum(by_sentence.values())
    return {
        "questions": len(questions), "cited_pdf_sentences": len(cited), "sampled": len(picked),
        "pages_checked": len(checks), "covered": covered,
        "coverage": round(covered / len(picked), 3) if picked else None,
        "across_pages": sum(1 for c in picked if c.quote and len(quote_pages(c, c.quote)) > 1),
        "levels": dict(Counter(chk.level or "not found" for chk in checks)),
        "misses": [asdict(chk) for chk in checks if not chk.covered],
        "loose": [asdict(chk) for chk in checks if chk.covered and chk.level != "exact"],  # why not exact
    }


def marks_table(result: dict[str, Any]) -> str:
    lines = [f"cited PDF sentences: {result['cited_pdf_sentences']} from {result['questions']} questions; "
             f"sampled {result['sampled']} ({result['across_pages']} across two pages, "
             f"{result['pages_checked']} pages checked)",
             f"the mark covers the sentence: {result['covered']} of {result['sampled']} = {result['coverage']}",
             f"matched: {result['levels']}"]
    for miss in result["misses"]:
        lines.append(f"  miss {miss['chunk_id']} p. {miss['page']}: {miss['reason']} — {miss['sentence'][:100]!r}")
    return "\n".join(lines)


def run_marks(service: LibraryService, files: Sequence[Path], as_json: bool) -> int:
    """`mcdewey eval FILE --marks MORE...`: the questions of every file pooled, the figure printed."""
    result = evaluate_marks(service, [q for f in files for q in load_questions(f)])
    print(json.dumps(result, indent=2) if as_json else marks_table(result))
    return 0
