"""The figures a bench run reports: one measured value beside its baseline, grouped in sections, and
which expected figures a run failed to produce."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from assistant.measure.bench.plan import EXPECTED


@dataclass
class Figure:
    """One row of the table: McDewey's value, the baseline measured in the same run, or why there is none."""

    key: str
    measure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    goal: str = ""
    note: str = ""
    na: str | None = None
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "measure": self.measure, "unit": self.unit}
        if self.na is not None:
            out["na"] = self.na
        else:
            out.update(value=rounded(self.value), baseline=rounded(self.baseline),
                       baseline_label=self.baseline_label, ratio=rounded(self.ratio))
        if self.goal:
            out["goal"] = self.goal
        if self.note:
            out["note"] = self.note
        out.update({k: rounded(v) if isinstance(v, float) else v for k, v in self.extra.items()})
        return out


def na(key: str, measure: str, reason: str, unit: str = "") -> Figure:
    """A figure that could not be measured, with the reason (`n/a: ...`)."""
    return Figure(key, measure, None, unit, na=reason)


@dataclass
class Section:
    key: str
    setup: str = ""
    figures: list[Figure] = field(default_factory=list)
    error: str | None = None


def rounded(v: Any) -> Any:
    """A float to 4 decimals below 10, else to 1; NaN and infinity as None (JSON has neither)."""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return None
        return round(v, 4) if abs(v) < 10 else round(v, 1)
    return v


def missing_figures(sections: dict[str, Section]) -> list[str]:
    """Expected figures of the sections run that are absent (a failed section), as section/key."""
    missing: list[str] = []
    for key, wanted in EXPECTED.items():
        if key not in sections:
            continue
        have = [f.key for f in sections[key].figures]
        for name in wanted:
            found = any(h.startswith(name[:-1]) for h in have) if name.endswith("*") else name in have
            if not found:
                missing.append(f"{key}/{name}")
    return missing
