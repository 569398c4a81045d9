"""Exact pages (issue 13): a chunk that runs onto the next page records where that page begins, so
a sentence in it is cited at its own page and the doc-context view shows each page's own text."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pdf_factory import PageWriter

from assistant.service import PageView
from assistant.surfaces.links import chunk_anchor, chunk_record
from assistant.surfaces.web import doc_sections
from indexing.catalog import Catalog, FileRecord, StoredChunk
from indexing.chunk import Chunk, PageStart
from indexing.chunker import Chunker, approx_tokens
from indexing.loaders import load_file

SOURCE = "acme/1.0/guide/guide.pdf"
PAGE_ONE = "Acme Quick Guide"
PAGE_TWO = "Commands. The reload command reads the configuration again without a restart."


def two_page_pdf(path: Path) -> Path:
    """Page 1 (printed i) holds only a title, too short to stand alone; page 2 (printed 1) the text."""
    w = PageWriter()
    w.page("r")
    w.line(PAGE_ONE, size=14)
    w.page("D", label_start=1)
    w.line(PAGE_TWO)
    path.write_bytes(w.output())
    return path


def two_page_chunk(**update: object) -> Chunk:
    text = f"{PAGE_ONE}\n{PAGE_TWO}"
    chunk = Chunk(
        chunk_id="acme::1.0::guide::guide::0", text=text, vendor="Acme", product="acme", version="1.0",
        doc="guide", doc_title="Guide", source=SOURCE, page=1, page_end=2, page_label="i", ordinal=0,
        page_starts=[PageStart(offset=0, page=1, label="i"), PageStart(offset=len(PAGE_ONE) + 1, page=2, label="1")],
    )
    return chunk.model_copy(update=update)


def test_the_chunker_records_where_the_second_page_begins(tmp_path: Path) -> None:
    doc = load_file(two_page_pdf(tmp_path / "guide.pdf"))
    pieces = Chunker(approx_tokens, max_tokens=200, min_tokens=60).chunk(doc.blocks)
    assert len(pieces) == 1
    piece = pieces[0]
    assert (piece.page, piece.page_end) == (1, 2)
    assert [(s.page, s.label) for s in piece.page_starts] == [(1, "i"), (2, "1")]
    assert piece.page_starts[0].offset == 0
    assert piece.text[piece.page_starts[1].offset :].startswith("Commands.")
    assert PAGE_ONE in piece.text[: piece.page_starts[1].offset]


def test_an_overlap_from_the_previous_page_starts_on_that_page() -> None:
    from indexing.document import Block

    sentences = " ".join(f"Sentence {i} explains how the router keeps its state." for i in range(12))
    blocks = [Block(sentences, page=1), Block(sentences, page=2)]
    pieces = Chunker(approx_tokens, max_tokens=200, min_tokens=20, overlap_tokens=30).chunk(blocks)
    second = pieces[1]
    assert second.overlap_chars > 0 and (second.page, second.page_end) == (1, 2)
    assert [(s.offset, s.page) for s in second.page_starts] == [(0, 1), (second.overlap_chars, 2)]
    assert all(len(p.page_starts) == 1 for p in pieces if p.page == p.page_end)


def test_cited_at_moves_a_citation_to_the_page_of_its_sentence() -> None:
    chunk = two_page_chunk()
    cited = chunk.cited_at("The reload command reads the configuration\n  again without a restart.")
    assert (cited.page, cited.page_end, cited.page_label) == (2, 2, "1")
    assert cited.chunk_id == chunk.chunk_id and cited.text == chunk.text
    assert chunk.page == 1  # the chunk itself is unchanged
    record = chunk_record(cited, "http://h")
    assert "page=2" in record.url and record.file_url.endswith("#page=2")
    on_one = chunk.cited_at("acme quick guide")  # case, too, when nothing matches exactly
    assert (on_one.page, on_one.page_end) == (1, 1)
    across = chunk.cited_at("Quick Guide Commands.")
    assert (across.page, across.page_end, across.page_label) == (1, 2, "i")
    assert chunk.cited_at("not in this chunk") is chunk
    single = two_page_chunk(page_starts=[], page_end=1)
    on_single = single.cited_at("The reload command")  # its page stays; the sentence rides along (issue 22)
    assert (on_single.page, on_single.page_end) == (single.page, single.page_end)
    assert on_single.quote and single.text[on_single.quote.start : on_single.quote.end] == "The reload command"


def test_page_text_is_the_part_of_the_chunk_on_that_page() -> None:
    chunk = two_page_chunk()
    assert chunk.page_text(1) == PAGE_ONE
    assert chunk.page_text(2) == PAGE_TWO
    assert chunk.page_text(3) == ""
    assert two_page_chunk(page_starts=[]).page_text(1) == chunk.text  # no starts: all on its first page


def _record(chunks: int = 1) -> FileRecord:
    return FileRecord(SOURCE, "acme", "1.0", "guide", "guide", "Acme", "Guide", None, "d", 1, 1, 2, chunks, [])


def test_the_catalog_keeps_page_starts(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    chunk = two_page_chunk()
    catalog.replace_file(_record(), [chunk], [0])
    assert catalog.get([chunk.chunk_id])[chunk.chunk_id] == chunk
    assert catalog.file_chunks(SOURCE)[0].chunk.page_starts == chunk.page_starts
    assert [s.chunk.chunk_id for s in catalog.page_chunks(SOURCE, 2, 2)] == [chunk.chunk_id]  # runs onto 2


def test_a_catalog_written_before_page_starts_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with sqlite3.connect(path) as conn:  # the chunks table as McDewey wrote it before page starts
        conn.executescript("""
            CREATE TABLE files (source TEXT PRIMARY KEY, product TEXT NOT NULL, version TEXT NOT NULL,
                doc TEXT NOT NULL, stem TEXT NOT NULL, vendor TEXT NOT NULL, doc_title TEXT NOT NULL,
                file_title TEXT, digest TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                pages INTEGER NOT NULL, chunks INTEGER NOT NULL, warnings TEXT NOT NULL DEFAULT '[]',
                indexed_at REAL NOT NULL);
            CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, source TEXT NOT NULL REFERENCES files(source)
                ON DELETE CASCADE, ordinal INTEGER NOT NULL, page INTEGER, page_end INTEGER, page_label TEXT,
                heading TEXT NOT NULL, text TEXT NOT NULL, overlap_chars INTEGER NOT NULL DEFAULT 0, terms TEXT);
        """)
        conn.execute("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (SOURCE, "acme", "1.0", "guide", "guide", "Acme", "Guide", None, "d", 1, 1, 2, 1, "[]", 0.0))
        conn.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
                     ("acme::1.0::guide::guide::0", SOURCE, 0, 1, 2, "i", json.dumps(["Intro"]), "Old text", 3,
                      "old text"))
    catalog = Catalog(path)
    stored = catalog.file_chunks(SOURCE)[0]
    assert stored.overlap_chars == 3
    assert stored.chunk.page_starts == [PageStart(offset=0, page=1, label="i")]
    assert stored.chunk.heading == ["Intro"]
    assert next(iter(catalog.iter_chunks_with_terms()))[1] == "old text"
    catalog.replace_file(_record(), [two_page_chunk()], [0])  # the migrated table takes new rows
    assert len(catalog.get(["acme::1.0::guide::guide::0"])["acme::1.0::guide::guide::0"].page_starts) == 2


def test_the_doc_view_shows_each_page_its_own_part_of_a_chunk() -> None:
    chunk = two_page_chunk()
    view = PageView(_record(), [StoredChunk(chunk, 0)], 1, 2)
    sections = doc_sections(view, chunk.chunk_id, page=2)
    assert [s.title for s in sections] == ["Page 1 (printed i)", "Page 2 (printed 1)"]
    one, two = (s.items for s in sections)
    assert [i.text for i in one] == [PAGE_ONE] and [i.text for i in two] == [PAGE_TWO]
    assert one[0].target and two[0].target  # highlighted on both pages
    assert two[0].anchor == chunk_anchor(chunk.chunk_id) and one[0].anchor is None  # the asked-for page
    first_anchor = doc_sections(view, None, page=1)
    assert first_anchor[0].items[0].anchor == chunk_anchor(chunk.chunk_id) and not first_anchor[1].items[0].anchor
