"""Small real PDFs for the loader tests: fpdf2 lays out pages, outline and page labels; pypdf adds
the extraction quirks of real manuals (a ToUnicode map) and encryption.

fpdf2's core fonts only take Latin-1 text, so a few Latin-1 placeholder characters are written and
the font's ToUnicode map makes a text extractor read them as what LaTeX manuals really produce:
a C1 control character as a list bullet, a private-use icon glyph, typographic quotes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

# placeholder written with fpdf2 -> what a text extractor will read
SPECIAL = {
    "¤": "\x88",  # LaTeX bullet that extracts as a C1 control character
    "¦": "\uf0e0",  # private-use icon glyph
    "«": "\u201c",
    "»": "\u201d",
    "´": "\u2019",
}

PAGE_W, PAGE_H = 595.0, 842.0
LEFT = 72.0


def _to_unicode_cmap() -> bytes:
    """Identity for Latin-1, except the placeholders above."""
    specials = {ord(k): ord(v) for k, v in SPECIAL.items()}
    chars = [f"<{code:02X}> <{uni:04X}>" for code, uni in sorted(specials.items())]
    ranges: list[str] = []
    start = None
    for code in range(0x20, 0x100):
        plain = code not in specials and not 0x7F <= code <= 0x9F
        if plain and start is None:
            start = code
        if (not plain or code == 0xFF) and start is not None:
            end = code if plain else code - 1
            ranges.append(f"<{start:02X}> <{end:02X}> <{start:04X}>")
            start = None
    body = "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<00> <FF>",
            "endcodespacerange",
            f"{len(chars)} beginbfchar",
            *chars,
            "endbfchar",
            f"{len(ranges)} beginbfrange",
            *ranges,
            "endbfrange",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )
    return body.encode("ascii")


@dataclass
class PageWriter:
    """Writes lines top-down at explicit baselines, like a typesetter, so the layout is known."""

    pdf: FPDF = field(default_factory=lambda: FPDF(unit="pt", format=(PAGE_W, PAGE_H)))
    y: float = 0.0

    def __post_init__(self) -> None:
        self.pdf.set_auto_page_break(False)
        self.pdf.set_compression(False)

    def page(self, label_style: str | None = None, label_start: int | None = None) -> None:
        self.pdf.add_page()
        if label_style:
            self.pdf.set_page_label(label_style, label_start=label_start)
        self.y = 90.0

    def line(self, text: str, *, size: float = 10.0, font: str = "Helvetica", style: str = "",
             indent: float = 0.0, gap: float | None = None) -> None:
        """One line at the next baseline (`gap` = distance from the previous baseline)."""
        self.y += gap if gap is not None else size * 1.2
        self.pdf.set_font(font, style=style, size=size)
        self.pdf.text(LEFT + indent, self.y, text)

    def paragraph(self, lines: list[str], *, gap: float = 20.0, **kw: object) -> None:
        for i, text in enumerate(lines):
            self.line(text, gap=gap if i == 0 else None, **kw)  # type: ignore[arg-type]

    def heading(self, text: str, outline: str | None = None, level: int = 0, size: float = 14.0) -> None:
        self.y += 30.0
        if outline:
            self.pdf.set_y(self.y - size)
            self.pdf.start_section(outline, level=level)
        self.pdf.set_font("Helvetica", style="B", size=size)
        self.pdf.text(LEFT, self.y, text)

    def running(self, header: str, footer: str) -> None:
        """A running header and a page-number footer, set apart from the body like a real book."""
        self.pdf.set_font("Helvetica", size=9)
        self.pdf.text(LEFT, 40.0, header)
        self.pdf.text(PAGE_W - 90.0, PAGE_H - 40.0, footer)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def add_to_unicode(data: bytes) -> bytes:
    """Give every font the ToUnicode map that turns the placeholders into real-world noise."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    stream = DecodedStreamObject()
    stream.set_data(_to_unicode_cmap())
    ref = writer._add_object(stream)
    for page in writer.pages:
        fonts = page["/Resources"].get_object().get("/Font")
        if fonts is None:
            continue
        for font_ref in fonts.get_object().values():
            font: DictionaryObject = font_ref.get_object()
            font[NameObject("/ToUnicode")] = ref
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypt(data: bytes, user_password: str, owner_password: str = "owner-secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def manual_pdf() -> bytes:
    """Five pages: roman front matter (i, ii), then arabic 1-3 with a nested outline.

    Outline: Configuration (p3) > Protocols (p3, mid-page) > BGP (p4, mid-page); Troubleshooting (p5).
    """
    w = PageWriter()
    w.pdf.set_title("Test Manual")
    w.page("r")
    w.line("Test Manual", size=28, gap=200)
    w.line("Version 2.0", size=12, gap=40)
    w.page()
    w.heading("Preface")
    w.paragraph(["This manual describes the test daemon. Front matter pages", "carry roman numerals."])
    w.page("D", 1)
    w.running("Test Manual, Release 2.0", "1")
    w.heading("1 Configuration", outline="Configuration", level=0, size=16)
    w.paragraph(["The daemon reads one file at start-up. Every option can be", "overridden on the command line."])
    w.heading("1.1 Protocols", outline="Protocols", level=1)
    w.paragraph(["Each protocol instance needs a unique name and its own configura-",
                 "tion block; see the examples below for details."])
    w.paragraph(["Supported protocols:"])
    w.line("¤ BGP for exterior routing", gap=16)
    w.line("¤ OSPF for interior routing")
    w.page()
    w.running("Test Manual, Release 2.0", "2")
    w.paragraph(["Protocol names are case-sensitive and must not start with", "a digit."], gap=0)
    w.heading("1.1.1 BGP", outline="BGP", level=2, size=12)
    w.paragraph(["A BGP instance is named like «bgp1» or ´peer´ and shows the ¦ icon", "when it is enabled."])
    code = {"font": "Courier", "size": 9.0}
    w.line("protocol bgp bgp1 {", gap=20, **code)  # type: ignore[arg-type]
    w.line("local as 65000;", indent=4 * 5.4, **code)  # type: ignore[arg-type]
    w.line("neighbor 192.0.2.1 as 65001;", indent=4 * 5.4, **code)  # type: ignore[arg-type]
    w.line("}", **code)  # type: ignore[arg-type]
    w.page()
    w.running("Test Manual, Release 2.0", "3")
    w.heading("2 Troubleshooting", outline="Troubleshooting", level=0, size=16)
    w.paragraph(["If the daemon does not start, check the log file first."])
    return add_to_unicode(w.output())
