"""The demo library: McDewey's own guide, as Markdown with page markers and as a PDF rendered here.

It is built on the user's machine from files in this package, so a fresh install has something to
search without any download or any copy of somebody else's manuals.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

GUIDE = "user-guide.md"
REFERENCE = "reference.md"
VENDOR_TOML = 'vendor = "McDewey project"\n'


def _text(name: str) -> str:
    return (resources.files("assistant") / "demo" / name).read_text(encoding="utf-8")


def render_reference_pdf(markdown: str, path: Path) -> None:
    """Render the quick reference as a PDF with a roman-numbered cover, so page labels are exercised."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title("McDewey Quick Reference")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_page_label(label_style="r")
    pdf.set_font("Helvetica", "B", 20)
    pdf.multi_cell(0, 12, "McDewey Quick Reference", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Commands, settings and the REST API at a glance.", new_x="LMARGIN", new_y="NEXT")
    first_section = True
    for line in markdown.splitlines():
        if line.startswith("## "):
            pdf.add_page()
            if first_section:
                pdf.set_page_label(label_style="D", label_start=1)
                first_section = False
            pdf.start_section(line[3:].strip(), level=0)
            pdf.set_font("Helvetica", "B", 15)
            pdf.multi_cell(0, 9, line[3:].strip(), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10)
        elif line.startswith("# ") or not line.strip():
            continue
        else:
            pdf.multi_cell(0, 5, line.strip(), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


def ensure_demo_library(root: Path, rebuild: bool = False) -> Path:
    """Build the demo library at `root` unless it is already there."""
    guide = root / "mcdewey" / "1.0" / "user-guide" / "user-guide.md"
    reference = root / "mcdewey" / "1.0" / "quick-reference" / "quick-reference.pdf"
    if rebuild:
        shutil.rmtree(root / "mcdewey", ignore_errors=True)
    if guide.exists() and reference.exists():
        return root
    guide.parent.mkdir(parents=True, exist_ok=True)
    guide.write_text(_text(GUIDE), encoding="utf-8")
    (root / "mcdewey" / "mcdewey.toml").write_text(VENDOR_TOML, encoding="utf-8")
    render_reference_pdf(_text(REFERENCE), reference)
    return root
