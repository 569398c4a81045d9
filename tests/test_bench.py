"""`mcdewey bench --quick --json`: it completes and emits every figure (figures, never timed asserts)."""

from __future__ import annotations

import json
import math

import pytest

from assistant.measure.bench import EXPECTED, SECTIONS
from assistant.surfaces.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_quick_bench_emits_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--quick", "--json"])
    out = capsys.readouterr().out
    result = json.loads(out)  # stdout is nothing but the JSON document
    assert result["missing"] == [], result["missing"]
    assert set(result["sections"]) == set(SECTIONS)
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
