"""The BM25 keyword index, persisted beside Chroma and loaded once (never rebuilt per query).

It is rebuilt from the catalog at the end of an ingest that changed anything, written to a fresh
folder and swapped in by renaming, so a reader never sees half an index.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

from indexing.chunk import FILTER_KEYS, Chunk
from indexing.tokens import tokenize


def keyword_text(chunk: Chunk) -> str:
    """What BM25 sees: the document title and heading trail, then the text."""
    return " ".join([chunk.doc_title, *chunk.heading, chunk.text])


class KeywordIndex:
    def __init__(self, bm25: bm25s.BM25, ids: list[str], fields: dict[str, np.ndarray],
                 values: dict[str, list[str]]) -> None:
        self.bm25 = bm25
        self.ids = ids
        self.fields = fields
        self.values = values
        self.vocab: dict[str, int] = bm25.vocab_dict or {}

    @classmethod
    def build(cls, chunks: Iterable[Chunk | tuple[Chunk, str | None]]) -> KeywordIndex:
        """From chunks, or (chunk, terms) pairs whose terms were tokenized at ingest (None: tokenize now)."""
        ids: list[str] = []
        corpus: list[list[str]] = []
        raw: dict[str, list[str]] = {k: [] for k in FILTER_KEYS}
        for item in chunks:
            chunk, terms = item if isinstance(item, tuple) else (item, None)
            ids.append(chunk.chunk_id)
            corpus.append((terms.split() if terms is not None else tokenize(keyword_text(chunk))) or [""])
            for key in FILTER_KEYS:
                raw[key].append(getattr(chunk, key))
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if corpus:
            bm25.index(corpus, show_progress=False)
        values = {k: sorted(set(v)) for k, v in raw.items()}
        fields: dict[str, np.ndarray] = {}
        for key in FILTER_KEYS:
            position = {v: i for i, v in enumerate(values[key])}
            fields[key] = np.asarray([position[x] for x in raw[key]], dtype=np.int32)
        return cls(bm25, ids, fields, values)

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps({"ids": self.ids, "values": self.values}))
        for key, arr in self.fields.items():
            np.save(tmp / f"{key}.npy", arr)
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        meta = folder / "ids.json"
        if not meta.is_file():
            return None
        data = json.loads(meta.read_text())
        fields = {k: np.load(folder / f"{k}.npy") for k in FILTER_KEYS}
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, verbosity=0) if data["ids"] else bm25s.BM25()
        return cls(bm25, data["ids"], fields, data["values"])

    def _mask(self, filters: dict[str, str] | None) -> np.ndarray | None:
        if not filters:
            return None
        mask = np.ones(len(self.ids), dtype=bool)
        for key, value in filters.items():
            if value not in self.values.get(key, []):
                return np.zeros(len(self.ids), dtype=bool)
            mask &= self.fields[key] == self.values[key].index(value)
        return mask

    def search(self, query: str, top_k: int, filters: dict[str, str] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score) best first; only chunks with a positive score."""
        terms = [t for t in tokenize(query) if t in self.vocab]
        if not terms or not self.ids:
            return []
        scores = self.bm25.get_scores(terms)
        mask = self._mask(filters)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
