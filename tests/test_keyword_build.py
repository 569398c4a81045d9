"""The streamed keyword build scores exactly as bm25s' own build from token strings (issue 15)."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
import pytest

import indexing.keyword as keyword
from indexing.chunk import Chunk
from indexing.keyword import KeywordIndex


def make_chunk(n: int, product: str, version: str, text: str = "") -> Chunk:
    return Chunk(
        chunk_id=f"{product}::{version}::guide::guide::{n}", text=text, vendor="Vendor", product=product,
        version=version, doc="guide", doc_title="Guide", source=f"{product}/{version}/guide/guide.pdf", ordinal=n,
    )


def corpus(docs: int, seed: int) -> list[tuple[Chunk, str]]:
    """Zipf-like terms (many repeats within and across chunks), varied lengths, and an empty chunk."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(300)]
    pairs = []
    for n in range(docs):
        terms = "" if n == docs // 2 else " ".join(rng.choices(words, weights, k=rng.randint(1, 60)))
        pairs.append((make_chunk(n, rng.choice(["bird", "nginx", "postgresql"]), rng.choice(["1", "2"])), terms))
    return pairs


def reference(pairs: list[tuple[Chunk, str]]) -> bm25s.BM25:
    """The straightforward build: bm25s indexing the token strings, as the index was first built."""
    bm25 = bm25s.BM25(k1=1.2, b=0.75)
    bm25.index([terms.split() or [""] for _, terms in pairs], show_progress=False)
    return bm25


QUERIES = [["w0"], ["w1", "w1", "w7"], ["w250", "w3", "w0", "w42"], [""], ["w299"], ["w5", "w17", "w100", "w2"]]


@pytest.mark.parametrize("docs, block", [(40, 1 << 16), (700, 64)])
def test_scores_equal_bm25s_from_strings(docs: int, block: int, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyword, "BLOCK_DOCS", block)  # several score blocks on a small corpus
    pairs = corpus(docs, seed=docs)
    ref = reference(pairs)
    built = KeywordIndex.build(pairs)
    built.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded is not None
    assert set(built.vocab) == set(loaded.vocab) == set(ref.vocab_dict)
    for index in (built, loaded):
        for query in QUERIES:
            if all(t in ref.vocab_dict for t in query):
                np.testing.assert_array_equal(index.bm25.get_scores(query), ref.get_scores(query))


def test_search_ranks_and_filters_as_reference() -> None:
    pairs = corpus(300, seed=3)
    ref = reference(pairs)
    index = KeywordIndex.build(pairs)
    ids = [c.chunk_id for c, _ in pairs]
    for query in ["w1 w9 w40", "w0 nosuchterm w77", "W3, w3 w12!"]:
        terms = [t for t in query.lower().replace(",", " ").replace("!", " ").split() if t in ref.vocab_dict]
        expected = ref.get_scores(terms)
        for filters in (None, {"product": "nginx"}, {"product": "bird", "version": "2"}):
            keep = [i for i, (c, _) in enumerate(pairs)
                    if all(getattr(c, k) == v for k, v in (filters or {}).items()) and expected[i] > 0]
            got = index.search(query, 10, filters)
            best = sorted((float(expected[i]) for i in keep), reverse=True)[:10]
            assert [s for _, s in got] == pytest.approx(best, abs=1e-6)
            assert all(ids.index(cid) in keep for cid, _ in got)
    assert index.search("nosuchterm", 10) == []
    assert index.values["product"] == ["bird", "nginx", "postgresql"]


def test_chunks_without_stored_terms_and_empty_library() -> None:
    chunks = [make_chunk(0, "bird", "2", "Routing tables in BIRD"), make_chunk(1, "bird", "2", "")]
    index = KeywordIndex.build(chunks)  # tokenized now; the second holds only the title
    assert [cid for cid, _ in index.search("routing tables", 5)] == ["bird::2::guide::guide::0"]
    empty = KeywordIndex.build([])
    assert empty.ids == [] and empty.search("routing", 5) == []
