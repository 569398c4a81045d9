"""The BM25 keyword index, persisted beside Chroma and loaded once (never rebuilt per query).

It is rebuilt from the catalog at the end of an ingest that changed anything, written to a fresh
folder and swapped in by renaming, so a reader never sees half an index.
"""

from __future__ import annotations

import json
import math
import shutil
from array import array
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np

from indexing.chunk import FILTER_KEYS, Chunk
from indexing.tokens import tokenize


def keyword_text(chunk: Chunk) -> str:
    """What BM25 sees: the document title and heading trail, then the text."""
    return " ".join([chunk.doc_title, *chunk.heading, chunk.text])


K1, B = 1.2, 0.75  # bm25s' "lucene" BM25, as the index always used
# Documents scored per numpy step: the 1M-chunk bench library has 55M (token, chunk) pairs, so a float64
# temporary of a step is ~30 MB instead of 440 MB.
BLOCK_DOCS = 1 << 16


def _bm25(token_ids: array[int], counts: array[int], lengths: array[int], distinct: array[int],
          vocab: dict[str, int]) -> bm25s.BM25:
    """bm25s' index from streamed (token id, count) pairs, computed as bm25s.BM25.index computes it
    (same float64 steps rounded to float32, same CSC order) without its per-token Python lists."""
    n_docs, n_vocab = len(lengths), len(vocab)
    cols = np.frombuffer(token_ids, dtype=np.int32)
    tf = np.frombuffer(counts, dtype=np.int32)
    doc_len = np.frombuffer(lengths, dtype=np.int64)
    per_doc = np.frombuffer(distinct, dtype=np.int64)
    avg_len = doc_len.mean()
    df = np.bincount(cols, minlength=n_vocab)
    idf = np.zeros(n_vocab, dtype=np.float32)
    for token, d in enumerate(df.tolist()):
        idf[token] = math.log(1 + (n_docs - d + 0.5) / (d + 0.5))
    data = np.empty(len(cols), dtype=np.float32)
    ends = np.cumsum(per_doc)
    for first in range(0, n_docs, BLOCK_DOCS):
        last = min(first + BLOCK_DOCS, n_docs)
        lo, hi = int(ends[first] - per_doc[first]), int(ends[last - 1])
        l_d = np.repeat(doc_len[first:last], per_doc[first:last]).astype(np.float64)
        f = tf[lo:hi].astype(np.float32)
        tfc = f / (K1 * ((1 - B) + B * l_d / avg_len) + f)
        data[lo:hi] = idf[cols[lo:hi]] * tfc
    order = np.argsort(cols, kind="stable")  # CSC: by token, then by document
    data = data[order]
    indices = np.repeat(np.arange(n_docs, dtype=np.int32), per_doc)[order]
    del order
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    bm25 = bm25s.BM25(k1=K1, b=B)
    bm25.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
    bm25.nonoccurrence_array = None
    bm25.vocab_dict = dict(vocab)
    bm25.vocab_dict.setdefault("", n_vocab)  # as index(create_empty_token=True) does
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    return bm25


class KeywordIndex:
    def __init__(self, bm25: bm25s.BM25, ids: list[str], fields: dict[str, np.ndarray],
                 values: dict[str, list[str]]) -> None:
        self.bm25 = bm25
        self.ids = ids
        self.fields = fields
        self.values = values
        self.vocab: dict[str, int] = getattr(bm25, "vocab_dict", None) or {}  # an empty library has no index

    @classmethod
    def build(cls, chunks: Iterable[Chunk | tuple[Chunk, str | None]]) -> KeywordIndex:
        """From chunks, or (chunk, terms) pairs whose terms were tokenized at ingest (None: tokenize now).

        Streams: each chunk's terms become (token id, count) pairs in flat int32 arrays as they arrive,
        and the filter fields become codes, so no per-chunk token lists are held (issue 15). Build and
        save from the bench's synthetic catalogs, peak RSS above the 64 MB before it (ru_maxrss, fresh
        process), token-string lists handed to bm25s.index → this: 100k chunks 917 → 234 MB (6.1 → 3.8 s),
        300k 2,701 → 593 MB (27 → 10 s), 1M 8,953 → 1,774 MB (80 → 42 s). Scores equal bm25s' own build
        to the bit (tests/test_keyword_build.py; the library's index: all dev and held-out searches).
        """
        ids: list[str] = []
        vocab: dict[str, int] = {}
        token_ids, counts, lengths, distinct = array("i"), array("i"), array("q"), array("q")
        codes: dict[str, dict[str, int]] = {k: {} for k in FILTER_KEYS}
        raw: dict[str, array[int]] = {k: array("i") for k in FILTER_KEYS}
        for item in chunks:
            chunk, terms = item if isinstance(item, tuple) else (item, None)
            ids.append(chunk.chunk_id)
            tokens = (terms.split() if terms is not None else tokenize(keyword_text(chunk))) or [""]
            tf = Counter(tokens)
            token_ids.extend(vocab.setdefault(t, len(vocab)) for t in tf)
            counts.extend(tf.values())
            lengths.append(len(tokens))
            distinct.append(len(tf))
            for key in FILTER_KEYS:
                seen = codes[key]
                raw[key].append(seen.setdefault(getattr(chunk, key), len(seen)))
        bm25 = _bm25(token_ids, counts, lengths, distinct, vocab) if ids else bm25s.BM25(k1=K1, b=B)
        values = {k: sorted(codes[k]) for k in FILTER_KEYS}
        fields: dict[str, np.ndarray] = {}
        for key in FILTER_KEYS:
            order = np.empty(len(values[key]), dtype=np.int32)  # first-seen code -> sorted position
            for position, value in enumerate(values[key]):
                order[codes[key][value]] = position
            fields[key] = order[np.frombuffer(raw[key], dtype=np.int32)] if ids else np.zeros(0, np.int32)
        return cls(bm25, ids, fields, values)

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            if self.ids:
                self.bm25.save(str(tmp / "bm25"), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps({"ids": self.ids, "values": self.values}))
            for key, arr in self.fields.items():
                np.save(tmp / f"{key}.npy", arr)
        except OSError as exc:  # a failed write names no file (a full disk): say which folder it was
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(tmp)) from exc
            raise
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
