"""The filtered dense search: the nearest chunks that the product/version/doc filters admit, the same
whichever way the store finds them (unfiltered over-fetch, its wider retry, or Chroma's `where`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.chunk import Chunk
from indexing.store import SEARCH_EF, VectorStore

DIM = 384


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _chunk(product: str, version: str, doc: str, i: int) -> Chunk:
    return Chunk(chunk_id=f"{product}::{version}::{doc}::f::{i}", text=f"entry {i}", vendor="v", product=product,
                 version=version, doc=doc, doc_title="T", source=f"{product}/{version}/{doc}/f.md", ordinal=i)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[VectorStore, list[Chunk], np.ndarray, np.ndarray]:
    """4,000 chunks of a big product around one topic, 10 of a tiny product far from it, 990 of a
    mid-sized product in two versions and docs; the query sits in the big product's topic."""
    rng = np.random.default_rng(3)
    topic, elsewhere = rng.normal(size=DIM), rng.normal(size=DIM)
    chunks = [_chunk("big", "1", "ref", i) for i in range(4000)]
    chunks += [_chunk("tiny", "1", "notes", i) for i in range(10)]
    chunks += [_chunk("mid", str(1 + i % 2), ("guide", "api")[i % 3 == 0], i) for i in range(990)]
    centres = np.vstack([np.tile(topic, (4000, 1)), np.tile(elsewhere, (10, 1)), np.tile(topic, (990, 1))])
    vectors = _unit(centres + rng.normal(scale=1.0, size=(len(chunks), DIM)) / np.sqrt(DIM) * 12)
    store = VectorStore(tmp_path_factory.mktemp("filters") / "data")
    store.add(chunks, vectors)
    return store, chunks, vectors, _unit(topic[None, :])[0]


def _exact(chunks: list[Chunk], vectors: np.ndarray, query: np.ndarray, k: int, **filters: str) -> list[str]:
    keep = [i for i, c in enumerate(chunks) if all(getattr(c, key) == v for key, v in filters.items())]
    scores = vectors[keep] @ query
    return [chunks[keep[j]].chunk_id for j in np.argsort(-scores)[:k]]


def test_a_product_far_from_the_query_still_gets_its_nearest_chunks(library: tuple) -> None:
    """None of the tiny product's chunks are among the 3,200 nearest: the store must not stop at the
    few (zero) survivors of its over-fetch."""
    store, chunks, vectors, query = library
    got = [cid for cid, _ in store.query(query, 5, {"product": "tiny"})]
    assert got == _exact(chunks, vectors, query, 5, product="tiny")


def test_every_filter_key_is_applied(library: tuple) -> None:
    store, chunks, vectors, query = library
    filters = {"product": "mid", "version": "2", "doc": "api"}
    got = [cid for cid, _ in store.query(query, 20, filters)]
    assert len(got) == 20
    assert all(cid.startswith("mid::2::api::") for cid in got)
    assert set(got) == set(_exact(chunks, vectors, query, 20, **filters))


def test_a_common_product_gives_what_chromas_where_gives(library: tuple) -> None:
    """The over-fetch answers this one itself; it must agree with Chroma's own filtered search."""
    store, _, _, query = library
    ours = store.query(query, 60, {"product": "mid"})
    where = store.where_query(query, 60, {"product": "mid"})
    assert [cid for cid, _ in ours] == [cid for cid, _ in where]
    assert [round(s, 5) for _, s in ours] == [round(s, 5) for _, s in where]


def test_a_filter_with_fewer_chunks_than_asked_returns_all_of_them(tmp_path: Path) -> None:
    """In an index smaller than the over-fetch, the unfiltered search already saw every chunk."""
    rng = np.random.default_rng(5)
    chunks = [_chunk("a", "1", "d", i) for i in range(40)] + [_chunk("b", "1", "d", i) for i in range(3)]
    store = VectorStore(tmp_path / "data")
    store.add(chunks, _unit(rng.normal(size=(len(chunks), DIM))))
    assert len(chunks) < SEARCH_EF
    got = store.query(_unit(rng.normal(size=(1, DIM)))[0], 10, {"product": "b"})
    assert sorted(cid for cid, _ in got) == sorted(c.chunk_id for c in chunks[40:])
    assert store.query(_unit(rng.normal(size=(1, DIM)))[0], 10, {"product": "nothing"}) == []
