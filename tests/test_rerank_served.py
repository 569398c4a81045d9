"""One `mcdewey serve` with MCDEWEY_RERANK: the reranked first chunk is what MCP's `search_docs`, REST's
search, an answer (`/api/ask`) and the chat put first, since every surface ranks through the service.

The cross-encoder is the stand-in (`standin_cross_encoder`), re-ordering the first 3 fused chunks: on
QUESTION its first is not fusion's first, and the quoted answer then cites it (the session's server,
without a reranker, cites fusion's first).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import numpy as np
import pytest
from fixtures_server import mcp_session, serve_process
from test_chat_browser import ask, context_link, open_chat
from test_mcp import rest, structured

from indexing.chunk_vectors import embed_text

QUESTION = "What does mcdewey ingest do?"
DEPTH = 3


@pytest.fixture(scope="module")
def reranked_url(library: Path, indexed: Path, standin_cross_encoder: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_process(library, indexed, tmp_path_factory.mktemp("rerank-server"), llm="none",
                       rerank=str(standin_cross_encoder), rerank_depth=str(DEPTH)) as (url, _):
        yield url


@pytest.fixture(scope="module")
def expected(service: Any, standin_cross_encoder: Path) -> str:
    """The chunk the cross-encoder itself scores best among fusion's first 3 (it is not fusion's first)."""
    from sentence_transformers import CrossEncoder

    head = service.search(QUESTION, DEPTH)
    scores = CrossEncoder(str(standin_cross_encoder), device="cpu").predict(
        [(QUESTION, embed_text(c)) for c in head])
    best = head[int(np.argmax(scores))].chunk_id
    assert best != head[0].chunk_id  # else this file could not tell a reranked server from another
    return best


async def test_mcp_rest_and_an_answer_put_the_reranked_chunk_first(
    reranked_url: str, server_url: str, expected: str
) -> None:
    async with mcp_session(reranked_url) as session:
        found = structured(await session.call_tool("search_docs", {"query": QUESTION, "top_k": 5}))
    assert found[0]["chunk_id"] == expected
    assert rest(reranked_url, "/api/search", q=QUESTION, top_k=5) == found  # one search behind both
    answer = httpx.post(f"{reranked_url}/api/ask", json={"question": QUESTION}, timeout=120).json()
    assert answer["retrieved"][0] == expected and answer["citations"][0]["chunk_id"] == expected
    plain = httpx.post(f"{server_url}/api/ask", json={"question": QUESTION}, timeout=120).json()
    assert plain["citations"][0]["chunk_id"] != expected  # without the reranker, fusion's first is cited


@pytest.mark.browser
def test_the_chat_cites_the_reranked_chunk(reranked_url: str, browser: Any, expected: str) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        open_chat(page, reranked_url)
        answer = ask(page, QUESTION)
        href = unquote(context_link(answer).get_attribute("href") or "")
        assert f"chunk={expected}" in href, href
    finally:
        context.close()
