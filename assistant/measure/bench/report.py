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


def growth_table(section: dict[str, Any]) -> list[str]:
    """The scale section as one row per measure and one column per size (a growth curve); a figure
    with a baseline shows it in parentheses, named in the row."""
    sizes = sorted({f["size"] for f in section["figures"] if "size" in f})
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for f in section["figures"]:
        if "size" in f:
            rows.setdefault(f["row"], {})[f["size"]] = f
    lines = [f"| {section['title']} | " + " | ".join(f"{n:,} chunks" for n in sizes) + " | Goal |",
             "|---" * (len(sizes) + 2) + "|"]
    for row, by_size in rows.items():
        first = next(iter(by_size.values()))
        label = row + (f" (in parentheses: {first['baseline_label']})" if first.get("baseline_label") else "")
        cells = []
        for n in sizes:
            f = by_size.get(n)
            if f is None:
                cells.append("—")
            elif "na" in f:
                cells.append(f["na"])
            else:
                base = f" ({_fmt(f['baseline'], f['unit'])})" if f.get("baseline") is not None else ""
                cells.append(_fmt(f["value"], f["unit"]) + base)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {first.get('goal', '')} |")
    other = [f for f in section["figures"] if "size" not in f]
    lines += [f"| {f['measure']} | {f.get('na', '')} |" + " |" * len(sizes) for f in other]
    if section.get("error"):
        lines.append(f"| (section error) | {section['error']} |" + " |" * len(sizes))
    lines.append("")
    for row, by_size in rows.items():
        notes = [f"{n:,}: {by_size[n]['note']}" for n in sizes if by_size.get(n, {}).get("note")]
        if notes:
            lines.append(f"- {row}: {'; '.join(notes)}")
    return lines


def markdown(result: dict[str, Any]) -> str:
    m = result["meta"]
    lines = [
        f"McDewey bench ({m.get('mode')}) — {m.get('date')} — {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('ram_gb')} GB RAM, load average {', '.join(f'{x:.1f}' for x in m.get('load_avg_start', []))} "
        f"at start — {m.get('seconds')} s",
        "",
    ]
    if m.get("mode") == "scale" or "scale" in result["sections"]:
        lines += [f"Source index: {m.get('source_index')} ({m.get('source_chunks', 0):,} chunks); scale indexes in "
                  f"{m.get('scale_dir')}; questions: {m.get('question_set')}", ""]
        for section in result["sections"].values():
            lines += [*growth_table(section), ""]
            if section["setup"]:
                lines.append(f"- **{section['title']}**: {section['setup']}")
        return "\n".join(lines)
    if m.get("mode") == "rerank":
        lines += [f"Index: {m.get('source_index')} ({m.get('index_chunks', 0):,} chunks); questions: "
                  f"{m.get('question_set')}; cross-encoder measured: {m.get('cross_encoder')} on {m.get('device')}",
                  ""]
    else:
        lines += [f"Library: {m.get('library')} → {m.get('subset_files')} files, {m.get('subset_chunks')} chunks; "
                  f"questions: {m.get('question_set')} ({m.get('questions_in_subset')} about these files); "
                  f"encoder adopted: `{m.get('adopted_backend')}`", ""]
    if m.get("models"):
        lines += ["Models: " + " · ".join(f"{k} {v}" for k, v in m["models"].items()), ""]
    lines += [
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
