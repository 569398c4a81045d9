"""Backpressure for answers: a bounded number in flight, a bounded line, a prompt 503 beyond it, and
answers whose client has gone stopped — while /healthz and /api/search stay quick.

The server is the real app (uvicorn, the session's index, the real `ollama` client and pipeline). Its
model is slow on purpose: `SlowModel` below is a FAKE, clearly so — a scripted model behind the Ollama
test adapter (`tests/ollama_adapter.py`) that writes one word every `delay` seconds without using the
CPU. A burst that saturates a 2-core machine with the real embedded model cannot be caused on demand
and timed reliably here; the slowness is what matters, not the words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from ollama_adapter import serve

from assistant.answering.admission import AnswerSlots
from assistant.errors import Busy

QUESTION = "Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?"
BURST = 30
RUNNING, WAITING = 2, 4
QUICK_S = 2.0  # /healthz, /api/search and a refusal must each answer within this, throughout


class SlowModel:
    """FAKE model (test only): `words` words, one every `delay` s, sleeping rather than computing.

    Counts the generations started and those stopped before their last word (a consumer that left).
    """

    name = "slow-fake"
    prompt_budget = 2000

    def __init__(self, words: int = 20, delay: float = 0.1) -> None:
        self.words = words
        self.delay = delay
        self.started = 0
        self.stopped_early = 0
        self.lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        with self.lock:
            self.started += 1
        written = 0
        try:
            for n in range(self.words):
                time.sleep(self.delay)
                written += 1
                yield f"word{n} "
        finally:
            if written < self.words:
                with self.lock:
                    self.stopped_early += 1


def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def slow_server(start_server: Any, model: SlowModel, **settings: Any) -> Iterator[str]:
    with serve(model, model="slow") as adapter:  # type: ignore[arg-type]
        yield start_server(llm="ollama:slow", ollama_host=adapter, chat=False, **settings)


# --- the slots themselves -------------------------------------------------------------------------


def test_slots_admit_run_queue_and_refuse() -> None:
    slots = AnswerSlots(running=1, waiting=1, retry_after=7)
    first = slots.admit(lambda: iter([1, 2]))
    second = slots.admit(lambda: iter([3]))
    with pytest.raises(Busy) as refused:
        slots.admit(lambda: iter([4]))
    assert refused.value.retry_after == 7 and refused.value.headers() == {"Retry-After": "7"}
    assert "busy" in str(refused.value) and "MCDEWEY_MAX_ANSWERS=1" in str(refused.value)
    assert next(first) == 1 and (slots.running, slots.waiting) == (1, 1)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.extend(second))  # waits for first's slot
    waiter.start()
    time.sleep(0.2)
    assert got == [] and waiter.is_alive()
    assert list(first) == [2]  # the end frees the slot; second runs
    waiter.join(timeout=5)
    assert got == [3] and (slots.running, slots.waiting) == (0, 0)


def test_a_waiting_answer_that_is_cancelled_or_dropped_leaves_the_line() -> None:
    slots = AnswerSlots(running=1, waiting=1)
    running = slots.admit(lambda: iter([1, 2, 3]))
    assert next(running) == 1
    waiting = slots.admit(lambda: iter(["never"]))
    waiting.cancel()  # its client has gone: the place is free at once, the answer never starts
    assert slots.waiting == 0 and list(waiting) == []
    dropped = slots.admit(lambda: iter(["never"]))
    del dropped
    assert slots.waiting == 0
    running.close()  # a consumer that stops early frees its slot
    assert slots.running == 0
    assert list(slots.admit(lambda: iter([9]))) == [9]


# --- a burst against the real server --------------------------------------------------------------


@pytest.fixture
def model() -> SlowModel:
    return SlowModel(words=20, delay=0.1)  # 2 s an answer


@pytest.fixture
def burst_url(start_server: Any, model: SlowModel) -> Iterator[str]:
    yield from slow_server(start_server, model, max_answers=RUNNING, answer_queue=WAITING)


def probe(url: str, stop: threading.Event, latencies: dict[str, list[float]]) -> None:
    """/healthz and /api/search, one after the other, until `stop`; each latency recorded."""
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            for name, path, params in (("healthz", "/healthz", {}), ("search", "/api/search", {"q": "UmssMtaBadMail"})):
                t0 = time.monotonic()
                response = client.get(path, params=params)
                latencies[name].append(time.monotonic() - t0)
                assert response.status_code == 200, response.text
            time.sleep(0.05)


def test_a_burst_of_asks_is_refused_promptly_and_the_server_stays_responsive(
    burst_url: str, model: SlowModel
) -> None:
    latencies: dict[str, list[float]] = {"healthz": [], "search": []}
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as prober:
        probing = prober.submit(probe, burst_url, stop, latencies)

        def one_ask(_: int) -> tuple[int, float, httpx.Headers, dict[str, Any]]:
            t0 = time.monotonic()
            response = httpx.post(f"{burst_url}/api/ask", json={"question": QUESTION}, timeout=120)
            return response.status_code, time.monotonic() - t0, response.headers, response.json()

        with ThreadPoolExecutor(max_workers=BURST) as pool:
            results = list(pool.map(one_ask, range(BURST)))
        stop.set()
        probing.result(timeout=60)

    refused = [r for r in results if r[0] == 503]
    answered = [r for r in results if r[0] == 200]
    print(f"\nburst of {BURST} asks (max {RUNNING} answering, {WAITING} waiting, 2 s an answer): "
          f"{len(answered)} answered, {len(refused)} refused; slowest refusal {max(r[1] for r in refused):.2f} s; "
          f"/healthz max {max(latencies['healthz']):.2f} s over {len(latencies['healthz'])}, "
          f"/api/search max {max(latencies['search']):.2f} s over {len(latencies['search'])}")
    assert len(answered) + len(refused) == BURST, [r[0] for r in results]
    assert len(answered) >= RUNNING + WAITING and len(refused) >= BURST - 2 * (RUNNING + WAITING)
    for _, seconds, headers, body in refused:
        assert seconds < QUICK_S  # refused at once, not after waiting
        assert int(headers["retry-after"]) > 0
        assert "busy" in body["detail"] and "try again" in body["detail"]
    for _, _, _, body in answered:
        assert body["citations"] and body["llm"] == "ollama:slow"
    assert model.started == len(answered)  # a refused ask never reached the model
    assert latencies["healthz"] and max(latencies["healthz"]) < QUICK_S
    assert latencies["search"] and max(latencies["search"]) < QUICK_S
    # after the burst, the server answers normally
    response = httpx.post(f"{burst_url}/api/ask", json={"question": QUESTION}, timeout=120)
    assert response.status_code == 200 and response.json()["citations"]


# --- clients that leave ---------------------------------------------------------------------------


@pytest.fixture
def one_slot_url(start_server: Any, model: SlowModel) -> Iterator[str]:
    model.words, model.delay = 200, 0.05  # 10 s an answer unless stopped
    yield from slow_server(start_server, model, max_answers=1, answer_queue=1)


def ask_and_leave(url: str, after: float) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=after)


def test_an_answer_whose_client_left_stops_and_frees_its_place(one_slot_url: str, model: SlowModel) -> None:
    # A running answer: its client leaves after 1.5 s; generation stops well before its 10 s.
    ask_and_leave(one_slot_url, after=1.5)
    assert model.started == 1
    assert wait_until(lambda: model.stopped_early == 1, 3.0), "the abandoned answer kept generating"

    # A waiting answer: its client leaves; its place in line is free again, and it never starts.
    results: list[int] = []
    runner = threading.Thread(target=lambda: results.append(
        httpx.post(f"{one_slot_url}/api/ask", json={"question": QUESTION}, timeout=120).status_code))
    runner.start()
    assert wait_until(lambda: model.started == 2, 10.0)
    ask_and_leave(one_slot_url, after=1.0)  # queued behind the runner, then gone
    time.sleep(0.5)
    ask_and_leave(one_slot_url, after=1.0)  # queued again (not refused): the place was given back
    assert model.started == 2  # neither waiting answer reached the model
    model.delay = 0.0
    runner.join(timeout=60)
    assert results == [200]
    response = httpx.post(f"{one_slot_url}/api/ask", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 200, response.text


# --- what the other surfaces say -------------------------------------------------------------------


def test_the_chat_says_busy_in_plain_words() -> None:
    chat = pytest.importorskip("assistant.surfaces.chat")
    text = chat.failure_text(Busy("McDewey is busy: 2 answers in progress", 5))
    assert "busy" in text and "try again in a few seconds" in text


def test_mcdewey_ask_exits_non_zero_with_the_reason_when_busy(
    service: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.surfaces.cli import main as cli_main

    # Forced (a fake): the command's own process holds no other answer, so its slots are never all taken.
    def refuse(self: AnswerSlots, start: Any) -> Any:
        raise Busy("McDewey is busy: 2 answers in progress and 8 waiting; try again in 5 s", 5)

    monkeypatch.setattr(AnswerSlots, "admit", refuse)
    monkeypatch.setenv("MCDEWEY_LLM", "none")
    settings = service.settings
    assert cli_main(["ask", QUESTION, "--library", str(settings.library), "--data", str(settings.data)]) == 2
    assert "busy" in capsys.readouterr().err
