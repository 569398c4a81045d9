"""The chat's messages as Markdown: the answer with its [n] markers, the sources, the side-panel texts.

Takes an `AnswerResult`; gives the message and one side-panel text per source. Document text is
untrusted: everything taken from the library or the model is Markdown-escaped here, so a manual
cannot inject links, images or markup into the chat. Pure functions: no Chainlit import, so the
rendering is tested without a browser.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import NamedTuple

from assistant.answering.results import AnswerResult
from assistant.surfaces.links import doc_href, file_href, is_pdf, page_image_href, quoted, view_href
from assistant.surfaces.passage import body_text
from assistant.surfaces.reflow import is_plain_text, reflow_plain
from indexing.chunk import Chunk, find_quote

_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_MARKER = re.compile(r"(\[\d{1,3}\])")
_INDENT = re.compile(r"\n[ \t]+")


def md_escape(text: str) -> str:
    """Text that Markdown shows literally: every ASCII punctuation mark backslash-escaped (CommonMark
    allows that for all of them), so no link, image, emphasis, heading, HTML tag or entity survives.
    Indentation after a line break is dropped, so no line turns into a code block (where the escapes
    would show); other spaces stay, so streamed tokens and fragments join up as written."""
    text = _INDENT.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _MD_SPECIAL.sub(r"\\\1", text)


def escape_answer(answer: str) -> str:
    """The answer escaped, except its [n] markers, which stay as they are to link to the sources.
    Its line breaks (a quoted command or list) stay line breaks: Markdown's hard break, two spaces."""
    escaped = "".join(part if _MARKER.fullmatch(part) else md_escape(part) for part in _MARKER.split(answer))
    return escaped.replace("\n", "  \n")


def source_label(chunk: Chunk) -> str:
    """'Acme Router 2.0 Administration · 2.0 · p. 3 (printed iii) · Mail delivery › Purging', escaped."""
    title = f"**{md_escape(chunk.doc_title or chunk.doc)}**"
    parts = [title, md_escape(chunk.version)]
    if chunk.pages_text():
        parts.append(md_escape(chunk.pages_text()))
    trail = [h for h in chunk.heading if h.strip() and h.strip() != chunk.doc_title.strip()]
    if trail:
        parts.append(" › ".join(md_escape(h) for h in trail))
    return " · ".join(parts)


def source_links(chunk: Chunk, base: str) -> str:
    """The printed page with the sentence marked (PDFs), the doc context at the sentence, the original."""
    context_url = doc_href(chunk.source, chunk.page, chunk.chunk_id, base, chunk.quote)
    file_url = file_href(chunk.source, chunk.page, base, quoted(chunk))
    file_text = f"original file, p. {chunk.page}" if chunk.page is not None else "original file"
    links = [f"[in context]({context_url})", f"[{file_text}]({file_url})"]
    if is_pdf(chunk.source) and chunk.page is not None:
        links.insert(0, f"[marked page]({view_href(chunk, base)})")
    return " · ".join(links)


def marked_text(text: str, chunk: Chunk) -> str:
    """`text` (the chunk's, maybe laid out again) escaped, the sentence the citation quotes in bold."""
    sentence = quoted(chunk)
    found = find_quote(text, sentence) if sentence.strip() else None
    if found is None:
        return md_escape(text)
    start, end = found
    return f"{md_escape(text[:start])}**{md_escape(text[start:end])}**{md_escape(text[end:])}"


def page_picture(chunk: Chunk, base: str) -> str:
    """A PDF chunk's printed page, its cited sentence marked on the image, as Markdown ("" otherwise)."""
    if not is_pdf(chunk.source) or chunk.page is None:
        return ""
    url = page_image_href(chunk.source, chunk.page, base, chunk.chunk_id, chunk.quote)
    return f"![page {chunk.page}, the cited passage marked]({url})\n\n"


class SourceView(NamedTuple):
    """One cited (or closest) chunk: the side-panel element `name` ("[1]") and its Markdown."""

    name: str
    chunk: Chunk
    content: str


class Rendered(NamedTuple):
    content: str
    sources: list[SourceView]


def side_text(chunk: Chunk, base: str, text: str | None = None) -> str:
    """What the side panel shows for a chunk: where it is, its text (escaped; `text` when the chunk's
    source lays it out better, see `chat.laid_out`), and the two links."""
    head = source_label(chunk)
    if text is None and is_plain_text(chunk.source):  # a text manual's wrapped lines joined, as every view shows
        text = reflow_plain(body_text(chunk))
    body = marked_text((text or chunk.text).strip(), chunk)
    return f"{head}\n\n{page_picture(chunk, base)}{body}\n\n{source_links(chunk, base)}"


def listed_chunks(result: AnswerResult) -> list[Chunk]:
    """The chunks under the answer: its citations, or the closest passages when it declined."""
    return result.citations if not result.declined else result.passages


def render_answer(result: AnswerResult, base: str = "", texts: Mapping[str, str] | None = None) -> Rendered:
    """The final message: the answer with [n] markers, the note, what was searched, and the sources
    (`texts`: chunk id → its text laid out for the side panel)."""
    texts = texts or {}
    views = [SourceView(f"[{n}]", c, side_text(c, base, texts.get(c.chunk_id)))
             for n, c in enumerate(listed_chunks(result), 1)]
    parts = [escape_answer(result.answer) if not result.declined else md_escape(result.answer)]
    if result.declined:
        reason = (result.note or "").removeprefix("Declined: ").strip()
        if reason:
            parts.append(f"*Why:* {md_escape(reason)}")
    elif result.note:
        parts.append(f"⚠️ {md_escape(result.note)}")
    if result.declined or result.query.strip() != result.question.strip():
        parts.append(f"*Searched:* {md_escape(result.scope)}, for “{md_escape(result.query)}”")
    if views:
        heading = "**Closest passages** (they do not answer the question)" if result.declined else "**Sources**"
        lines = [f"- {v.name} {source_label(v.chunk)} — {source_links(v.chunk, base)}" for v in views]
        parts.append(heading + "\n\n" + "\n".join(lines))
    return Rendered("\n\n".join(parts), views)

