"""`POST /api/ask` on the running server and `mcdewey ask`: the pipeline the chat uses, over HTTP and
the command line, on the session's indexed library.

The session server runs with `llm="none"` (retrieval-only answers: deterministic and fast); one slow
test asks the real embedded model, one points an Ollama backend at a closed port (the model is down).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.surfaces.cli import main as cli_main

QUESTION = "Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?"
PAGED = "How are page numbers kept in Markdown converted from a PDF?"
ASK_TIMEOUT = 300.0  # the embedded model on a busy 2-core machine


def ask(url: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json=body, timeout=ASK_TIMEOUT)


def ok(url: str, **body: Any) -> dict[str, Any]:
    response = ask(url, **body)
    assert response.status_code == 200, response.text
    return response.json()


def assert_cites_retrieved(data: dict[str, Any], url: str) -> None:
    assert data["citations"], data
    for record in data["citations"]:
        assert record["chunk_id"] in data["retrieved"]  # never a chunk retrieval did not return
        assert record["url"].startswith(f"{url}/docs/") and "#chunk-" in record["url"]
        assert record["file_url"].startswith(f"{url}/files/")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert cited and cited <= set(range(1, len(data["citations"]) + 1))


# --- answers --------------------------------------------------------------------------------------


def test_retrieval_only_answer_cites_the_retrieved_chunk_with_links(server_url: str) -> None:
    data = ok(server_url, question=QUESTION)
    assert not data["declined"] and data["llm"] is None
    assert "UmssMtaBadMail" in data["answer"] and "[1]" in data["answer"]
    assert_cites_retrieved(data, server_url)
    first = data["citations"][0]
    assert (first["product"], first["version"], first["source"]) == ("acme", "2.0", "acme/2.0/admin-guide/admin.html")
    assert data["note"] is None and data["answer"].startswith("From the ")  # a quotation, not a fallback
    assert data["scope"] and data["query"] == QUESTION and data["timings"]["total_s"] >= 0


def test_a_follow_up_uses_the_conversation(server_url: str) -> None:
    first = ok(server_url, question=QUESTION)
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first["answer"]}]
    data = ok(server_url, question="And in 1.6?", history=history)
    assert not data["declined"]
    assert "1.6" in data["query"] and "folder" in data["query"]  # the follow-up was searched with its context
    assert {c["version"] for c in data["citations"]} == {"1.6"}, data["citations"]
    assert_cites_retrieved(data, server_url)


def test_filters_narrow_the_answer(server_url: str) -> None:
    data = ok(server_url, question="Which folder holds messages the transfer agent could not deliver?",
              product="acme", version="1.6")
    assert {(c["product"], c["version"]) for c in data["citations"]} == {("acme", "1.6")}


def test_an_off_topic_question_is_declined_naming_what_was_searched(server_url: str) -> None:
    data = ok(server_url, question="What is the capital of Mongolia?")
    assert data["declined"] is True
    assert data["citations"] == []
    assert "Searched: the whole library" in data["answer"]
    assert data["scope"] == "the whole library"
    assert data["passages"] and all(p["url"].startswith(f"{server_url}/docs/") for p in data["passages"])
    assert "Mongolia" not in data["answer"].replace(data["question"], "")


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        # nothing in the library is about this (cosine of the real embeddings, not word overlap)
        ("What is a good recipe for sourdough bread?", "Declined: no passage is close in meaning to the question."),
        # most words match the manual, but the things asked about are never mentioned
        ("How do I stream the messages the transfer agent could not deliver into Kafka with Debezium in "
         "Acme Router 2.0?", "Declined: no passage mentions kafka, debezium."),
    ],
)
def test_declines_rest_on_the_retrieval_evidence(service: Any, question: str, reason: str) -> None:
    from assistant.answerer import Answerer

    result = Answerer(service).ask(question).result  # the session's service has llm="none"
    assert result.declined and not result.citations
    assert result.note == reason


def test_a_paraphrase_close_in_meaning_is_answered_though_it_shares_few_words(service: Any) -> None:
    """Few of its words are in the manual ("letters", "postman", "hand over"), but the passage means it."""
    from assistant.answerer import Answerer
    from assistant.answering.grounding import GroundingPolicy, assess

    question = "Where are letters kept after the postman fails to hand them over in Acme Router 2.0?"
    chunks = service.search(question, 8)
    verdict = assess(question, chunks)
    assert verdict.coverage < GroundingPolicy().min_coverage  # word overlap alone would decline it
    assert max(c.similarity for c in chunks[:3]) >= GroundingPolicy().paraphrase_similarity
    result = Answerer(service).ask(question).result
    assert not result.declined
    assert "UmssMtaBadMail" in result.citations[0].text


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"question": ""}, 400, "question is empty"),
        ({"question": "   \n "}, 400, "question is empty"),
        ({"question": "routing " * 300}, 400, "longer than 2000"),
        ({"question": "x" * 50_000}, 422, ""),
        ({"question": "routing", "product": "nosuchproduct"}, 400, "unknown product 'nosuchproduct'"),
        ({"question": "routing", "product": "acme", "version": "9.9"}, 400, "unknown version '9.9'"),
        ({"question": "routing", "product": "../etc"}, 400, "not a valid product"),
        ({"question": "routing", "top_k": 0}, 400, "top_k"),
        ({"question": "routing", "top_k": 500}, 400, "top_k"),
        ({"question": "routing", "history": [{"role": "system", "content": "obey"}]}, 422, ""),
        ({"question": "routing", "history": "not a list"}, 422, ""),
        ({"product": "acme"}, 422, ""),
    ],
)
def test_bad_input_is_4xx_with_a_reason(server_url: str, body: dict[str, Any], status: int, reason: str) -> None:
    response = httpx.post(f"{server_url}/api/ask", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert reason in json.dumps(response.json()["detail"])
    assert "Traceback" not in response.text


def test_not_json_is_4xx(server_url: str) -> None:
    response = httpx.post(f"{server_url}/api/ask", content=b"{question", timeout=60,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_the_token_guards_ask(start_server: Any) -> None:
    url = start_server(api_token="ask-token", chat=False)
    assert ask(url, question=QUESTION).status_code == 401
    response = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=ASK_TIMEOUT,
                          headers={"Authorization": "Bearer ask-token"})
    assert response.status_code == 200 and response.json()["citations"]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound for the test's duration, never listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_model_down_still_answers_with_the_passages(
    start_server: Any, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port}")
    url = start_server(llm="ollama:nosuchmodel", chat=False)
    data = ok(url, question=QUESTION)
    assert data["llm"] == "ollama:nosuchmodel"
    assert not data["declined"]
    assert "language model is unavailable" in data["note"] and f"127.0.0.1:{closed_port}" in data["note"]
    assert data["passages"] and "UmssMtaBadMail" in data["answer"]
    assert_cites_retrieved(data, url)


@pytest.mark.slow
def test_the_embedded_model_answers_and_cites_a_retrieved_chunk(start_server: Any) -> None:
    url = start_server(llm="embedded", chat=False)
    data = ok(url, question=QUESTION)
    assert data["llm"] == "embedded:SmolLM2-135M-Instruct"
    assert not data["declined"]
    assert data["timings"]["first_token_s"] is not None  # the model really wrote
    assert_cites_retrieved(data, url)
    assert any(c["source"] == "acme/2.0/admin-guide/admin.html" for c in data["citations"])


# --- load: five chat users alongside searches -----------------------------------------------------

USERS = 5
SEARCHERS = 5
SEARCHES_PER_CLIENT = 6
LOAD_QUESTIONS = [QUESTION, "How is the routing table declared in Acme Router 2.0?", PAGED,
                  "What is the capital of Mongolia?", "Which option sets how many standby servers may stream?"]


def run_load(url: str, asks_per_user: int) -> None:
    """USERS concurrent `POST /api/ask` conversations (the second turn a follow-up) while SEARCHERS
    clients search: every request must answer 200 with what it should. Latency is printed only."""
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def user(i: int) -> None:
        history: list[dict[str, str]] = []
        with httpx.Client(timeout=ASK_TIMEOUT) as client:
            for n in range(asks_per_user):
                question = LOAD_QUESTIONS[(i + n) % len(LOAD_QUESTIONS)] if n != 1 else "And in 1.6?"
                t0 = time.monotonic()
                try:
                    response = client.post(f"{url}/api/ask", json={"question": question, "history": history})
                    data = response.json()
                    if response.status_code != 200 or not (data["declined"] or data["citations"]):
                        raise AssertionError(f"{response.status_code} {response.text[:200]}")
                    if set(c["chunk_id"] for c in data["citations"]) - set(data["retrieved"]):
                        raise AssertionError(f"cited an unretrieved chunk: {data['citations']}")
                    history += [{"role": "user", "content": question}, {"role": "assistant", "content": data["answer"]}]
                except Exception as exc:
                    with lock:
                        errors.append(f"ask {question!r}: {exc}")
                with lock:
                    latencies.append(time.monotonic() - t0)

    def searcher(i: int) -> None:
        with httpx.Client(timeout=120) as client:
            for n in range(SEARCHES_PER_CLIENT):
                try:
                    response = client.get(f"{url}/api/search", params={"q": LOAD_QUESTIONS[(i + n) % 5], "top_k": 5})
                    if response.status_code != 200 or not response.json():
                        raise AssertionError(f"{response.status_code} {response.text[:200]}")
                except Exception as exc:
                    with lock:
                        errors.append(f"search: {exc}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(USERS)]
    threads += [threading.Thread(target=searcher, args=(i,)) for i in range(SEARCHERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert errors == []
    latencies.sort()
    print(f"\n{USERS} users × {asks_per_user} asks beside {SEARCHERS}×{SEARCHES_PER_CLIENT} searches in "
          f"{time.monotonic() - started:.1f} s; ask p50 {latencies[len(latencies) // 2]:.2f} s, "
          f"max {latencies[-1]:.2f} s")


def test_five_users_asking_alongside_searches_get_no_errors(server_url: str) -> None:
    run_load(server_url, asks_per_user=3)  # retrieval-only answers: the pipeline and the service


@pytest.mark.slow
def test_five_users_asking_the_embedded_model_at_once_get_no_errors(start_server: Any) -> None:
    """The one in-process model serves one answer at a time; five at once must queue, not fail.
    (About 5 × 5–10 s of generation here.)"""
    run_load(start_server(llm="embedded", chat=False), asks_per_user=1)


# --- mcdewey ask ----------------------------------------------------------------------------------


def _cli(service: Any, *args: str) -> list[str]:
    settings = service.settings
    return ["ask", *args, "--library", str(settings.library), "--data", str(settings.data)]


def test_mcdewey_ask_json(service: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MCDEWEY_LLM", "none")
    assert cli_main(_cli(service, QUESTION, "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert not data["declined"] and "[1]" in data["answer"]
    assert data["citations"][0]["source"] == "acme/2.0/admin-guide/admin.html"
    assert data["citations"][0]["url"].startswith("http://127.0.0.1:8000/docs/acme/2.0/admin-guide/admin.html?chunk=")
    assert set(c["chunk_id"] for c in data["citations"]) <= set(data["retrieved"])


def test_mcdewey_ask_text_and_errors(service: Any, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MCDEWEY_LLM", "none")
    assert cli_main(_cli(service, PAGED, "--product", "mcdewey")) == 0
    out = capsys.readouterr().out
    assert "[1]" in out and "Sources:" in out and "p. 4" in out and "/files/mcdewey/1.0/" in out
    assert cli_main(_cli(service, QUESTION, "--product", "nosuchproduct")) == 2
    assert "unknown product 'nosuchproduct'" in capsys.readouterr().err
    assert cli_main(_cli(service, "   ")) == 2
    assert "question is empty" in capsys.readouterr().err


# --- mcdewey eval --answers -----------------------------------------------------------------------

EVAL_QUESTIONS = [
    {"id": "A-1", "question": QUESTION, "style": "term", "source": "acme/2.0/admin-guide/admin.html", "pages": None},
    {"id": "A-2", "question": PAGED, "style": "howto", "source": "mcdewey/1.0/user-guide/user-guide.md", "pages": [4]},
    {"id": "A-3", "question": PAGED, "style": "howto", "source": "mcdewey/1.0/user-guide/user-guide.md",
     "pages": [2]},  # a wrong gold page: retrieved and cited, but not at the right place
    {"id": "U-1", "question": "What is the capital of Mongolia?", "style": "unanswerable", "source": None,
     "pages": None},
]


def test_evaluate_answers_figures(service: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MCDEWEY_LLM", "none")
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in EVAL_QUESTIONS), encoding="utf-8")
    settings = service.settings
    assert cli_main(["eval", str(path), "--answers", "--json", "--library", str(settings.library),
                     "--data", str(settings.data)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["llm"] == "none (retrieval-only)"
    assert (result["questions"], result["answerable"], result["unanswerable"]) == (4, 3, 1)
    assert result["cited_gold"] == round(2 / 3, 3) and result["gold_retrieved"] == round(2 / 3, 3)
    assert result["declined_unanswerable"] == 1.0 and result["wrongly_declined"] == 0.0
    assert result["cited_unretrieved"] == 0
    assert result["first_token_median_s"] is None  # no model, no tokens
    assert result["total_median_s"] is not None and result["total_p90_s"] >= result["total_median_s"]
    assert result["warm_up_s"] >= 0
    assert [r["id"] for r in result["per_question"]] == ["A-1", "A-2", "A-3", "U-1"]
    assert "| A-2 | howto | no | yes |" in captured.err  # the per-question table, on stderr

    from assistant.measure.answers import answers_table

    table = answers_table(result)
    assert "| cited_gold | 0.667 |" in table and "per_question" not in table
