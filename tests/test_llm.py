"""The model interface: selection by settings, the pinned embedded model, and both backends for real.

The Ollama backend is exercised with the unmodified `ollama` client and `llama-index-llms-ollama`
against `tests/ollama_adapter.py` — a test adapter speaking the Ollama protocol in front of the
embedded model, because no Ollama server can be installed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ollama
import pytest
from ollama_adapter import serve

from assistant.llm import (
    MODEL_SHA256,
    ChatLLM,
    EmbeddedLLM,
    LLMFailed,
    LLMUnavailable,
    ModelIntegrityError,
    OllamaLLM,
    file_sha256,
    locate_model,
    make_llm,
    ollama_base_url,
    verify_model,
)
from assistant.settings import Settings

QUESTION = [{"role": "user", "content": "Name one primary colour."}]


def free_port_url() -> str:
    """A loopback URL where nothing listens (the port was bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- selection ------------------------------------------------------------------------------------


def test_make_llm_none_means_retrieval_only() -> None:
    assert make_llm(Settings(llm="none")) is None


def test_make_llm_embedded_takes_threads_and_timeout_and_loads_nothing() -> None:
    llm = make_llm(Settings(llm="embedded", llm_threads=2, llm_timeout=7.5))
    assert isinstance(llm, EmbeddedLLM) and isinstance(llm, ChatLLM)
    assert (llm.threads, llm.timeout) == (2, 7.5)
    assert llm.name == "embedded:SmolLM2-135M-Instruct"


def test_make_llm_ollama_connects_to_nothing_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    url = free_port_url()
    monkeypatch.setenv("OLLAMA_HOST", url.removeprefix("http://"))
    llm = make_llm(Settings(llm="ollama:qwen2.5:0.5b", llm_timeout=5))
    assert isinstance(llm, OllamaLLM) and isinstance(llm, ChatLLM)
    assert llm.name == "ollama:qwen2.5:0.5b" and llm.base_url == url
    try:
        with pytest.raises(LLMUnavailable, match="cannot reach Ollama"):  # a real refused connection
            list(llm.stream(QUESTION, max_tokens=5))
    finally:
        llm.close()


@pytest.mark.parametrize("spec", ["", "ollama", "llama:x", "Embedded", "ollama:"])
def test_make_llm_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"expected 'embedded'|name the model after 'ollama:'"):
        make_llm(Settings(llm=spec))


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("http://127.0.0.1:9999/", "http://127.0.0.1:9999"),
        ("https://ollama.internal", "https://ollama.internal:443"),
        ("[::1]:11500", "http://[::1]:11500"),
        ("http://proxy:80/ollama", "http://proxy:80/ollama"),
    ],
)
def test_ollama_host_is_read_like_the_ollama_cli(value: str, url: str) -> None:
    assert ollama_base_url(value) == url


# --- the pinned model file ------------------------------------------------------------------------


def test_installed_model_matches_the_pinned_sha256() -> None:
    path = locate_model()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert file_sha256(path) == MODEL_SHA256


def test_a_different_model_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"GGUF not the pinned bytes")
    with pytest.raises(ModelIntegrityError, match="expected b179c952"):
        verify_model(fake)
    with pytest.raises(LLMUnavailable, match="reinstall"):  # what callers catch
        list(EmbeddedLLM(model_path=fake).stream(QUESTION, max_tokens=5))


# --- the embedded model, for real -----------------------------------------------------------------


@pytest.mark.slow
def test_embedded_streams_text_deltas(embedded: EmbeddedLLM) -> None:
    deltas = list(embedded.stream(QUESTION, max_tokens=12))
    assert len(deltas) >= 2 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas).strip()


@pytest.mark.slow
def test_embedded_times_out_with_llm_failed(embedded: EmbeddedLLM) -> None:
    impatient = EmbeddedLLM(threads=1, timeout=0.05)  # same loaded model, a real deadline
    with pytest.raises(LLMFailed, match=r"within 0\.05 s"):
        list(impatient.stream([{"role": "user", "content": "Write a long story. " * 50}], max_tokens=400))
    # the cancelled generation does not wedge the model for the next caller
    assert "".join(embedded.stream(QUESTION, max_tokens=5)).strip()


@pytest.mark.slow
def test_embedded_reports_an_over_long_prompt_as_unavailable(embedded: EmbeddedLLM) -> None:
    with pytest.raises(LLMUnavailable, match="context"):
        list(embedded.stream([{"role": "user", "content": "word " * 6000}], max_tokens=5))


# --- Ollama protocol, through the real clients ----------------------------------------------------


@pytest.fixture(scope="module")
def adapter(embedded: EmbeddedLLM) -> Iterator[str]:
    with serve(embedded, model="smollm2:135m") as url:
        yield url


@pytest.mark.slow
def test_unmodified_ollama_client_talks_to_the_adapter(adapter: str) -> None:
    with ollama.Client(host=adapter) as client:
        assert [m.model for m in client.list().models] == ["smollm2:135m"]
        assert client.show("smollm2:135m").modelinfo["llama.context_length"] == 4096
        reply = client.chat(model="smollm2:135m", messages=QUESTION, options={"num_predict": 12})
        assert reply.message.content.strip() and reply.done
        parts = list(client.chat(model="smollm2:135m", messages=QUESTION, stream=True, options={"num_predict": 12}))
        assert len(parts) >= 2 and parts[-1].done and "".join(p.message.content or "" for p in parts).strip()


@pytest.mark.slow
def test_make_llm_ollama_answers_through_llama_index(adapter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", adapter)
    llm = make_llm(Settings(llm="ollama:smollm2:135m", llm_timeout=60))
    assert isinstance(llm, OllamaLLM)
    try:
        text = "".join(llm.stream(QUESTION, max_tokens=16))
    finally:
        llm.close()
    assert text.strip()


@pytest.mark.slow
def test_ollama_unknown_model_is_unavailable(adapter: str) -> None:
    llm = OllamaLLM("llama3", base_url=adapter)
    try:
        with pytest.raises(LLMUnavailable, match="no model 'llama3'"):
            list(llm.stream(QUESTION, max_tokens=5))
    finally:
        llm.close()


@pytest.mark.slow
def test_ollama_error_mid_stream_is_llm_failed(embedded: EmbeddedLLM) -> None:
    with serve(embedded, fail_after=2) as url:
        llm = OllamaLLM("smollm2:135m", base_url=url)
        got: list[str] = []
        try:
            with pytest.raises(LLMFailed, match="injected failure"):
                for delta in llm.stream(QUESTION, max_tokens=20):
                    got.append(delta)
        finally:
            llm.close()
        assert len(got) == 2
