"""Ingest: the real embedding model into real Chroma (embedded and a `chroma run` server)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from chroma_server import ChromaServer
from library_factory import build_library

from indexing.embedder import Embedder
from indexing.index import Index
from indexing.ingest import IngestBusy, Ingester, ingest_lock
from indexing.retriever import Retriever


@pytest.fixture
def small_library(tmp_path: Path) -> Path:
    return build_library(tmp_path / "lib")


def ingest(library: Path, data: Path, embedder: Embedder, chroma_url: str | None = None) -> tuple[Index, object]:
    index = Index(data, chroma_url=chroma_url, collection="t" + data.name[-8:].replace("_", ""), embedder=embedder)
    return index, Ingester(index).run(library)


def test_first_ingest_indexes_every_supported_file(small_library: Path, tmp_path: Path, embedder: Embedder) -> None:
    index, report = ingest(small_library, tmp_path / "data", embedder)
    assert sorted(report.added) == [
        "acme/1.6/admin-guide/admin.html",
        "acme/2.0/admin-guide/admin.html",
        "acme/2.0/release-notes/notes.txt",
        "mcdewey/1.0/quick-reference/quick-reference.pdf",
        "mcdewey/1.0/user-guide/user-guide.md",
    ]
    assert {s.source for s in report.skipped} >= {"acme/1.6/admin-guide/style.css"}
    assert report.chunks_total == index.catalog.count() == index.store.count() > 10
    guide = index.catalog.get(["mcdewey::1.0::user-guide::user-guide::0"])
    assert guide["mcdewey::1.0::user-guide::user-guide::0"].page == 1
    assert guide["mcdewey::1.0::user-guide::user-guide::0"].vendor == "McDewey project"


def test_pdf_chunks_carry_physical_page_and_printed_label(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index, _ = ingest(small_library, tmp_path / "data", embedder)
    chunks = [s.chunk for s in index.catalog.file_chunks("mcdewey/1.0/quick-reference/quick-reference.pdf")]
    settings = next(c for c in chunks if "MCDEWEY_CHROMA_URL" in c.text)
    assert settings.page == 3 and settings.page_label == "2"
    assert settings.heading[-1] == "Settings"


def test_second_run_changes_nothing_and_ids_are_stable(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index, first = ingest(small_library, tmp_path / "data", embedder)
    ids = index.catalog.chunk_ids()
    _, second = ingest(small_library, tmp_path / "data", embedder)
    assert not second.changed and second.unchanged == len(first.added)
    assert index.catalog.chunk_ids() == ids
    # A fresh index of the same files gives the same ids.
    other, _ = ingest(small_library, tmp_path / "data2", embedder)
    assert sorted(other.catalog.chunk_ids()) == sorted(ids)


def test_a_catalog_without_stored_terms_gets_them_at_the_next_keyword_rebuild(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """Catalogs written before keyword terms were kept are tokenized once, not at every rebuild.

    The old state is made by clearing the column (no older McDewey is at hand to write it)."""
    import sqlite3

    index, _ = ingest(small_library, tmp_path / "data", embedder)
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite3") as conn:
        stored = dict(conn.execute("SELECT chunk_id, terms FROM chunks"))
        conn.execute("UPDATE chunks SET terms = NULL")
    notes = small_library / "acme/2.0/release-notes/notes.txt"
    notes.write_text(notes.read_text() + "\fSupport\n\nAsk the vendor.\n")  # a change: the keyword index is rebuilt
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.updated == ["acme/2.0/release-notes/notes.txt"]
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite3") as conn:
        now = dict(conn.execute("SELECT chunk_id, terms FROM chunks"))
    assert all(now.values())
    assert {cid: t for cid, t in now.items() if cid in stored and "notes" not in cid} == {
        cid: t for cid, t in stored.items() if "notes" not in cid}
    assert Retriever(index).search("UmssMtaBadMail", 3, mode="keyword")[0].product == "acme"


def test_touching_one_file_reembeds_only_it_and_deletions_remove_chunks(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    index, _ = ingest(small_library, tmp_path / "data", embedder)
    notes = small_library / "acme/2.0/release-notes/notes.txt"
    notes.write_text(notes.read_text() + "\fAppendix\n\nThe frobnicator setting is new in this release.\n")
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.updated == ["acme/2.0/release-notes/notes.txt"] and not report.added
    hits = Retriever(index).search("frobnicator", 3)
    assert hits[0].source == "acme/2.0/release-notes/notes.txt" and 4 in (hits[0].page, hits[0].page_end)
    shutil.rmtree(small_library / "acme/1.6")
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.removed == ["acme/1.6/admin-guide/admin.html"]
    assert not [c for c in index.store.all_ids() if c.startswith("acme::1.6")]
    assert not [c for c in index.catalog.chunk_ids() if c.startswith("acme::1.6")]
    assert not [c for c in index.keyword.ids if c.startswith("acme::1.6")]


def test_an_edit_or_a_new_pipeline_version_embeds_only_the_chunks_that_changed(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """A loader fix (new PIPELINE_VERSION) re-reads every file; chunks whose embedded text is the same
    keep their vectors. The old pipeline's output is made by editing one stored heading (no older
    McDewey is at hand to write it)."""
    import sqlite3

    from indexing.ingest import PIPELINE_VERSION

    index, first = ingest(small_library, tmp_path / "data", embedder)
    assert first.chunks_embedded == first.chunks_added == first.chunks_total
    before = index.store.vectors(index.catalog.chunk_ids())
    target = "acme::2.0::admin-guide::admin::1"
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite3") as conn:
        conn.execute("UPDATE chunks SET heading = '[\"Note\"]' WHERE chunk_id = ?", (target,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'pipeline'", (f"0/{embedder.name}",))
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert sorted(report.updated) == sorted(first.added)  # every file read again …
    assert report.chunks_embedded == 1  # … one chunk embedded again
    assert index.catalog.get_meta("pipeline") == f"{PIPELINE_VERSION}/{embedder.name}"
    assert index.catalog.get([target])[target].heading != ["Note"]
    after = index.store.vectors(index.catalog.chunk_ids())
    assert after.keys() == before.keys()
    assert all(np.allclose(after[c], before[c], atol=1e-5) for c in before)

    # An edit to one file: only its changed chunks are embedded.
    notes = small_library / "acme/2.0/release-notes/notes.txt"
    notes.write_text(notes.read_text() + "\fAppendix\n\nThe frobnicator setting is new in this release.\n")
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.updated == ["acme/2.0/release-notes/notes.txt"]
    assert 1 <= report.chunks_embedded < report.chunks_added

    # Another embedding model (here: the index says other weights wrote it), or --force: nothing is reused.
    other = dataclasses.replace(embedder.spec, fingerprint="0" * 16)
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite3") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'embedding_model'", (other.to_json(),))
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.chunks_embedded == report.chunks_total
    assert Index(tmp_path / "data", embedder=embedder).active()[1] == embedder.spec
    forced = Ingester(index).run(small_library, force=True)
    assert forced.chunks_embedded == forced.chunks_total


def test_a_corrupt_pdf_is_reported_and_the_rest_still_indexes(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    bad = small_library / "acme/2.0/broken/broken.pdf"
    bad.parent.mkdir(parents=True)
    good = (small_library / "mcdewey/1.0/quick-reference/quick-reference.pdf").read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert [p.source for p in report.failed] == ["acme/2.0/broken/broken.pdf"]
    assert report.failed[0].reason
    assert len(report.added) == 5


def test_vectors_lost_without_a_catalog_row_are_repaired(
    small_library: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """What a crash between Chroma and the catalog leaves behind is put right by the next run."""
    index, _ = ingest(small_library, tmp_path / "data", embedder)
    victim = "acme/2.0/release-notes/notes.txt"
    index.store.delete(index.catalog.chunk_ids(victim)[:1])  # a vector gone missing
    index.store.collection.add(ids=["ghost::1::x::y::0"], embeddings=[[0.1] * 384], documents=["orphan"])
    _, report = ingest(small_library, tmp_path / "data", embedder)
    assert report.repaired == 1 and report.vectors_removed == 1  # the file re-embedded, the ghost deleted
    assert index.store.all_ids() == set(index.catalog.chunk_ids())


def test_a_second_ingest_on_the_same_data_is_refused(tmp_path: Path) -> None:
    with ingest_lock(tmp_path), pytest.raises(IngestBusy, match="another ingest"), ingest_lock(tmp_path):
        pass


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server started with the chromadb package's own `chroma run`."""
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    yield server.url
    server.stop()


def test_ingest_and_search_through_a_chroma_server(
    small_library: Path, tmp_path: Path, embedder: Embedder, chroma_server: str
) -> None:
    index, report = ingest(small_library, tmp_path / "data", embedder, chroma_url=chroma_server)
    assert not (tmp_path / "data" / "chroma").exists()
    assert index.store.count() == report.chunks_total > 0
    hits = Retriever(index).search("Which folder holds messages the transfer agent could not deliver?", 5)
    assert hits[0].product == "acme"


def test_a_file_with_more_chunks_than_chromas_batch_limit_is_stored(tmp_path: Path) -> None:
    """R's reference manual makes 7,712 chunks; Chroma refuses batches over ~5,461."""
    import numpy as np

    from indexing.chunk import Chunk
    from indexing.store import VectorStore

    chunks = [
        Chunk(chunk_id=f"big::1::ref::ref::{n}", text=f"entry {n}", vendor="v", product="big", version="1",
              doc="ref", doc_title="Ref", source="big/1/ref/ref.pdf", page=n // 3 + 1, ordinal=n)
        for n in range(6000)
    ]
    vectors = np.random.default_rng(0).normal(size=(6000, 384)).astype(np.float32)
    store = VectorStore(tmp_path / "data")
    store.add(chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    assert store.count() == 6000
