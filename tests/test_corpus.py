"""Against the real shared corpus: every answerable question's evidence (the dev set's, the held-out
set's, tests/eval/heldout.jsonl, and the validation set's, tests/eval/validation.jsonl) is inside some
chunk whose page span holds the gold page. Skipped (with a message) where ../shared is absent."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest
from conftest import CORPUS, EVAL, need_corpus

from assistant.measure.retrieval import Question, load_questions
from indexing.chunker import Chunker, Piece
from indexing.library import GENERATED_DIRS, scan_library
from indexing.loaders import load_file

pytestmark = pytest.mark.corpus


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00ad": None}))
    return re.sub(r"\s+", " ", text).strip().lower()


@cache
def pieces(source: str) -> list[Piece]:
    from indexing.embedder import Embedder

    return Chunker(Embedder().count_tokens).chunk(load_file(CORPUS / source).blocks)


HELDOUT = Path(__file__).parent / "eval" / "heldout.jsonl"
VALIDATION = Path(__file__).parent / "eval" / "validation.jsonl"


def answerable() -> list[Question]:
    sets = [load_questions(path) for path in (EVAL, HELDOUT, VALIDATION) if path.is_file()]
    return [q for questions in sets for q in questions if q.source and q.evidence]


@pytest.mark.parametrize("q", answerable(), ids=lambda q: q.id)
def test_evidence_is_inside_a_chunk_on_the_gold_page(q: Question) -> None:
    need_corpus()
    assert q.source and q.evidence
    evidence = normalise(q.evidence)
    holders = [p for p in pieces(q.source) if evidence in normalise(p.text)]
    assert holders, f"{q.id}: evidence not found in any chunk of {q.source}"
    if q.pages:
        assert any(p.page is not None and p.page <= page <= (p.page_end or p.page)
                   for p in holders for page in q.pages), (
            f"{q.id}: evidence found only on pages {[(p.page, p.page_end) for p in holders]}, gold {q.pages}")


def test_the_whole_library_scans_with_every_document_accounted_for() -> None:
    need_corpus()
    scan = scan_library(CORPUS)
    assert len(scan.files) > 1300
    assert not scan.failed
    generated = set(GENERATED_DIRS.values())
    # the pages documentation generators make for their own machinery (search, genindex) are skipped too
    def accounted(reason: str) -> bool:
        return "unsupported" in reason or reason in generated or reason.startswith("generated ")

    assert all(accounted(s.reason) for s in scan.skipped), [s for s in scan.skipped if not accounted(s.reason)]
    assert sum(s.reason.startswith("generated ") for s in scan.skipped) == 4  # BIND's and HAProxy Lua's
    assert any(f.source == "postgresql/15/manual/runtime-config-client.html" for f in scan.files)


def test_manifest_gives_vendors_and_titles() -> None:
    need_corpus()
    files = {f.source: f for f in scan_library(CORPUS).files}
    kdc = files["mit-kerberos/1.20/admin-guide/admin.pdf"]
    assert kdc.vendor.startswith("MIT Kerberos") and kdc.doc_title == "Kerberos Administration Guide"

