"""Bench section 6, concurrency: many MCP clients searching at once on one server against one client
alone (throughput, p50/p95 latency, errors)."""

from __future__ import annotations

from typing import Any

from assistant.measure.bench.clients import mcp_load
from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.figures import Figure
from assistant.measure.stats import percentile


def single_client(b: BenchRun, url: str) -> dict[str, Any]:
    """The baseline: one MCP client alone, on the same server (measured before the load)."""
    return mcp_load(url, b.queries, 1, max(3.0, b.plan.seconds / 3))


def concurrency_section(b: BenchRun, url: str, size: int) -> None:
    """Section 6 on the server at `url`, after `single_client` measured the baseline."""
    p = b.plan
    b.step(f"{p.clients} MCP clients for {p.seconds:g} s")
    load = mcp_load(url, b.queries, p.clients, p.seconds)
    one = b.single_client
    s = b.sections["concurrency"]
    s.setup = (f"{p.clients} official-client MCP sessions calling search_docs in a loop for {p.seconds:g} s on "
               f"the {size:,}-chunk index (embedded Chroma); baseline: one client alone")
    rate = load["requests"] / load["elapsed"]
    rate1 = one["requests"] / one["elapsed"]
    s.figures += [
        Figure("concurrency_throughput", f"throughput, {p.clients} clients", rate, "req/s", rate1, "1 client"),
        Figure("concurrency_p50", f"p50 latency, {p.clients} clients", percentile(load["times"], 50), "ms",
               percentile(one["times"], 50), "1 client", higher_is_better=False),
        Figure("concurrency_p95", f"p95 latency, {p.clients} clients", percentile(load["times"], 95), "ms",
               percentile(one["times"], 95), "1 client", higher_is_better=False),
        Figure("concurrency_errors", f"errors, {p.clients} clients", float(load["errors"]), "count",
               float(one["errors"]), "1 client", goal="0", higher_is_better=False,
               note=(load["first_error"] or "")[:160]),
    ]
