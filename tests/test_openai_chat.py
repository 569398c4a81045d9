"""`MCDEWEY_LLM=openai:<model>` against a real OpenAI-compatible server: llama.cpp's own server
(`tests/openai_server.py`, the packaged SmolLM2-135M) in a child process, started once for the module
and requiring an API key, so every answered request proves the key was sent as `Authorization: Bearer`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from openai_server import MODEL_ALIAS, openai_server
from test_answer import KRB, LIBRARY, KeywordSearch

from assistant.answering.pipeline import answer, stream_answer
from assistant.answering.results import Delta, Final
from assistant.answering.verify import Similarity
from assistant.llm import ChatLLM, LLMFailed, LLMUnavailable, make_llm
from assistant.measure.answers import verified_share
from assistant.openai_chat import DEFAULT_BASE_URL, OpenAIChatLLM
from assistant.settings import Settings
from assistant.surfaces.cli import main

KEY = "sk-test-" + secrets.token_hex(8)
QUESTION = [{"role": "user", "content": "Name one primary colour."}]
ASKED = "What is the default value of kdc_tcp_listen_backlog?"


def nothing_listens() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with openai_server(api_key=KEY) as url:
        yield url


def model(url: str, key: str | None = KEY, timeout: float = 60) -> OpenAIChatLLM:
    llm = make_llm(Settings(llm=f"openai:{MODEL_ALIAS}", openai_base_url=url, openai_api_key=key,
                            llm_timeout=timeout))
    assert isinstance(llm, OpenAIChatLLM) and isinstance(llm, ChatLLM)
    return llm


# --- settings -------------------------------------------------------------------------------------


def test_openai_is_chosen_by_settings_with_the_default_base_url() -> None:
    llm = make_llm(Settings(llm="openai:Qwen/Qwen2.5-7B-Instruct"))
    assert isinstance(llm, OpenAIChatLLM)
    assert (llm.name, llm.base_url, llm.prompt_budget) == ("openai:Qwen/Qwen2.5-7B-Instruct", DEFAULT_BASE_URL, 2000)
    assert str(Settings(llm="openai:m:1").llm) == "openai:m:1"


@pytest.mark.parametrize(
    ("env", "named", "reason"),
    [
        ({"MCDEWEY_LLM": "openai:"}, "MCDEWEY_LLM", "name the model after 'openai:'"),
        ({"MCDEWEY_LLM": "gpt-4"}, "MCDEWEY_LLM", "expected 'embedded', 'ollama:<model>', 'openai:<model>'"),
        ({"MCDEWEY_OPENAI_BASE_URL": "127.0.0.1:8080/v1"}, "MCDEWEY_OPENAI_BASE_URL", "expected http(s)://host"),
        ({"MCDEWEY_OPENAI_BASE_URL": "http://gpu box/v1"}, "MCDEWEY_OPENAI_BASE_URL", "expected http(s)://host"),
        ({"MCDEWEY_OPENAI_BASE_URL": "http://h:70000/v1"}, "MCDEWEY_OPENAI_BASE_URL", "port 70000 is out of range"),
        ({"MCDEWEY_OPENAI_BASE_URL": "https://me:" + KEY + "@h/v1"}, "MCDEWEY_OPENAI_BASE_URL",
         "put the key in MCDEWEY_OPENAI_API_KEY"),
    ],
)
def test_a_bad_setting_stops_mcdewey_naming_it(
    env: dict[str, str], named: str, reason: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MCDEWEY_OPENAI_API_KEY", KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    assert f"invalid setting {named}" in err and reason in err
    assert KEY not in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1/", "https://llm.example.org", "http://[::1]:1234/v1"])
def test_good_base_urls_are_taken_without_a_trailing_slash(url: str) -> None:
    assert Settings(openai_base_url=url).openai_base_url == url.rstrip("/")


def test_the_key_is_never_shown() -> None:
    settings = Settings(llm="openai:m", openai_api_key=KEY)
    llm = make_llm(settings)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    assert llm is not None and KEY not in repr(llm) and KEY not in llm.name


def test_an_unreachable_server_gives_the_passages_with_the_usual_note() -> None:
    llm = OpenAIChatLLM(MODEL_ALIAS, nothing_listens(), KEY, timeout=5)
    try:
        result = answer(ASKED, search=KeywordSearch(LIBRARY), llm=llm)
    finally:
        llm.close()
    assert not result.declined and result.citations[0].chunk_id == KRB.chunk_id and "The default value is 5" in \
        result.answer
    assert result.note and result.note.startswith("The language model is unavailable (cannot reach the server at")
    assert "MCDEWEY_OPENAI_BASE_URL" in result.note and result.timings.first_token_s is None


# --- the real server ------------------------------------------------------------------------------


@pytest.mark.slow
def test_streams_deltas_with_the_bearer_key(server: str) -> None:
    llm = model(server)
    try:
        deltas = list(llm.stream(QUESTION, max_tokens=8))
    finally:
        llm.close()
    assert len(deltas) >= 2 and "".join(deltas).strip()  # the server refuses requests without the key


@pytest.mark.slow
@pytest.mark.parametrize(("key", "fix"), [("sk-wrong", "set MCDEWEY_OPENAI_API_KEY to a key it accepts"),
                                          (None, "it needs a key: set MCDEWEY_OPENAI_API_KEY")])
def test_a_refused_key_is_a_note_naming_the_setting(server: str, key: str | None, fix: str) -> None:
    llm = model(server, key=key)
    try:
        with pytest.raises(LLMUnavailable, match="refused the API key"):
            list(llm.stream(QUESTION, max_tokens=5))
        result = answer(ASKED, search=KeywordSearch(LIBRARY), llm=llm)
    finally:
        llm.close()
    assert result.note and "unavailable" in result.note and fix in result.note and "401" in result.note
    assert "The default value is 5" in result.answer and (key is None or key not in result.note)


@pytest.mark.slow
def test_a_wrong_path_is_unavailable_naming_the_base_url_setting(server: str) -> None:
    llm = model(server.replace("/v1", "/nowhere/v1"))
    try:
        with pytest.raises(LLMUnavailable, match=r"404.*MCDEWEY_OPENAI_BASE_URL"):
            list(llm.stream(QUESTION, max_tokens=5))
    finally:
        llm.close()


@pytest.mark.slow
def test_a_deadline_mid_answer_is_llm_failed_and_the_server_serves_on(server: str) -> None:
    impatient = model(server, timeout=1.0)
    try:
        with pytest.raises(LLMFailed, match=r"within 1 s"):
            list(impatient.stream([{"role": "user", "content": "Write a long story about a dragon."}], 400))
    finally:
        impatient.close()
    llm = model(server)
    try:
        assert "".join(llm.stream(QUESTION, max_tokens=5)).strip()
    finally:
        llm.close()


@pytest.mark.slow
def test_an_answer_streams_cites_and_passes_the_sentence_check(server: str, similarity: Similarity) -> None:
    llm = model(server)
    try:
        events = list(stream_answer(ASKED, search=KeywordSearch(LIBRARY), llm=llm, similarity=similarity,
                                    max_tokens=60))
    finally:
        llm.close()
    deltas = [e.text for e in events if isinstance(e, Delta)]
    final = events[-1]
    assert isinstance(final, Final) and deltas, "the model's words stream as they come"
    result = final.result
    assert result.llm == f"openai:{MODEL_ALIAS}" and not result.declined and result.timings.first_token_s
    assert result.citations[0].chunk_id == KRB.chunk_id and "5" in result.answer
    # Every sentence shown is said by the passage it cites, whatever the model wrote.
    assert verified_share(result, similarity) == 1.0
    raw = "".join(deltas)
    kept_own = bool(result.dropped) or result.note is None or "could not be tied" in result.note
    assert kept_own and raw.strip()
