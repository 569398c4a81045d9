"""`mcdewey bench`: runs the sections in order on one shared `BenchRun`, collects the result, prints
it as Markdown or JSON."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from assistant.measure.bench.answer import answer_section
from assistant.measure.bench.context import BenchRun
from assistant.measure.bench.encoders import EncoderOption, encoder_speeds, encoders_section
from assistant.measure.bench.figures import missing_figures, na
from assistant.measure.bench.ingest import ingest_section, reingest_section
from assistant.measure.bench.plan import SECTIONS
from assistant.measure.bench.prepare import load_encoders, prepare_library
from assistant.measure.bench.report import markdown
from assistant.measure.bench.rerank import rerank_section
from assistant.measure.bench.scale_section import scale_section
from assistant.measure.bench.search import search_and_concurrency
from assistant.settings import Settings


def run(b: BenchRun) -> dict[str, Any]:
    """The six sections in order (or the scale or the reranker section alone); the work folder is removed."""
    started = time.monotonic()
    try:
        if b.plan.rerank_questions is not None:
            rerank_section(b)
        elif b.plan.scale_sizes:
            scale_section(b)
        else:
            six_sections(b)
    finally:
        for proc in b.procs:
            proc.stop()
        b.progress.stop()
        b.meta["seconds"] = round(time.monotonic() - started, 1)
        b.meta["load_avg_end"] = list(os.getloadavg())
        shutil.rmtree(b.work, ignore_errors=True)
    return result(b)


def six_sections(b: BenchRun) -> None:
    """Every section in order, each after those whose results it uses."""
    prepare_library(b)
    load_encoders(b)
    options: list[EncoderOption] = []
    with b.section("encoders"):
        options = encoder_speeds(b)
    with b.section("ingest"):
        if not options:
            raise RuntimeError("the encoder speed measurement failed")
        ingest_section(b, options)
    if b.sections["encoders"].error is None and hasattr(b, "index_dir"):
        with b.section("encoders"):
            encoders_section(b, options)
    with b.section("reingest"):
        if not hasattr(b, "index_dir"):
            raise RuntimeError("no index (the ingest section failed)")
        reingest_section(b)
    if hasattr(b, "index_dir"):
        search_and_concurrency(b)
    else:
        b.sections["search"].error = b.sections["concurrency"].error = "no index (ingest failed)"
    with b.section("answer"):
        answer_section(b)


def result(b: BenchRun) -> dict[str, Any]:
    """The run as JSON-ready data: meta, each section's figures (a failed one's as an `n/a`), missing."""
    out: dict[str, Any] = {"meta": b.meta, "sections": {}, "missing": missing_figures(b.sections)}
    for key, section in b.sections.items():
        figures = [f.as_dict() for f in section.figures]
        if not figures:
            reason = f"failed: {section.error}" if section.error else "not run"
            section.error = section.error or "not run"
            figures = [na(f"{key}_error", SECTIONS[key], f"n/a: {reason}").as_dict()]
        out["sections"][key] = {"title": SECTIONS[key], "setup": section.setup, "error": section.error,
                                "figures": figures}
    return out


def run_bench(settings: Settings, quick: bool = False, as_json: bool = False, scale_sizes: tuple[int, ...] = (),
              scale_dir: Path | None = None, rerank_questions: Path | None = None) -> int:
    """Run the benchmarks (or, given sizes, the scale section alone; given questions, the reranker's) and
    print the table (or JSON); 0 when every section produced its figures."""
    outcome = run(BenchRun(settings, quick, scale_sizes=scale_sizes, scale_dir=scale_dir,
                           rerank_questions=rerank_questions))
    print(json.dumps(outcome, indent=2, ensure_ascii=False) if as_json else markdown(outcome))
    if outcome["missing"]:
        print(f"mcdewey bench: missing figures: {', '.join(outcome['missing'])}", file=sys.stderr)
    return 1 if outcome["missing"] or any(s["error"] for s in outcome["sections"].values()) else 0
