"""A burst of 50 questions at once against `mcdewey serve` itself (a child process, the real embedded
model, default MCDEWEY_MAX_ANSWERS=2 and MCDEWEY_ANSWER_QUEUE=8), as a user would cause it.

Asserted, as the hardening issue's done-when asks: /healthz and /api/search answer within 2 s all
through the burst (generous: they measured 0.2 s and 0.5 s here, with the model busy on both cores);
every ask beyond the slots and the line is refused at once with 503 and Retry-After; questions whose
clients have gone stop costing CPU; and the server's memory comes back to within 10% of where it stood
after warm-up. Memory is the server process's RSS (from /proc), sampled during the burst; the peak is
printed, not asserted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures_server import serve_process

pytestmark = pytest.mark.slow
QUESTIONS = (
    "Which folder holds messages the transfer agent could not deliver in Acme Router 2.0?",
    "How is the routing table declared in Acme Router 1.6?",
)
BURST = 50
SLOTS = 2 + 8  # the defaults: answers running + waiting
QUICK_S = 2.0  # /healthz, /api/search and a refusal must each answer within this, throughout
MEMORY_SLACK = 0.10  # RSS after the burst within 10% of RSS after warm-up
LEAVE_AFTER_S = 1.0  # less than an answer takes with the embedded model (measured 1.2-4 s), waits included
IDLE_WINDOW_S = 3.0
# A running answer keeps a llama.cpp thread busy (about 1 CPU-second a second; ~0.3 when the machine
# is shared). 0.6 CPU-seconds in the window is far below two running answers and far above idle.
IDLE_CPU_S = 0.6
PROBES = (("healthz", "/healthz", {}), ("search", "/api/search", {"q": "UmssMtaBadMail"}))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ask(url: str, n: int, timeout: float = 300) -> tuple[int, float, httpx.Headers, dict[str, Any]]:
    t0 = time.monotonic()
    response = httpx.post(f"{url}/api/ask", json={"question": QUESTIONS[n % 2]}, timeout=timeout)
    return response.status_code, time.monotonic() - t0, response.headers, response.json()


@pytest.fixture(scope="module")
def served(library: Path, indexed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with serve_process(library, indexed, tmp_path_factory.mktemp("burst-server"), llm="embedded") as (url, proc):
        yield url, proc.pid


class Watch:
    """/healthz and /api/search in turn, and the server's RSS, until stopped."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid
        self.latencies: dict[str, list[float]] = {"healthz": [], "search": []}
        self.rss: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._probe), threading.Thread(target=self._sample)]

    def __enter__(self) -> Watch:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _probe(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                for name, path, params in PROBES:
                    t0 = time.monotonic()
                    response = client.get(path, params=params)
                    self.latencies[name].append(time.monotonic() - t0)
                    if response.status_code != 200:
                        self.failures.append(f"{path}: {response.status_code} {response.text[:200]}")
                time.sleep(0.05)

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.rss.append(rss_mb(self.pid))
            time.sleep(0.2)


def test_a_burst_of_50_asks_keeps_the_server_responsive_and_gives_its_memory_back(served: tuple[str, int]) -> None:
    url, pid = served
    warm = [ask(url, n) for n in range(2)]  # loads the model and the answer path's caches
    assert [w[0] for w in warm] == [200, 200], warm
    assert warm[0][3]["llm"].startswith("embedded:")
    before = rss_mb(pid)

    with Watch(url, pid) as watch, ThreadPoolExecutor(max_workers=BURST) as pool:
        results = list(pool.map(lambda n: ask(url, n), range(BURST)))
    time.sleep(2.0)  # the last answer's threads wind down
    after = rss_mb(pid)

    refused = [r for r in results if r[0] == 503]
    answered = [r for r in results if r[0] == 200]
    print(f"\nburst of {BURST} asks: {len(answered)} answered, {len(refused)} refused "
          f"(slowest refusal {max(r[1] for r in refused):.2f} s); /healthz max {max(watch.latencies['healthz']):.2f} s "
          f"over {len(watch.latencies['healthz'])}, /api/search max {max(watch.latencies['search']):.2f} s over "
          f"{len(watch.latencies['search'])}; RSS before {before:.0f} MB, peak {max(watch.rss):.0f} MB, "
          f"after {after:.0f} MB")
    assert not watch.failures, watch.failures
    assert len(answered) + len(refused) == BURST, [r[0] for r in results]
    assert len(answered) >= SLOTS and len(refused) >= BURST - 2 * SLOTS
    for _, seconds, headers, body in refused:
        assert seconds < QUICK_S  # refused at once, not after waiting
        assert int(headers["retry-after"]) > 0
        assert "busy" in body["detail"] and "try again" in body["detail"]
    for _, _, _, body in answered:
        assert body["answer"] and (body["citations"] or body["passages"])
    assert max(watch.latencies["healthz"]) < QUICK_S
    assert max(watch.latencies["search"]) < QUICK_S
    assert after <= before * (1 + MEMORY_SLACK), f"RSS {before:.0f} MB before the burst, {after:.0f} MB after"


def test_questions_whose_clients_left_stop_costing_cpu(served: tuple[str, int]) -> None:
    url, pid = served
    assert ask(url, 0)[0] == 200  # warm, and idle again

    def ask_and_leave(n: int) -> bool:
        try:
            # Always the first question: the second's answer is short, and with its prompt reused a slot
            # answered it three times within the second in one run (7 of 10 left; the first's: all).
            httpx.post(f"{url}/api/ask", json={"question": QUESTIONS[0]}, timeout=LEAVE_AFTER_S)
        except httpx.ReadTimeout:
            return True
        return False

    with ThreadPoolExecutor(max_workers=SLOTS) as pool:  # every slot and place in line taken, then left
        left = list(pool.map(ask_and_leave, range(SLOTS)))
    # The two running answers may finish within the second (llama.cpp reuses a repeated prompt); the eight
    # behind them cannot, and each would cost over a CPU-second if it were not stopped.
    assert sum(left) >= SLOTS - 2, f"only {sum(left)} of {SLOTS} clients left before their answer came back"
    time.sleep(1.5)  # the server notices within DISCONNECT_POLL_S; the model stops at its next token
    cpu0 = cpu_seconds(pid)
    time.sleep(IDLE_WINDOW_S)
    used = cpu_seconds(pid) - cpu0
    print(f"\n{sum(left)} of {SLOTS} asks left after {LEAVE_AFTER_S} s; server CPU {used:.2f} s in the next "
          f"{IDLE_WINDOW_S} s")
    assert used < IDLE_CPU_S, f"the server kept working for clients that had gone ({used:.2f} CPU s)"
    status, _, _, body = ask(url, 1)  # no answer for a ghost runs ahead of a new question
    assert status == 200 and body["answer"], body
