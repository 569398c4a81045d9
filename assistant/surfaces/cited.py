"""The cited sentence marked in a passage's text, for the page view's extracted text and the doc context.

Takes a text and the sentence quoted from it; gives the text escaped with the sentence inside
`<mark class="cited">` (carrying the element id a citation link scrolls to, when given). The sentence
is found whitespace-insensitively (`find_quote`): a part of a chunk shown on its page may have lost the
line breaks or the overlap the chunk's offsets count.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from assistant.errors import BadRequest
from assistant.service import shown
from indexing.chunk import Chunk, Quote, find_quote

_AT = re.compile(r"(\d{1,9})-(\d{1,9})")


def mark_sentence(text: str, sentence: str, anchor: str | None = None) -> Markup | str:
    """`text` with `sentence` marked (escaped); `text` unchanged when the sentence is not in it."""
    found = find_quote(text, sentence) if sentence.strip() else None
    if found is None:
        return text
    start, end = found
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return Markup(f'{escape(text[:start])}<mark class="cited"{ident}>{escape(text[start:end])}</mark>'
                  f"{escape(text[end:])}")


def parse_at(at: str | None, chunk: Chunk | None) -> Quote | None:
    """`START-END` as a Quote of `chunk`'s text; BadRequest with the reason for anything else."""
    if at is None or at == "":
        return None
    if chunk is None:
        raise BadRequest("'at' names a sentence of a chunk: give 'chunk' too")
    found = _AT.fullmatch(at)
    if found is None:
        raise BadRequest(f"'at' must be START-END (offsets in the chunk's text), not {shown(at)}")
    start, end = int(found[1]), int(found[2])
    if not start < end <= len(chunk.text):
        raise BadRequest(f"'at' {start}-{end} is outside the chunk's text (0-{len(chunk.text)})")
    return Quote(start=start, end=end)


def quote_on_page(chunk: Chunk, cited: Quote, page: int | None) -> str:
    """The part of the cited sentence printed on `page` ("" when none is; all of it without pages)."""
    if page is None or not chunk.page_spans():
        return chunk.text[cited.start : cited.end]
    return "".join(chunk.text[max(cited.start, s.offset) : min(cited.end, end)]
                   for s, end in chunk.page_spans() if s.page == page)


def mark_doc_sections(sections: list[Any], chunk: Chunk, cited: Quote) -> None:
    """On the doc-context page: the cited sentence marked in each part of `chunk` it reaches (on both
    pages of a sentence that runs onto the next), and the chunk's anchor moved from its article onto
    the mark, so a citation link opens at the sentence. `sections` are web.PageSection."""
    for section in sections:
        part = quote_on_page(chunk, cited, section.page)
        for item in section.items:
            if item.chunk.chunk_id == chunk.chunk_id and part.strip():
                marked = mark_sentence(item.text, part, item.anchor)
                if marked is not item.text:
                    item.text, item.anchor = marked, None
