"""`mcdewey bench --quick --json` and `mcdewey bench --scale`: they complete and emit every figure
(figures, never timed asserts)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from assistant.measure.bench import EXPECTED
from assistant.measure.bench.plan import DEFAULT_SECTIONS
from assistant.surfaces.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_quick_bench_emits_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--quick", "--json"])
    out = capsys.readouterr().out
    result = json.loads(out)  # stdout is nothing but the JSON document
    assert result["missing"] == [], result["missing"]
    assert set(result["sections"]) == set(DEFAULT_SECTIONS)
    for key, section in result["sections"].items():
        assert section["error"] is None, f"{key}: {section['error']}"
        figures = {f["key"]: f for f in section["figures"]}
        for name in EXPECTED[key]:
            matches = [f for k, f in figures.items() if (k.startswith(name[:-1]) if name.endswith("*") else k == name)]
            assert matches, f"{key}/{name} missing"
        for f in section["figures"]:
            if "na" in f:  # an explicit reason instead of a number
                assert isinstance(f["na"], str) and f["na"].startswith("n/a"), f
            else:
                assert isinstance(f["value"], int | float) and math.isfinite(f["value"]), f
    meta = result["meta"]
    assert meta["cores"] and meta["ram_gb"] and meta["date"]
    assert code == 0


SCALE_ROWS = (
    "catalog_s", "chroma_s", "keyword_s", "keyword_mb", "inproc_p50", "inproc_p95", "inproc_filtered_p50",
    "inproc_filtered_p95", "dense_filtered_p50", "dense_filtered_p95", "filtered_same", "mcp_p50", "mcp_p95",
    "mcp_filtered_p50", "mcp_filtered_p95", "http_p50", "http_p95", "http_filtered_p50", "http_filtered_p95",
    "rss_mb", "peak_rss_mb", *(f"step_{k}_p95" for k in ("encode", "dense", "keyword", "vectors", "records")),
)


def test_scale_section_emits_the_growth_curve_and_reuses_its_indexes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--scale` runs the scale section alone at each size (the demo library's index copied up to it),
    keeps the indexes in --scale-dir, and a second run reuses them and prints the growth table."""
    scale_dir = tmp_path / "scale"
    code = main(["bench", "--quick", "--scale", "200,1k", "--scale-dir", str(scale_dir), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert list(result["sections"]) == ["scale"] and result["missing"] == []
    section = result["sections"]["scale"]
    assert section["error"] is None
    figures = {f["key"]: f for f in section["figures"]}
    for size in ("200", "1k"):
        for row in SCALE_ROWS:
            f = figures[f"scale_{size}_{row}"]
            assert isinstance(f["value"], int | float) and math.isfinite(f["value"]), f
    # Below the over-fetch (400 chunks) the filtered search saw every chunk, as Chroma's `where` does.
    # (At 1k, 77 jittered copies of each of the demo's 13 chunks are near ties that either HNSW search
    # may order differently: tests/test_store_filters.py checks the results themselves.)
    assert figures["scale_200_filtered_same"]["value"] == 1.0
    assert 0 <= figures["scale_1k_filtered_same"]["value"] <= 1
    assert {p.name for p in scale_dir.iterdir()} >= {"200", "1k"}
    assert "(reused)" not in figures["scale_1k_catalog_s"]["note"]

    code = main(["bench", "--quick", "--scale", "1000", "--scale-dir", str(scale_dir)])
    table = capsys.readouterr().out
    assert code == 0
    assert "| 7. Scale (growth curve) | 1,000 chunks | Goal |" in table
    assert "| GET /api/search p95, product filter (in parentheses: in-process) | " in table
    assert "(reused)" in table  # the build note of the index kept from the first run


def test_scale_sizes_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scale", "10q"]) == 2
    assert "--scale: not a size: '10q'" in capsys.readouterr().err


def test_rerank_section_measures_the_cross_encoder_it_names(
    capsys: pytest.CaptureFixture[str], indexed: Path, library: Path, standin_cross_encoder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`bench --rerank QUESTIONS` on an index: the searches with the reranker off, at N = 20 and 50, and
    the stage alone, and which cross-encoder (MCDEWEY_RERANK when set) was measured."""
    monkeypatch.setenv("MCDEWEY_RERANK", str(standin_cross_encoder))
    questions = Path(__file__).with_name("eval") / "heldout.jsonl"
    code = main(["bench", "--quick", "--json", "--rerank", str(questions), "--data", str(indexed),
                 "--library", str(library)])
    result = json.loads(capsys.readouterr().out)
    assert result["missing"] == [] and list(result["sections"]) == ["rerank"], result
    figures = {f["key"]: f for f in result["sections"]["rerank"]["figures"]}
    for n in (20, 50):
        assert figures[f"rerank_{n}_p50"]["baseline"] == figures["rerank_off_p50"]["value"] > 0
        assert figures[f"rerank_stage_{n}_p50"]["value"] > 0
    assert result["meta"]["cross_encoder"] == str(standin_cross_encoder)
    assert code == 0
