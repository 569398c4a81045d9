"""A plain-text manual's passage reads as its paragraphs in every view: wrapped lines joined, lists,
code, option tables and headings kept (the text is HAProxy's configuration.txt, as the index keeps it)."""

from __future__ import annotations

from assistant.surfaces.chat_render import side_text
from assistant.surfaces.passage import chunk_body
from assistant.surfaces.reflow import reflow_plain
from indexing.chunk import Chunk

BUFSIZE = """tune.bufsize <number>
  Sets the buffer size to this size (in bytes). Lower values allow more
  sessions to coexist in the same amount of RAM, and higher values allow some
  applications with very large cookies to work.
  Example :
        tune.bufsize 16384
        tune.maxrewrite 1024
  Arguments :
    <number>   the size in bytes
    <other>    a second column, aligned
  - a list item that is long enough to look like a wrapped line of prose
  - and a second item"""


def test_a_paragraph_is_joined_and_the_rest_kept() -> None:
    lines = reflow_plain(BUFSIZE).split("\n")
    assert lines[0] == "tune.bufsize <number>"  # a heading-like first line, indented apart
    assert lines[1] == ("  Sets the buffer size to this size (in bytes). Lower values allow more sessions to coexist "
                        "in the same amount of RAM, and higher values allow some applications with very large "
                        "cookies to work.")
    assert lines[2:] == BUFSIZE.split("\n")[4:]  # code, the option table and the list as printed


def _chunk(source: str) -> Chunk:
    return Chunk(chunk_id="haproxy::2.6::cfg::configuration::7", text=BUFSIZE, vendor="HAProxy", product="haproxy",
                 version="2.6", doc="cfg", doc_title="Configuration Manual", source=source, ordinal=7)


def test_the_chunk_page_and_the_chat_show_the_same_paragraphs() -> None:
    text = _chunk("haproxy/2.6/cfg/configuration.txt")
    joined = "Lower values allow more sessions to coexist"
    assert joined in str(chunk_body(text, None))
    assert joined in side_text(text, "")  # the chat's side panel
    pdf = _chunk("haproxy/2.6/cfg/configuration.pdf")  # other formats are laid out by their loaders
    assert joined not in str(chunk_body(pdf, None)) and joined not in side_text(pdf, "")
