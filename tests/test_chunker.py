"""Chunking: chunks fit the model's window, keep their page spans, and repeat a little context."""

from __future__ import annotations

from indexing.chunker import Chunker, approx_tokens
from indexing.document import Block


def sentence(n: int) -> str:
    return f"Sentence number {n} explains how the router keeps its configuration."


def blocks_for_pages(pages: int, per_page: int, heading: list[str] | None = None) -> list[Block]:
    return [
        Block(" ".join(sentence(p * 100 + i) for i in range(3)), page=p, heading=heading or ["Guide"])
        for p in range(1, pages + 1) for _ in range(per_page)
    ]


def test_chunks_fit_the_token_budget() -> None:
    chunker = Chunker(approx_tokens, max_tokens=120)
    pieces = chunker.chunk(blocks_for_pages(5, 6))
    assert pieces
    assert all(approx_tokens([p.text])[0] <= 120 + 2 for p in pieces)


def test_a_chunk_spans_at_most_two_pages() -> None:
    pieces = Chunker(approx_tokens, max_tokens=200).chunk(blocks_for_pages(12, 1))
    for p in pieces:
        assert p.page is not None and p.page_end is not None
        assert p.page_end - p.page <= 1


def test_a_long_paragraph_is_split_without_losing_words() -> None:
    long = " ".join(sentence(i) for i in range(80))
    pieces = Chunker(approx_tokens, max_tokens=100).chunk([Block(long, page=3)])
    assert len(pieces) > 3
    joined = " ".join(p.text[p.overlap_chars:] for p in pieces)
    for i in (0, 40, 79):
        assert f"Sentence number {i} " in joined
    assert all(p.page == 3 for p in pieces)


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    pieces = Chunker(approx_tokens, max_tokens=80, overlap_tokens=30).chunk(blocks_for_pages(1, 8))
    second = pieces[1]
    assert second.overlap_chars > 0
    carried = second.text[: second.overlap_chars].strip()
    assert carried and carried in pieces[0].text


def test_a_new_heading_starts_a_new_chunk_without_overlap() -> None:
    blocks = [Block("Intro text " * 30, page=1, heading=["A"]), Block("Other text " * 30, page=1, heading=["B"])]
    pieces = Chunker(approx_tokens, max_tokens=200, min_tokens=20).chunk(blocks)
    assert [p.heading for p in pieces] == [["A"], ["B"]]
    assert pieces[1].overlap_chars == 0


def test_unpaged_text_has_no_pages() -> None:
    pieces = Chunker(approx_tokens).chunk([Block("Some text without pages.")])
    assert pieces[0].page is None and pieces[0].page_end is None


def test_a_short_lead_in_line_moves_to_the_text_it_introduces() -> None:
    body = " ".join(sentence(i) for i in range(12))
    blocks = [Block(body, page=1), Block("Examples:", page=1), Block(body, page=1)]
    pieces = Chunker(approx_tokens, max_tokens=200, overlap_tokens=0).chunk(blocks)
    assert len(pieces) == 2
    assert not pieces[0].text.rstrip().endswith("Examples:")
    assert pieces[1].text.startswith("Examples:")
