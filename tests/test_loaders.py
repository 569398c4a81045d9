"""Loaders on real files built here (PDF via fpdf2/pypdf, Markdown, HTML, text) and, where the
shared corpus sits beside the repository, on real manuals."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fpdf import FPDF
from pdf_factory import encrypt, manual_pdf

from indexing.document import Block, LoadedDocument, LoaderError
from indexing.loaders import LOADERS, is_supported, load_file
from indexing.loaders.clean import clean_block, split_long
from indexing.loaders.hyphenation import Vocabulary, dehyphenate

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "library"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def on_page(doc: LoadedDocument, page: int | None) -> list[Block]:
    return [b for b in doc.blocks if b.page == page]


def block_with(doc: LoadedDocument, text: str) -> Block:
    found = [b for b in doc.blocks if text in b.text]
    assert found, f"no block contains {text!r}; blocks: {[b.text for b in doc.blocks]}"
    return found[0]


def all_text(doc: LoadedDocument) -> str:
    return "\n".join(b.text for b in doc.blocks)


# --- the registry --------------------------------------------------------------------------------


def test_loaders_are_keyed_by_lowercase_suffix() -> None:
    assert set(LOADERS) == {".pdf", ".md", ".markdown", ".html", ".htm", ".txt", ".text"}
    assert is_supported(Path("Manual.PDF")) and is_supported(Path("a/b/notes.Txt"))
    assert not is_supported(Path("logo.png")) and not is_supported(Path("COPYRIGHT"))


def test_unsupported_and_missing_files_raise_loader_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no loader"):
        load_file(write(tmp_path, "logo.png", b"\x89PNG"))
    with pytest.raises(LoaderError, match="file not found"):
        load_file(tmp_path / "missing.pdf")


# --- cleaning ------------------------------------------------------------------------------------


def test_cleaning_removes_extraction_noise() -> None:
    raw = (
        "\x88 first item\n\x88 second item\n"
        "icon \uf0e0 here, \u201cquoted\u201d and it\u2019s\x00 fine\n"
        "soft\u00adhyphen, ﬁle, 2001\u20132022, use \u2013enable-foo or [\u2013no-pac]\n"
        "wrapped aes256-cts-hmac-\n\u02d3\u2192sha1-96\n"
        "spaced     out\u00a0words   "
    )
    text = clean_block(raw)
    assert text.splitlines()[:2] == ["• first item", "• second item"]
    assert 'icon here, "quoted" and it\'s fine' in text
    assert "softhyphen, file, 2001\u20132022, use --enable-foo or [--no-pac]" in text
    assert "aes256-cts-hmac-sha1-96" in text
    assert text.endswith("spaced out words")
    assert not any(0xE000 <= ord(ch) <= 0xF8FF or (ord(ch) < 32 and ch != "\n") for ch in text)


def test_dehyphenation_joins_words_but_keeps_real_hyphens() -> None:
    assert dehyphenate("the configura-\ntion file") == "the configuration file"
    assert dehyphenate("set max-\nWAL size") == "set max-\nWAL size"
    assert dehyphenate("use UTF-\n8 text") == "use UTF-\n8 text"
    # the document's own spelling wins: "config-files" is a directory name elsewhere in it
    assert dehyphenate("see config-\nfiles", Vocabulary(["the config-files directory"])) == "see config-\nfiles"
    # PDFium marks a line-end hyphen as U+FFFE; capitals resolved by the document's vocabulary
    vocab = Vocabulary(["PERFORMANCE matters; UTF-8 everywhere"])
    assert clean_block("PER\ufffeFORMANCE and UTF\ufffe8", vocabulary=vocab) == "PERFORMANCE and UTF-8"


def test_split_long_cuts_at_whitespace_and_hard_splits_when_it_must() -> None:
    text = " ".join(f"word{i}" for i in range(5000))
    pieces = split_long(text)
    assert all(len(p) <= 2000 for p in pieces) and " ".join(pieces) == text
    solid = "x" * 5000
    assert [len(p) for p in split_long(solid)] == [2000, 2000, 1000]


# --- PDF -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> LoadedDocument:
    path = tmp_path_factory.mktemp("pdf") / "manual.pdf"
    path.write_bytes(manual_pdf())
    return load_file(path)


def test_pdf_has_physical_pages_and_printed_labels(manual: LoadedDocument) -> None:
    assert manual.pages == 5
    assert manual.title == "Test Manual"
    labels = {b.page: b.page_label for b in manual.blocks}
    assert labels == {1: "i", 2: "ii", 3: "1", 4: "2", 5: "3"}


def test_pdf_label_is_kept_only_when_it_differs_from_the_physical_page(tmp_path: Path) -> None:
    w = FPDF(unit="pt")
    styles = {1: ("r", None, None), 3: ("D", None, 3), 5: ("D", "A-", 1)}
    for sheet in range(1, 6):
        w.add_page()
        if sheet in styles:
            style, prefix, start = styles[sheet]
            w.set_page_label(style, label_prefix=prefix, label_start=start)
        w.set_font("Helvetica", size=10)
        w.text(72, 100, f"Body text on sheet {sheet}.")
    doc = load_file(write(tmp_path, "labels.pdf", bytes(w.output())))
    assert [(b.page, b.page_label) for b in doc.blocks] == [(1, "i"), (2, "ii"), (3, None), (4, None), (5, "A-1")]
    unlabelled = FPDF()
    unlabelled.add_page()
    unlabelled.set_font("Helvetica", size=10)
    unlabelled.text(20, 20, "No labels at all.")
    doc = load_file(write(tmp_path, "plain.pdf", bytes(unlabelled.output())))
    assert [(b.page, b.page_label) for b in doc.blocks] == [(1, None)]


def test_pdf_heading_trail_follows_the_outline_within_the_page(manual: LoadedDocument) -> None:
    assert block_with(manual, "reads one file at start-up").heading == ["Configuration"]
    assert block_with(manual, "unique name").heading == ["Configuration", "Protocols"]
    # the top of page 4 still belongs to "Protocols"; "BGP" starts mid-page
    carried = block_with(manual, "case-sensitive")
    assert carried.page == 4 and carried.heading == ["Configuration", "Protocols"]
    assert block_with(manual, "A BGP instance").heading == ["Configuration", "Protocols", "BGP"]
    assert block_with(manual, "check the log file").heading == ["Troubleshooting"]
    assert block_with(manual, "1.1.1 BGP").text == "1.1.1 BGP"  # the title is a block of its own


def test_pdf_blocks_are_paragraphs_with_noise_cleaned(manual: LoadedDocument) -> None:
    para = block_with(manual, "unique name")
    assert "configuration block" in para.text and "configura-" not in para.text
    assert "\n" not in para.text  # prose lines are unwrapped
    bullets = block_with(manual, "BGP for exterior")
    assert bullets.text == "• BGP for exterior routing\n• OSPF for interior routing"
    named = block_with(manual, "A BGP instance")
    assert '"bgp1"' in named.text and "'peer'" in named.text and "shows the icon" in named.text
    text = all_text(manual)
    assert "\x88" not in text and "\ufffe" not in text and "\uf0e0" not in text
    # running header and page-number footer are page furniture
    assert "Release 2.0" not in text
    assert not [b for b in manual.blocks if b.text.strip().isdigit()]


def test_pdf_code_keeps_lines_and_indentation(manual: LoadedDocument) -> None:
    code = block_with(manual, "protocol bgp bgp1")
    assert code.text == "protocol bgp bgp1 {\n    local as 65000;\n    neighbor 192.0.2.1 as 65001;\n}"


def test_pdf_without_text_layer_loads_with_a_warning(tmp_path: Path) -> None:
    w = FPDF()
    w.add_page()
    w.rect(20, 20, 100, 60, style="F")
    doc = load_file(write(tmp_path, "scan.pdf", bytes(w.output())))
    assert doc.blocks == [] and doc.pages == 1
    assert doc.warnings == ["no text layer (scanned?)"]


def test_encrypted_pdf_opens_with_the_empty_password(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "open.pdf", encrypt(manual_pdf(), user_password="")))
    assert doc.pages == 5 and block_with(doc, "A BGP instance").page == 4


def test_encrypted_pdf_with_a_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"^encrypted PDF \(needs a password\)$"):
        load_file(write(tmp_path, "locked.pdf", encrypt(manual_pdf(), user_password="s3cret")))


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("truncated.pdf", manual_pdf()[:3000], "truncated PDF"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + bytes(200), "not a PDF: the file is a PNG image"),
        ("empty.pdf", b"", "empty file"),
        ("garbage.pdf", b"%PDF-1.7\nnot really a PDF at all\n%%EOF\n", "not a PDF or corrupted"),
        ("words.pdf", b"just some words", "not a PDF"),
    ],
)
def test_broken_pdfs_raise_a_readable_one_line_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(LoaderError) as info:
        load_file(write(tmp_path, name, data))
    message = str(info.value)
    assert reason in message and "\n" not in message and "Traceback" not in message


# --- Markdown ------------------------------------------------------------------------------------

MARKED = """# Guide Title

Intro before any marker.

<!-- page 1 -->

## Install

Run the **installer** with `--prefix=/opt/x`; see [the notes](notes.md).

<!-- page: 2 -->
Second page text.
\fThird page text after a form feed.

<!-- page x -->
Still on the third page.

```sh
make install
  DESTDIR=/tmp
```
"""


def test_markdown_pages_from_markers_and_form_feeds(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "guide.md", MARKED))
    assert doc.title == "Guide Title" and doc.pages == 3
    assert block_with(doc, "Intro before").page == 1
    assert block_with(doc, "Run the").page == 1
    assert block_with(doc, "Second page").page == 2
    assert block_with(doc, "Third page").page == 3
    assert block_with(doc, "Still on the third").page == 3  # a malformed marker changes nothing
    assert any("malformed page marker" in w and "page x" in w for w in doc.warnings)
    assert "<!--" not in all_text(doc) and "\f" not in all_text(doc)


def test_markdown_headings_make_the_trail_and_stay_searchable(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "guide.md", MARKED))
    run = block_with(doc, "Run the")
    assert run.heading == ["Guide Title", "Install"]
    assert run.text == "Run the installer with --prefix=/opt/x; see the notes."
    assert block_with(doc, "Install").text == "Install"
    assert block_with(doc, "make install").text == "make install\n  DESTDIR=/tmp"


def test_markdown_without_markers_is_unpaged(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "readme.markdown", "Title\n=====\n\nSome text.\n\n## Usage\n\nMore.\n"))
    assert doc.pages == 0 and {b.page for b in doc.blocks} == {None}
    assert doc.title == "Title" and block_with(doc, "More.").heading == ["Title", "Usage"]


# --- HTML ----------------------------------------------------------------------------------------

PAGE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html><html><head><title>CREATE WIDGET</title>
<style>p { color: red }</style><script>var leak = "SCRIPT-TEXT";</script></head>
<body>
<div class="navheader"><table><tr><td><a href="a.html">Prev</a></td><td><a href="b.html">Up</a></td>
<td><a href="index.html">Home</a></td><td><a href="c.html">Next</a></td></tr></table></div>
<nav>Site menu</nav><div class="sphinxsidebar" role="navigation"><h3>Navigation</h3><p>Search</p></div>
<h1>CREATE WIDGET<a class="headerlink" href="#x">\uf0c1</a></h1>
<p>CREATE WIDGET &mdash; define a   new
widget</p>
<noscript>enable javascript</noscript><template><p>TEMPLATE-TEXT</p></template>
<div style="display: none">HIDDEN-TEXT</div><p hidden>ALSO-HIDDEN</p>
<h2>Synopsis</h2>
<pre>CREATE WIDGET name
    [ SIZE size ]</pre>
<h2>Parameters</h2>
<dl><dt>name</dt><dd><p>The name of the widget.</p></dd></dl>
<h3>Notes</h3>
<ul><li>First note.</li><li>Second note.</li></ul>
<div class="navfooter"><a href="a.html">Prev</a> <a href="c.html">Next</a></div>
<footer>Copyright footer</footer>
</body></html>"""


def test_html_keeps_visible_documentation_text_only(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "widget.html", PAGE))
    text = all_text(doc)
    for noise in ("SCRIPT-TEXT", "color: red", "Prev", "Next", "Home", "Site menu", "Navigation", "Search",
                  "enable javascript", "TEMPLATE-TEXT", "HIDDEN", "Copyright footer", "\uf0c1"):
        assert noise not in text, noise
    assert doc.title == "CREATE WIDGET" and doc.pages == 0
    assert block_with(doc, "define a").text == "CREATE WIDGET \u2014 define a new widget"


def test_html_heading_trail_pre_and_definition_lists(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "widget.htm", PAGE))
    assert block_with(doc, "define a").heading == ["CREATE WIDGET"]
    assert block_with(doc, "SIZE").text == "CREATE WIDGET name\n    [ SIZE size ]"
    assert block_with(doc, "SIZE").heading == ["CREATE WIDGET", "Synopsis"]
    assert block_with(doc, "The name of the widget").text == "name\nThe name of the widget."
    notes = block_with(doc, "First note")
    assert notes.text == "First note.\nSecond note." and notes.heading == ["CREATE WIDGET", "Parameters", "Notes"]
    assert {b.page for b in doc.blocks} == {None}


def test_html_admonition_label_stays_out_of_the_heading_trail(tmp_path: Path) -> None:
    """DocBook boxes (`<div class="note"><h3>Note</h3>`) sit inside a section whose title is an h3 too:
    as a heading the label would replace that title for the rest of the section."""
    page = """<html><body><h2>20.6. Replication</h2><h3>20.6.1. Sending Servers</h3>
<div class="note"><h3 class="title">Note</h3><p>Slots keep WAL until it is consumed.</p></div>
<p>max_slot_wal_keep_size limits the WAL kept for slots.</p>
<h3>20.6.2. Primary Server</h3><p>synchronous_standby_names lists standbys.</p></body></html>"""
    doc = load_file(write(tmp_path, "replication.html", page))
    after = block_with(doc, "max_slot_wal_keep_size")
    assert after.heading == ["20.6. Replication", "20.6.1. Sending Servers"]
    assert block_with(doc, "Slots keep WAL").heading == ["20.6. Replication", "20.6.1. Sending Servers"]
    assert "Note" in all_text(doc)  # the label is still text
    assert block_with(doc, "synchronous_standby_names").heading == ["20.6. Replication", "20.6.2. Primary Server"]


def test_html_decodes_legacy_encodings(tmp_path: Path) -> None:
    declared = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>na\xefve \u201cq\u201d</p>'
    doc = load_file(write(tmp_path, "latin.html", declared.encode("cp1252")))
    assert doc.title == "Café" and all_text(doc) == 'naïve "q"'
    undeclared = "<html><body><p>d\xe9j\xe0 vu</p></body></html>".encode("cp1252")
    doc = load_file(write(tmp_path, "legacy.html", undeclared))
    assert all_text(doc) == "déjà vu" and doc.warnings == ["not valid UTF-8; decoded as cp1252"]


def nested_page(levels: int) -> str:
    return ("<html><head><title>Deep</title></head><body><h1>Top</h1><p>before</p>" + "<div>" * levels
            + "<p>deep</p>" + "</div>" * levels + "<h2>Later</h2><p>after</p></body></html>")


@pytest.mark.parametrize("levels", [300, 3_000])
def test_html_deep_nesting_keeps_all_text_in_order(tmp_path: Path, levels: int) -> None:
    """libxml2 stops at 256 levels (2,048 with huge_tree) and drops the rest of the page without an
    exception: only "before" was indexed (issue 16)."""
    doc = load_file(write(tmp_path, "deep.html", nested_page(levels)))
    assert [b.text for b in doc.blocks] == ["Top", "before", "deep", "Later", "after"]
    assert block_with(doc, "deep").heading == ["Top"] and block_with(doc, "after").heading == ["Top", "Later"]
    assert doc.title == "Deep"


def test_html_200000_levels_are_read_in_full_quickly(tmp_path: Path) -> None:
    """Far past libxml2's limit (unclosed tags can do this): read again by the fallback parser, all the
    text in order, furniture still dropped, no "partially indexed" warning, in seconds (not minutes:
    lxml's own tree walks are quadratic in the depth)."""
    levels = 200_000
    page = ("<html><head><title>Deep</title></head><body><p>before</p>" + '<div class="x">' * levels
            + "<nav>NAV</nav>deep &amp; <b>deeper</b>" + "</div>" * levels
            + "<script>NOT-TEXT</script><p>after</p></body></html>")
    started = time.perf_counter()
    doc = load_file(write(tmp_path, "deeper.html", page))
    assert time.perf_counter() - started < 30
    assert [b.text for b in doc.blocks] == ["before", "deep & deeper", "after"] and doc.title == "Deep"
    assert doc.warnings == ["the HTML parser stopped early (Excessive depth in document: 2048); read again "
                            "with a simpler parser, all text kept"]


def test_html_cut_short_without_a_fallback_is_reported_partial(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the fallback parser fail, what libxml2 read is kept and the file is reported partial."""

    def broken(text: str) -> None:
        raise ValueError("broken fallback")

    monkeypatch.setattr("indexing.loaders.html_parse._parse_without_depth_limit", broken)
    doc = load_file(write(tmp_path, "deep.html", nested_page(3_000)))
    assert [b.text for b in doc.blocks] == ["Top", "before"]
    assert len(doc.warnings) == 1 and doc.warnings[0].startswith("partially indexed: the HTML parser stopped early")
    assert "broken fallback" in doc.warnings[0]


# --- plain text ----------------------------------------------------------------------------------


def test_text_pages_come_from_form_feeds(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "notes.txt", "Release Notes\n\nFirst page.\n\fSecond page.\n\fThird.\n\f"))
    assert doc.pages == 3
    assert [(b.text, b.page) for b in doc.blocks] == [
        ("Release Notes", 1), ("First page.", 1), ("Second page.", 2), ("Third.", 3),
    ]
    assert doc.title == "Release Notes"
    single = load_file(write(tmp_path, "one.txt", "Only page.\n\f"))
    assert single.pages == 1 and [(b.text, b.page) for b in single.blocks] == [("Only page.", 1)]


def test_text_without_form_feeds_is_unpaged_and_split_at_blank_lines(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "readme.text", "Short title\n\nOne para\nstill one.\n\n\nTwo para.\n"))
    assert doc.pages == 0
    assert [(b.text, b.page) for b in doc.blocks] == [
        ("Short title", None), ("One para\nstill one.", None), ("Two para.", None),
    ]


HAPROXY_STYLE = """                         ----------------------
                                HAProxy
                          Configuration Manual
                         ----------------------
                              version 2.6


Summary
-------

1.    Quick reminder about HTTP
1.1.      The HTTP transaction model

3.    Global parameters
3.1.      Process management and security


1. Quick reminder about HTTP
----------------------------

When HAProxy is running in HTTP mode, both the request and the response are
fully analyzed.

3. Global parameters
--------------------

3.1. Process management and security
------------------------------------

maxconn <number>
  Sets the maximum per-process number of concurrent connections to <number>.

  Example :
        global
            maxconn 100
"""


def test_text_headings_from_numbered_underlined_lines(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "configuration.txt", HAPROXY_STYLE))
    assert doc.title == "HAProxy Configuration Manual"
    assert block_with(doc, "Quick reminder about HTTP\n1.1.").heading == ["Summary"]  # a summary, not headings
    assert block_with(doc, "fully analyzed").heading == ["1. Quick reminder about HTTP"]
    entry = block_with(doc, "Sets the maximum")
    assert entry.text.startswith("maxconn <number>\n  Sets")
    assert entry.heading == ["3. Global parameters", "3.1. Process management and security", "maxconn <number>"]
    assert block_with(doc, "global").text == "global\n    maxconn 100"
    assert "-----" not in all_text(doc)


def test_text_decodes_non_utf8_and_refuses_binary(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "latin.txt", "Caf\xe9 menu\n".encode("cp1252")))
    assert all_text(doc) == "Café menu" and doc.warnings == ["not valid UTF-8; decoded as cp1252"]
    with pytest.raises(LoaderError, match="not a text file: the file is a PNG image"):
        load_file(write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n" + bytes(64)))
    with pytest.raises(LoaderError, match="empty file"):
        load_file(write(tmp_path, "empty.txt", b""))


def test_text_ten_megabyte_single_line_does_not_blow_up(tmp_path: Path) -> None:
    line = ("lorem-ipsum dolor sit amet " * 400_000)[:10_000_000]
    path = write(tmp_path, "huge.txt", line)
    started = time.perf_counter()
    doc = load_file(path)
    assert time.perf_counter() - started < 30
    assert doc.blocks and all(len(b.text) <= 2000 for b in doc.blocks)
    assert sum(len(b.text) + 1 for b in doc.blocks) >= 9_990_000
    solid = load_file(write(tmp_path, "solid.txt", "x" * 1_000_000))
    assert {len(b.text) for b in solid.blocks} == {2000}


# --- the shared corpus ---------------------------------------------------------------------------


def corpus_file(relative: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is absent ({CORPUS}); corpus tests run only beside ../shared")
    return CORPUS / relative


@pytest.mark.corpus
def test_corpus_kerberos_physical_page_5_is_printed_page_1() -> None:
    doc = load_file(corpus_file("mit-kerberos/1.20/admin-guide/admin.pdf"))
    assert doc.pages == 177 and doc.title == "Kerberos Administration Guide"
    assert {b.page_label for b in on_page(doc, 5)} == {"1"}
    assert {b.page_label for b in on_page(doc, 3)} == {"i"}
    install = block_with(doc, "Install Kerberos either from the OS-provided packages")
    assert install.page == 5 and install.heading[-1] == "Install and configure the primary KDC"


@pytest.mark.corpus
def test_corpus_r_refman_is_large_and_labelled() -> None:
    started = time.perf_counter()
    doc = load_file(corpus_file("r/4.2/refman/refman.pdf"))
    assert time.perf_counter() - started < 60
    assert doc.pages == 2415
    assert any(b.page_label and b.page_label != str(b.page) for b in doc.blocks)
    agrep = block_with(doc, "agrep Approximate String Matching")
    assert agrep.page == 40 and agrep.page_label == "9" and agrep.heading == ["The base package", "agrep"]


@pytest.mark.corpus
def test_corpus_r_admin_markdown_pages_come_from_markers() -> None:
    doc = load_file(corpus_file("r/4.2/r-admin/R-admin.md"))
    assert doc.pages == 85 and doc.title == "R Installation and Administration"
    assert block_with(doc, "The simplest way is to download the most recent").page == 6
    assert {b.page for b in doc.blocks} >= set(range(1, 86)) - {4}


@pytest.mark.corpus
def test_corpus_postgresql_page_has_no_navigation() -> None:
    doc = load_file(corpus_file("postgresql/15/manual/sql-createtable.html"))
    assert doc.title == "CREATE TABLE"
    texts = [b.text for b in doc.blocks]
    assert not [t for t in texts if t in ("Prev", "Next", "Up", "Home") or "Prev Up" in t or "Home Next" in t]
    assert texts[:2] == ["CREATE TABLE", "CREATE TABLE \u2014 define a new table"]
    assert block_with(doc, "TEMPORARY or TEMP").heading == ["Parameters"]
    # A "Note" box's label does not become the section of what follows it.
    assert not [b for b in doc.blocks if b.heading[-1:] in (["Note"], ["Tip"], ["Caution"], ["Warning"])]
