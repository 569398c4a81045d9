"""PDF loader: PDFium text per physical page, cut into paragraph blocks by the page layout.

Takes a PDF file and gives a `LoadedDocument`: paragraph blocks with physical page, printed page
label and outline trail, the document's title, its page count and warnings. This module opens and
checks the file and puts the steps together; each step has its own module: `pdf_lines` (the printed
lines and their geometry), `pdf_running_lines` (headers and footers dropped), `pdf_outline` (the
bookmarks as heading trails) and `pdf_paragraphs` (blocks from the layout).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium

from indexing.document import Block, LoadedDocument, LoaderError
from indexing.loaders.clean import heading_title
from indexing.loaders.decoding import read_source, sniff_binary
from indexing.loaders.hyphenation import Vocabulary
from indexing.loaders.pdf_lines import PdfPage, read_pages
from indexing.loaders.pdf_outline import read_outline, title_tokens
from indexing.loaders.pdf_paragraphs import line_spacing, page_blocks, size_key
from indexing.loaders.pdf_running_lines import drop_running_lines

_PDFIUM_ERRORS = {
    1: "unknown PDFium error",
    2: "file could not be opened",
    3: "not a PDF or corrupted (PDFium could not parse it)",
    4: "encrypted PDF (needs a password)",
    5: "unsupported PDF security handler",
    6: "page not found or content error",
}
# PDFium is not thread-safe: one document at a time per process, whatever thread asks.
_PDFIUM_LOCK = threading.Lock()
_NOT_A_TITLE = re.compile(r"(?i)^(untitled|microsoft word|document\d*$)|\.(dvi|tex|docx?|pdf|ps|indd)$")


# --- opening --------------------------------------------------------------------------------------


def _check_bytes(data: bytes) -> str | None:
    """Reject what is plainly not a (complete) PDF with a reason a user understands.

    Returns a warning for a file whose last %%EOF is followed by a lot of other bytes.
    """
    if b"%PDF-" not in data[:1024]:
        kind = sniff_binary(data)
        if kind and kind != "a PDF":
            raise LoaderError(f"not a PDF: the file is {kind}")
        raise LoaderError("not a PDF (no %PDF header)")
    if b"%%EOF" in data[-4096:]:
        return None
    if b"%%EOF" not in data:
        raise LoaderError("truncated PDF (the file ends before its %%EOF marker)")
    return "PDF has data after its last %%EOF marker (truncated update?)"


def _open(data: bytes) -> pdfium.PdfDocument:
    """Open with the empty password (what viewers do); map PDFium's error codes to reasons."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = _PDFIUM_ERRORS.get(getattr(exc, "err_code", None) or 0, f"PDFium could not open it ({exc})")
        raise LoaderError(reason) from exc


# --- title ----------------------------------------------------------------------------------------


def _is_heading_like(text: str, limit: int = 120) -> bool:
    """Short, single-line, with letters: could be a title."""
    text = text.strip()
    return 0 < len(text) <= limit and "\n" not in text and any(ch.isalpha() for ch in text)


def _largest_type(pages: list[PdfPage]) -> str | None:
    """The biggest text on the first page that has text: usually the title on a title page."""
    for page in pages[:3]:
        if not page.lines:
            continue
        top = max(line.size for line in page.lines)
        picked: list[str] = []
        for line in page.lines:
            if line.size >= top - 0.5:
                picked.append(line.text)
            elif picked:
                break
        text = heading_title(" ".join(picked))
        return text if _is_heading_like(text, 200) else None
    return None


def _title(meta: str, pages: list[PdfPage], outline_titles: list[str]) -> str | None:
    """Metadata Title when the first pages confirm it, else the largest type on the title page."""
    meta = heading_title(meta)
    sensible = bool(meta) and _is_heading_like(meta, 200) and not _NOT_A_TITLE.search(meta)
    first_words = " ".join(
        " ".join(title_tokens(line.text, strip_numbering=False)) for page in pages[:3] for line in page.lines
    )
    if sensible and " ".join(title_tokens(meta, strip_numbering=False)) in first_words:
        return meta
    big = _largest_type(pages)
    if big:
        return big
    if sensible:
        return meta
    return outline_titles[0] if outline_titles else None


# --- entry point ----------------------------------------------------------------------------------


def load_pdf(path: Path) -> LoadedDocument:
    """Parse a PDF into paragraph blocks with physical page, printed label and outline trail."""
    data = read_source(path)
    warning = _check_bytes(data)
    warnings: list[str] = [warning] if warning else []
    with _PDFIUM_LOCK:
        doc = _open(data)
        try:
            n_pages = len(doc)
            pages = read_pages(doc, warnings)
            outline, outline_titles = read_outline(doc, n_pages)
            meta_title = doc.get_metadata_value("Title")
        except pdfium.PdfiumError as exc:
            raise LoaderError(f"PDF could not be read ({exc})") from exc
        finally:
            doc.close()
    if not any(page.lines for page in pages):
        warnings.append("no text layer (scanned?)")
        return LoadedDocument(blocks=[], title=_title(meta_title, pages, outline_titles), pages=n_pages,
                              warnings=warnings)
    drop_running_lines(pages)
    spacing = line_spacing(pages)
    sizes = Counter(size_key(line.size) for page in pages for line in page.lines if not line.mono)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    vocabulary = Vocabulary(line.text for page in pages for line in page.lines)
    blocks: list[Block] = []
    trail: list[str] = []
    for i, page in enumerate(pages):
        new_blocks, trail = page_blocks(page, outline.get(i, []), i + 1, trail, spacing, body, vocabulary)
        blocks.extend(new_blocks)
    return LoadedDocument(
        blocks=blocks, title=_title(meta_title, pages, outline_titles), pages=n_pages, warnings=warnings
    )
