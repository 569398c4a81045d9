"""The chat's pieces that need no browser: the message built from an AnswerResult (citations, sources,
links, side-panel texts, escaping), the settings panel, the welcome text, the login check, and that
importing the chat loads no model. The browser path is in test_chat_browser.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.answering.results import AnswerResult
from assistant.service import DocumentInfo, LibraryListing, ProductInfo, VendorInfo, VersionInfo
from assistant.surfaces import chat_render as render
from indexing.chunk import Chunk

ROOT = Path(__file__).resolve().parents[1]

chat = pytest.importorskip("assistant.surfaces.chat")


def make_chunk(product: str, version: str, n: int, text: str, page: int | None = None, **extra: Any) -> Chunk:
    return Chunk(
        chunk_id=f"{product}::{version}::guide::guide::{n}", text=text, vendor="Vendor", product=product,
        version=version, doc="guide", doc_title=extra.pop("doc_title", f"{product.title()} {version} Guide"),
        source=f"{product}/{version}/guide/guide.{'pdf' if page else 'html'}", page=page, ordinal=n, **extra,
    )


BADMAIL = make_chunk("acme", "2.0", 0, "The UmssMtaBadMail folder holds messages that could not be delivered.",
                     heading=["Acme 2.0 Guide", "Mail delivery"], doc_title="Acme 2.0 Guide")
QUEUE = make_chunk("acme", "2.0", 7, "The queue is flushed every 5 minutes.", page=12, page_label="x",
                   heading=["Queues"])
HOSTILE = make_chunk(
    "evil", "1.0", 3,
    "Click [here](javascript:alert(1)) or ![x](http://tracker.example/p.png) <script>alert(2)</script>\n"
    "    indented like code &amp; entity\n# not a heading",
    page=2, doc_title="Evil *Guide* [1]", heading=["<b>bold</b>"],
)


def shown(markdown: str) -> str:
    """What Markdown displays for escaped text: the backslashes gone."""
    return re.sub(r"\\(.)", r"\1", markdown)


def result(**fields: Any) -> AnswerResult:
    question = "Where do undeliverable messages go?"
    return AnswerResult(**{"question": question, "query": question, **fields})


# --- the answer message ---------------------------------------------------------------------------


def test_answer_lists_sources_in_cited_order_with_links_and_side_texts() -> None:
    r = result(answer="They go to the UmssMtaBadMail folder [1]. The queue is flushed every 5 minutes [2].",
               citations=[BADMAIL, QUEUE])
    rendered = render.render_answer(r)
    content = rendered.content
    # the [n] markers stay as they are: Chainlit links them to the side-panel elements of that name
    assert "UmssMtaBadMail folder [1]" in content and "5 minutes [2]" in content
    assert [v.name for v in rendered.sources] == ["[1]", "[2]"]
    assert [v.chunk.chunk_id for v in rendered.sources] == [BADMAIL.chunk_id, QUEUE.chunk_id]
    sources = content.split("**Sources**", 1)[1]
    first, second = sources.strip().splitlines()
    assert first.startswith("- [1] **Acme 2\\.0 Guide** · 2\\.0 · Mail delivery")  # title not repeated in the trail
    assert "(/docs/acme/2.0/guide/guide.html?chunk=acme%3A%3A2.0%3A%3Aguide%3A%3Aguide%3A%3A0#chunk-" in first
    assert "[original file](/files/acme/2.0/guide/guide.html)" in first
    assert second.startswith("- [2] **Acme 2\\.0 Guide** · 2\\.0 · p\\. 12 \\(printed x\\) · Queues")
    assert "/docs/acme/2.0/guide/guide.pdf?page=12&chunk=" in second
    assert "[original file, p. 12](/files/acme/2.0/guide/guide.pdf#page=12)" in second
    side = rendered.sources[1].content
    assert "The queue is flushed every 5 minutes\\." in side and "#page=12" in side


def test_links_are_absolute_under_a_public_url() -> None:
    from assistant.settings import Settings

    base = chat.link_base(Settings(public_url="https://docs.example.org/"))
    assert base == "https://docs.example.org"
    assert chat.link_base(Settings()) == ""  # same origin: root-relative
    content = render.render_answer(result(answer="x [1].", citations=[QUEUE]), base).content
    assert "(https://docs.example.org/files/acme/2.0/guide/guide.pdf#page=12)" in content


def test_document_text_cannot_inject_markdown_or_html() -> None:
    r = result(answer="See [here](javascript:alert(1)) <img src=x onerror=alert(3)> **now** [1].", citations=[HOSTILE])
    rendered = render.render_answer(r)
    own_picture = re.compile(r"^!\[page 2, the cited passage marked\]\(/page-images/[^)\s]+\)$", re.M)
    assert len(own_picture.findall(rendered.sources[0].content)) == 1  # McDewey's own image of the page
    for text in (rendered.content, own_picture.sub("", rendered.sources[0].content)):
        # every bracket, tag, bang and ampersand of the document is backslash-escaped: shown, not rendered
        assert not re.search(r"(?<!\\)(\]\(javascript|!\[|<script|<img|<b>|&amp;)", text), text
    assert "<script>alert(2)</script>" in shown(rendered.sources[0].content)
    assert "\\[here\\]\\(javascript\\:alert\\(1\\)\\)" in rendered.content
    assert rendered.content.split("\n\n", 1)[0].endswith("[1]\\.")  # the marker itself stays live
    side = rendered.sources[0].content
    assert "\nindented like code" in side  # no 4-space indent: no code block where escapes would show
    assert "\n\\# not a heading" in side
    assert "**Evil \\*Guide\\* \\[1\\]**" in side  # a "[1]" in a title is not a citation link


def test_md_escape_is_what_markdown_shows_literally() -> None:
    assert render.md_escape("a_b *c* `d` 2.0") == "a\\_b \\*c\\* \\`d\\` 2\\.0"
    assert render.md_escape("x\r\n\ty\n    z") == "x\ny\nz"
    assert render.md_escape(" folder") == " folder"  # a streamed token keeps its leading space
    assert render.escape_answer("x [1][2]. [x]") == "x [1][2]\\. \\[x\\]"
    assert render.escape_answer("see [1] and [2] too") == "see [1] and [2] too"


def test_a_decline_says_what_was_searched_and_lists_the_closest_passages() -> None:
    r = result(question="What is the capital of Mongolia?", query="What is the capital of Mongolia?",
               answer="The library does not hold an answer to this question. Searched: the whole library.",
               declined=True, passages=[BADMAIL, QUEUE], note="Declined: no passage mentions mongolia.")
    rendered = render.render_answer(r)
    assert rendered.content.startswith("The library does not hold an answer")
    assert "*Why:* no passage mentions mongolia\\." in rendered.content
    assert "*Searched:* the whole library, for “What is the capital of Mongolia?”" in shown(rendered.content)
    assert "**Closest passages** (they do not answer the question)" in rendered.content
    assert "**Sources**" not in rendered.content
    assert [v.chunk for v in rendered.sources] == [BADMAIL, QUEUE]


def test_a_degraded_answer_says_why_and_still_shows_its_sources() -> None:
    note = "The language model is unavailable (cannot reach Ollama); here are the passages."
    r = result(answer="The UmssMtaBadMail folder holds messages that could not be delivered [1].",
               citations=[BADMAIL], passages=[BADMAIL], note=note)
    content = render.render_answer(r).content
    assert "⚠️ The language model is unavailable \\(cannot reach Ollama\\)" in content
    assert "**Sources**" in content and "- [1] " in content


def test_a_rewritten_follow_up_shows_what_was_searched() -> None:
    r = result(question="And in 1.6?", query="Where do undeliverable messages go in Acme 1.6? And in 1.6?",
               answer="x [1].", citations=[BADMAIL], scope="Acme 1.6")
    assert "*Searched:* Acme 1.6, for “Where do undeliverable messages go in Acme 1.6? And in 1.6?”" in shown(
        render.render_answer(r).content)


# --- settings panel and welcome -------------------------------------------------------------------

LISTING = LibraryListing(
    vendors=[
        VendorInfo(vendor="Acme Networks", products=[ProductInfo(product="acme", versions=[
            VersionInfo(version="1.6", documents=[DocumentInfo(doc="g", title="G", files=1, pages=0, chunks=2,
                                                               entry="acme/1.6/g/a.html")]),
            VersionInfo(version="2.0", documents=[DocumentInfo(doc="g", title="G", files=1, pages=0, chunks=3,
                                                               entry="acme/2.0/g/a.html")]),
        ])]),
        VendorInfo(vendor="McDewey", products=[ProductInfo(product="mcdewey", versions=[
            VersionInfo(version="1.0", documents=[DocumentInfo(doc="u", title="U", files=1, pages=5, chunks=9,
                                                               entry="mcdewey/1.0/u/u.md")]),
        ])]),
    ],
    documents=3, files=3, chunks=14,
)


def test_settings_panel_offers_the_library_products_and_versions() -> None:
    choices = chat.library_choices(LISTING)
    assert choices == {"acme": ["1.6", "2.0"], "mcdewey": ["1.0"]}
    product, version, top_k = chat.settings_widgets(choices, top_k=8)
    assert product.items == {"All products": chat.ALL, "acme": "acme", "mcdewey": "mcdewey"}
    assert version.items == {"All versions": chat.ALL, "1.0": "1.0", "1.6": "1.6", "2.0": "2.0"}
    assert (top_k.initial, top_k.min, top_k.max) == (8, 1, 20)
    _, version, _ = chat.settings_widgets(choices, "acme", "2.0", 5)
    assert version.items == {"All versions": chat.ALL, "1.6": "1.6", "2.0": "2.0"} and version.initial == "2.0"


def test_filters_from_the_panel() -> None:
    choices = chat.library_choices(LISTING)
    assert chat.filters_from({"product": "*", "version": "*", "top_k": 8.0}, choices, 8) == (None, None, 8)
    assert chat.filters_from({"product": "acme", "version": "1.6", "top_k": 3}, choices, 8) == ("acme", "1.6", 3)
    assert chat.filters_from({"product": "mcdewey", "version": "1.6"}, choices, 8) == ("mcdewey", None, 8)
    assert chat.filters_from({"product": "gone", "version": "2.0", "top_k": 99}, choices, 8) == (None, "2.0", 20)
    assert chat.filters_from({"top_k": "many"}, choices, 8) == (None, None, 8)


def test_welcome_is_chainlit_md_and_what_the_library_holds() -> None:
    text = chat.welcome_text(LISTING)
    assert text.startswith((ROOT / "chainlit.md").read_text(encoding="utf-8").strip())
    assert "**This library holds** 3 documents (14 passages): Acme Networks acme (1.6, 2.0); McDewey mcdewey" in shown(
        text)
    empty = LibraryListing(vendors=[], documents=0, files=0, chunks=0)
    assert "mcdewey ingest" in chat.welcome_text(empty)


def test_chainlit_md_says_what_the_chat_does() -> None:
    text = (ROOT / "chainlit.md").read_text(encoding="utf-8")
    for words in ("vendor manuals", "[1]", "page", "does not hold the answer", "Follow-ups use the conversation"):
        assert words in text, words


def test_chainlit_config_is_ours() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["UI"]["name"] == "McDewey"
    assert config["features"]["unsafe_allow_html"] is False
    assert config["features"]["spontaneous_file_upload"]["enabled"] is False
    assert config["features"]["mcp"]["enabled"] is False
    assert config["project"]["allow_origins"] == []
    assert "http" not in config["UI"].get("logo_file_url", "")


# --- login ----------------------------------------------------------------------------------------


def test_login_takes_the_token_as_password() -> None:
    assert chat.check_login("s3cret", "ana", "s3cret").identifier == "ana"
    assert chat.check_login("s3cret", "  ", "s3cret").identifier == "reader"
    assert chat.check_login("s3cret", "ana", "s3cre") is None
    assert chat.check_login("s3cret", "ana", "") is None
    assert chat.check_login(None, "ana", "") is None
    assert chat.check_login("", "ana", "") is None
    secret = chat.auth_secret("s3cret")
    assert secret == chat.auth_secret("s3cret") != chat.auth_secret("other") and "s3cret" not in secret


def test_importing_the_chat_loads_no_model_and_no_index() -> None:
    code = ("import sys, assistant.surfaces.chat; "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'chromadb', 'xllamacpp', 'llama_index', "
            "'ollama') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
