"""The cited sentence marked in a passage's text, for the page view's extracted text and the doc context.

Takes a text and the sentence quoted from it; gives the text escaped with the sentence inside
`<mark class="cited">` (carrying the element id a citation link scrolls to, when given). The sentence
is found whitespace-insensitively (`find_quote`): a part of a chunk shown on its page may have lost the
line breaks or the overlap the chunk's offsets count.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from indexing.chunk import Chunk, find_quote


def mark_sentence(text: str, sentence: str, anchor: str | None = None) -> Markup | str:
    """`text` with `sentence` marked (escaped); `text` unchanged when the sentence is not in it."""
    found = find_quote(text, sentence) if sentence.strip() else None
    if found is None:
        return text
    start, end = found
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return Markup(f'{escape(text[:start])}<mark class="cited"{ident}>{escape(text[start:end])}</mark>'
                  f"{escape(text[end:])}")


def quoted_text(chunk: Chunk) -> str:
    """The sentence a citation of `chunk` quotes ("" for a chunk cited without one)."""
    return chunk.text[chunk.quote.start : chunk.quote.end] if chunk.quote else ""
