"""The bench's result as a Markdown table, pasteable into the README: setting, one row per figure
(McDewey, baseline, ratio, goal, notes), then each section's set-up."""

from __future__ import annotations

from typing import Any


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "count":
        return f"{v:.0f}"
    if isinstance(v, float):
        text = f"{v:,.3f}" if abs(v) < 1 else f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    else:
        text = str(v)
    return f"{text} {unit}".strip()


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [
        f"McDewey bench ({m.get('mode')}) — {m.get('date')} — {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('ram_gb')} GB RAM, load average {', '.join(f'{x:.1f}' for x in m.get('load_avg_start', []))} "
        f"at start — {m.get('seconds')} s",
        "",
        f"Library: {m.get('library')} → {m.get('subset_files')} files, {m.get('subset_chunks')} chunks; "
        f"questions: {m.get('question_set')} ({m.get('questions_in_subset')} about these files); "
        f"encoder adopted: `{m.get('adopted_backend')}`",
        "",
        "| Section | Measure | McDewey | Baseline | Ratio | Goal | Notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for _key, section in result["sections"].items():
        title = section["title"]
        for f in section["figures"]:
            if "na" in f:
                lines.append(f"| {title} | {f['measure']} | {f['na']} | — | — | {f.get('goal', '')} | |")
                continue
            r = f.get("ratio")
            ratio = "—" if r is None else f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"
            base = "—"
            if f.get("baseline") is not None:
                base = f"{_fmt(f.get('baseline'), f['unit'])} ({f['baseline_label']})"
            lines.append(f"| {title} | {f['measure']} | {_fmt(f['value'], f['unit'])} | {base} | {ratio} | "
                         f"{f.get('goal', '')} | {f.get('note', '')} |")
            title = ""
        if section.get("error") and section["figures"]:
            lines.append(f"| | (section error) | {section['error']} | | | | |")
    lines.append("")
    for _key, section in result["sections"].items():
        if section["setup"]:
            lines.append(f"- **{section['title']}**: {section['setup']}")
    return "\n".join(lines)
