"""How fast the page view answers: a PDF page's first render, the same page from the cache, and the
HTML page with its marks, against a running `mcdewey serve`.

    .venv/bin/python scripts/page_view_timing.py --url http://127.0.0.1:8000 QUESTIONS.jsonl [...]

The pages are those the questions' searches find in PDFs (top 8 each, one visit per page, at most
`--pages`), in question order, so each is rendered for the first time by its first request (start the
server fresh). Prints p50/p95 of each, in milliseconds, and the PNGs' sizes (what the cache holds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from urllib.parse import quote

import httpx


def pages(client: httpx.Client, files: list[Path], limit: int) -> list[dict[str, object]]:
    """The first `limit` distinct PDF pages the questions' searches return (a chunk on each)."""
    seen: set[tuple[str, int]] = set()
    out: list[dict[str, object]] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            for hit in client.get("/api/search", params={"q": json.loads(line)["question"]}).json():
                key = (hit["source"], hit["page"])
                if hit["source"].lower().endswith(".pdf") and hit["page"] and key not in seen:
                    seen.add(key)
                    out.append(hit)
            if len(out) >= limit:
                return out[:limit]
    return out


def timed(client: httpx.Client, url: str, params: dict[str, object]) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url, params=params)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000, len(response.content)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("questions", type=Path, nargs="+")
    args = parser.parse_args()
    first: list[float] = []
    cached: list[float] = []
    html: list[float] = []
    sizes: list[int] = []
    with httpx.Client(base_url=args.url, timeout=120) as client:
        for hit in pages(client, args.questions, args.pages):
            path = f"/page-images/{quote(str(hit['source']))}"
            ms, size = timed(client, path, {"page": hit["page"]})
            first.append(ms)
            sizes.append(size)
            cached.append(timed(client, path, {"page": hit["page"]})[0])
            html.append(timed(client, f"/pages/{quote(str(hit['source']))}",
                              {"page": hit["page"], "chunk": hit["chunk_id"]})[0])
    for name, values in (("first render (PNG)", first), ("cached (PNG)", cached), ("page view HTML + marks", html)):
        print(f"{name}: p50 {statistics.median(values):.0f} ms, p95 {p95(values):.0f} ms ({len(values)} pages)")
    print(f"PNG size: median {statistics.median(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB; "
          f"64 MB holds ~{64 * 1024 * 1024 // statistics.median(sizes)} pages")


if __name__ == "__main__":
    main()
