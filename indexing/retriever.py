"""Hybrid retrieval: the candidates of a search (dense from Chroma, BM25 from the keyword index), ranked
by the stages of `indexing.ranking`.

Dense finds paraphrases, BM25 finds exact option names; the stages fuse them, apply feedback and the
dense-head rules (and a cross-encoder, when one is set) and give the records. A product or version
named in the question ("in BIRD 2.0 …") narrows the search to it unless the caller gave filters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexing.catalog import Catalog
from indexing.chunk import Chunk
from indexing.index import Index
from indexing.modes import MODES as MODES  # what `mode` takes; re-exported for callers of the retriever
from indexing.ranking.pipeline import default_stages
from indexing.ranking.state import RankingState, Stage

CANDIDATES = 60
# Hits the catalog does not hold (an ingest publishing, or killed) are dropped; when that leaves too few,
# Chroma is asked again this many times deeper (60, 240, 960, 3,840 hits). In tests/test_replicas.py a
# 279-chunk manual being published filled all of the first 60 hits for its own word, leaving 2 of 5.
DENSE_DEEPER = 4
DENSE_DEEPEST = 4000


@dataclass(frozen=True)
class Steering:
    """Filters inferred from the question, and why."""

    filters: dict[str, str]
    reason: str


@lru_cache(maxsize=4096)
def _word_pattern(word: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w]|\.\d)", flags)


def _product_names(product: str) -> list[tuple[str, bool]]:
    """Ways a question may name a product slug: 'mit-kerberos' → 'mit-kerberos', 'kerberos'."""
    names = [(product, len(product) < 3)]
    parts = [p for p in re.split(r"[-_.]", product) if len(p) >= 4]
    names.extend((p, False) for p in parts if p != product)
    if len(product) >= 8:
        names.append((product[:-2], False))  # postgresql → postgres
    return names


def infer_steering(query: str, versions: dict[str, list[str]]) -> Steering | None:
    """Find one product (and maybe one of its versions) named in the query."""
    named = [
        product for product in versions
        if any(_word_pattern(n, cs).search(query) for n, cs in _product_names(product))
    ]
    version_hits = [
        (product, v) for product, vs in versions.items() for v in vs
        if _word_pattern(v, True).search(query) or _word_pattern("v" + v, False).search(query)
    ]
    if len(named) == 1:
        product = named[0]
        mine = [v for p, v in version_hits if p == product]
        if len(mine) == 1 and len(versions[product]) > 1:
            return Steering({"product": product, "version": mine[0]}, f"question names {product} {mine[0]}")
        return Steering({"product": product}, f"question names {product}")
    if not named and len(version_hits) == 1:
        product, v = version_hits[0]
        if len(versions[product]) > 1:
            return Steering({"product": product, "version": v}, f"question names version {v} of {product}")
    return None


def _versions(catalog: Catalog) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rec in catalog.files().values():
        vs = out.setdefault(rec.product, [])
        if rec.version not in vs:
            vs.append(rec.version)
    return out


class Retriever:
    """Searches an index: gathers the candidates, then runs the ranking stages over them in order."""

    def __init__(self, index: Index, stages: Sequence[Stage] | None = None) -> None:
        self.index = index
        self.stages: list[Stage] = list(stages) if stages is not None else default_stages()

    def versions(self) -> dict[str, list[str]]:
        """product → versions present in the index (re-read only when an ingest published a change)."""
        return self.index.derived("versions", _versions)

    def _dense(self, vector: np.ndarray, depth: int, filters: dict[str, str]) -> list[tuple[str, float]]:
        """Chroma's nearest `depth` chunks among those the catalog holds. Chroma is ahead of the
        catalog while an ingest publishes (and after one was killed), and a new manual's vectors can
        fill the whole first page of hits: then ask DENSE_DEEPER times deeper, up to DENSE_DEEPEST."""
        n = depth
        while True:
            hits = self.index.store.query(vector, n, filters)
            known = self.index.catalog.known([c for c, _ in hits])
            kept = [(c, s) for c, s in hits if c in known]
            if len(kept) >= depth or len(hits) < n or n * DENSE_DEEPER > DENSE_DEEPEST:
                return kept[:depth]
            n *= DENSE_DEEPER

    def search(
        self,
        query: str,
        top_k: int = 8,
        filters: dict[str, str] | None = None,
        mode: str = "hybrid",
        steer: bool = True,
    ) -> list[Chunk]:
        """The best `top_k` chunks for `query`, best first, with their scores (see `indexing.ranking`)."""
        filters = {k: v for k, v in (filters or {}).items() if v}
        if steer and not filters:
            steering = infer_steering(query, self.versions())
            if steering:
                filters = steering.filters
        depth = max(CANDIDATES, top_k)
        vector = self.index.query_embedder().encode_query(query) if mode != "keyword" else None
        dense = self._dense(vector, depth, filters) if vector is not None else []
        keyword = self.index.keyword.search(query, depth, filters) if mode != "dense" else []
        state = RankingState(self.index, query, vector, mode, filters, top_k, asked_dense=dense, keyword=keyword)
        for stage in self.stages:
            stage.apply(state)
        return state.results
