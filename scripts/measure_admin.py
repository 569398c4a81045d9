"""Measure library management on this machine: a ~10 MB PDF uploaded from the page (Debian's chromium)
to its first search hit, how often the job's progress refreshes, and search latency during the job.

    PYTHONPATH=. .venv/bin/python scripts/measure_admin.py --work /tmp/mcdewey-measure [--library DIR]

Indexes `--library` (default: the demo library) into a scratch data directory under `--work`, serves it
with `mcdewey serve` (its own process, no chat, no model), then measures; prints one JSON object.
With `--library` set to the shared library, `--whole` also times a re-index job of it from scratch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))
PHRASE = "The gyrocompass damping coil settles within eleven seconds after a heading change."
QUERIES = ["routing table", "max_wal_senders", "how do I configure the server", "healthz", "page markers"]


def big_pdf(megabytes: float, pages: int = 40) -> bytes:
    """A manual of `pages` text pages and one incompressible image (the size of a scanned figure)."""
    from fpdf import FPDF
    from PIL import Image

    rng = random.Random(1)
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    pdf = FPDF()
    pdf.set_title("Gyrocompass Manual")
    pdf.set_font("Helvetica", size=10)
    for n in range(pages):
        pdf.add_page()
        if n == 0:
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            pdf.image(buf, w=150)
        words = [f"Section {n}.{i}: the compass card turns on its gimbal while the follow-up motor tracks "
                 f"the sensitive element through step {i}." for i in range(25)]
        pdf.multi_cell(0, 5, " ".join(words))
    pdf.add_page()
    pdf.multi_cell(0, 5, PHRASE)
    return bytes(pdf.output())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] if ordered else float("nan")


class Searcher(threading.Thread):
    """Searches at a steady pace (4 a second) until stopped: latencies and errors."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.times, self.errors = url, threading.Event(), [], []

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            n = 0
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    r = client.get(f"{self.url}/api/search", params={"q": QUERIES[n % len(QUERIES)]})
                    if r.status_code != 200:
                        self.errors.append(f"{r.status_code} {r.text[:100]}")
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                self.times.append(1000 * (time.perf_counter() - started))
                n += 1
                self.stop.wait(max(0.0, 0.25 - (time.perf_counter() - started)))

    def summary(self) -> dict[str, Any]:
        return {"searches": len(self.times), "errors": len(self.errors), "p50_ms": round(percentile(self.times, .5)),
                "p95_ms": round(percentile(self.times, .95)), "first_errors": self.errors[:3]}


def watch_job(url: str, job_id: str, done: threading.Event, gaps: list[float]) -> None:
    """Record the seconds between changes of the job's progress while it runs."""
    last_key, last_at = None, None
    with httpx.Client(timeout=60) as client:
        while not done.is_set():
            job = client.get(f"{url}/api/admin/jobs/{job_id}").json()
            p = job.get("progress") or {}
            key = (p.get("stage"), p.get("done"), p.get("chunks_done"), p.get("bytes_done"))
            now = time.monotonic()
            if job["state"] == "running" and p and key != last_key:
                if last_at is not None and p.get("stage") == "embedding":
                    gaps.append(now - last_at)
                last_key, last_at = key, now
            if job["state"] not in ("queued", "running"):
                return
            time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--library", type=Path)
    ap.add_argument("--megabytes", type=float, default=10.0)
    ap.add_argument("--whole", type=Path, help="instead of the upload: copy this library in and re-index it as a "
                    "job (searches during it); the job is cancelled after --cap seconds")
    ap.add_argument("--cap", type=float, default=900.0)
    args = ap.parse_args()
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    library, data = work / "library", work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    env.update(MCDEWEY_CHAT="false", MCDEWEY_LLM="none", HOME=str(work / "home"))
    if args.library:
        shutil.copytree(args.library, library, symlinks=True)
    else:
        subprocess.run([MCDEWEY, "demo", str(library)], check=True, env=env, capture_output=True)
    started = time.monotonic()
    subprocess.run([MCDEWEY, "ingest", "--library", str(library), "--data", str(data)], check=True, env=env,
                   capture_output=True)
    out: dict[str, Any] = {"first_ingest_s": round(time.monotonic() - started, 1)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([MCDEWEY, "serve", "--library", str(library), "--data", str(data), "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        idle = Searcher(url)
        idle.start()
        time.sleep(30)
        idle.stop.set()
        idle.join()
        out["idle"] = idle.summary()
        if args.whole:
            out.update(whole_library_job(url, args.whole, library, args.cap))
        else:
            pdf = work / "gyrocompass.pdf"
            pdf.write_bytes(big_pdf(args.megabytes))
            out["pdf_bytes"] = pdf.stat().st_size
            out.update(upload_from_page(url, pdf))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(out, indent=2))
    return 0


def whole_library_job(url: str, whole: Path, library: Path, cap: float) -> dict[str, Any]:
    """Copy a library in beside the demo, re-index it as a job, search throughout (cancelled at `cap` s)."""
    for entry in whole.iterdir():
        target = library / entry.name
        if entry.name != "MANIFEST.tsv" and not target.exists():
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, target)
    shutil.copy2(whole / "MANIFEST.tsv", library / "MANIFEST.tsv")
    during = Searcher(url)
    during.start()
    job = httpx.post(f"{url}/api/admin/reindex", timeout=30).json()
    done, gaps = threading.Event(), []
    watcher = threading.Thread(target=watch_job, args=(url, job["id"], done, gaps), daemon=True)
    watcher.start()
    watcher.join(timeout=cap)
    record = httpx.get(f"{url}/api/admin/jobs/{job['id']}", timeout=30).json()
    if record["state"] == "running":
        httpx.post(f"{url}/api/admin/jobs/{job['id']}/cancel", timeout=30)
    during.stop.set()
    during.join()
    return {"whole_job_state": record["state"], "whole_job_progress": record["progress"],
            "whole_job_report": {k: v for k, v in (record["report"] or {}).items() if not isinstance(v, list)},
            "progress_gap_max_s": round(max(gaps), 2) if gaps else None,
            "progress_gap_p50_s": round(statistics.median(gaps), 2) if gaps else None,
            "progress_refreshes": len(gaps), "during_job": during.summary()}


def upload_from_page(url: str, pdf: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        page = browser.new_page()
        page.goto(f"{url}/manage")
        for name, value in (("product", "gyro"), ("version", "7"), ("doc", "manual")):
            page.fill(f"input[name={name}]", value)
        page.set_input_files("#files", str(pdf))
        during = Searcher(url)
        during.start()
        t0 = time.monotonic()
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#uploads li.upload >> text=queued as a job", timeout=600_000)
        uploaded = time.monotonic() - t0
        job_id = httpx.get(f"{url}/api/admin/jobs", timeout=30).json()[0]["id"]
        done, gaps = threading.Event(), []
        watcher = threading.Thread(target=watch_job, args=(url, job_id, done, gaps), daemon=True)
        watcher.start()
        while True:
            hits = httpx.get(f"{url}/api/search", params={"q": "gyrocompass damping coil settles"}, timeout=60).json()
            if hits and hits[0]["source"].startswith("gyro/"):
                break
            time.sleep(0.25)
        first_hit = time.monotonic() - t0
        watcher.join(timeout=3600)
        job = httpx.get(f"{url}/api/admin/jobs/{job_id}", timeout=30).json()
        during.stop.set()
        during.join()
        browser.close()
    return {"upload_s": round(uploaded, 1), "first_hit_s": round(first_hit, 1),
            "job_s": round(job["ended_at"] - job["started_at"], 1), "job_state": job["state"],
            "chunks": job["report"]["chunks_added"] if job["report"] else None,
            "progress_gap_max_s": round(max(gaps), 2) if gaps else None,
            "progress_gap_p50_s": round(statistics.median(gaps), 2) if gaps else None,
            "progress_refreshes": len(gaps), "during_job": during.summary()}


if __name__ == "__main__":
    sys.exit(main())
