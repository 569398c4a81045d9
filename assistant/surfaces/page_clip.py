"""The chat's picture of a cited page: the marks drawn into the page image, cut to the lines they mark.

Takes a rendered page (PNG), the marks the page view found (`page_view.find_marks`) and the pixels per
point; gives a PNG. Chainlit's side panel shows Markdown, where the page view's SVG overlay cannot go,
and shows an image in a 16:9 box, where a whole page is too small to read.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from assistant.surfaces.page_view import PageMarks

SENTENCE_RGBA = (255, 200, 0, 110)  # the page view's colours (style.css), for the chat's drawn image
LINE_RGBA = (80, 150, 255, 36)


BAND_PAD_PT = 24  # points of page kept above and below the marks in the chat's clip
BAND_RATIO = 9 / 16  # Chainlit shows an image in a 16:9 box: a taller clip would be shrunk to a thumbnail


def draw_marks(png: bytes, marks: PageMarks, scale: float) -> bytes:
    """`png` with the marks drawn on it (`scale`: pixels per point), cut to the part of the page they
    lie in, with a margin, at least 16:9."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for boxes, colour in ((marks.lines, LINE_RGBA), (marks.sentence, SENTENCE_RGBA)):
        for b in boxes:
            draw.rectangle([b.x * scale, b.y * scale, (b.x + b.width) * scale, (b.y + b.height) * scale], fill=colour)
    marked = Image.alpha_composite(image, layer).convert("RGB")
    boxes = marks.sentence + marks.lines
    if boxes:  # the marks' columns and lines, with a margin, at least 16:9
        left = max(0.0, (min(b.x for b in boxes) - BAND_PAD_PT) * scale)
        right = min(float(image.width), (max(b.x + b.width for b in boxes) + BAND_PAD_PT) * scale)
        top = (min(b.y for b in boxes) - BAND_PAD_PT) * scale
        bottom = (max(b.y + b.height for b in boxes) + BAND_PAD_PT) * scale
        focus = marks.sentence[0].y * scale if marks.sentence else top
        height = max(bottom - top, (right - left) * BAND_RATIO)
        top = min(max(0.0, min(top, focus - height / 3)), max(0.0, image.height - height))
        marked = marked.crop((int(left), int(top), int(right), int(min(image.height, top + height))))
    out = io.BytesIO()
    marked.save(out, "PNG")
    return out.getvalue()
