"""Block text cleaning shared by every loader: extraction noise out, exact terms kept.

Takes the raw text of a paragraph, a code block or a heading as a loader found it and gives the text
that is stored and searched (`clean_block`, `heading_title`), cut into blocks of a bounded size
(`make_blocks`). Extraction noise (PDF control-character bullets, private-use icon glyphs,
typographic quotes, ligatures, soft hyphens) is removed here so that exact terms such as
`max_wal_size` or `"rip5"` match what a user types, whatever format the manual came in.
"""

from __future__ import annotations

import re
import unicodedata

from indexing.document import Block
from indexing.loaders.hyphenation import Vocabulary, join_soft_hyphens

MAX_BLOCK_CHARS = 2000
"""Upper bound for one block; longer paragraphs are cut on whitespace so the chunker gets boundaries."""

BULLET = "•"
BULLET_CHARS = "•◦▪▫‣⁃●○■□►▸*·"

_CHAR_MAP = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
        "‐": "-", "‑": "-", "−": "-", "⁃": "-",
        "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "ft", "ﬆ": "st",
        "\u00ad": None,  # soft hyphen: invisible unless a line breaks there
        "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
        "\uffff": None,
        "\f": "\n", "\v": "\n", "\u2028": "\n", "\u2029": "\n\n",
        "\t": " ",
    }
)

# A control character that a PDF font used for a list bullet (LaTeX's U+0088 is the common one).
_CONTROL_BULLET = re.compile(r"(?m)^([ ]*)[\x00-\x08\x0e-\x1f\x7f-\x9f](?=[ ]|$)")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_SPACES = re.compile(r"[^\S\n]")  # any Unicode space except newline
_RUNS = re.compile(r" {2,}")
# Sphinx's LaTeX writer marks a wrapped code line with "˓→" at the start of the continuation.
_SPHINX_WRAP = re.compile(r"[ ]*\n[ ]*˓→[ ]?|˓→[ ]?")
# "–enable" / "[–request-pac": LaTeX turned the option's "--" into an en dash.
_EN_DASH_OPTION = re.compile(r"(?:^|(?<=[\s\[(|/=,]))–(?=[A-Za-z])", re.M)
# A table of contents' dot leaders ("Obtaining R . . . . . . . 1") are layout, not words.
_DOT_LEADER = re.compile(r"[ ]?(?:\.[ ]?){4,}")


def normalize_chars(text: str) -> str:
    """Map extraction artefacts to plain characters; keeps line structure intact."""
    text = text.replace("\r\n", "\n").replace("\r", "")  # a lone CR is a mis-mapped glyph (R's ©)
    text = text.translate(_CHAR_MAP)
    if "˓→" in text:
        text = _SPHINX_WRAP.sub("", text)
    text = _CONTROL_BULLET.sub(lambda m: m.group(1) + BULLET, text)
    text = _CONTROLS.sub("", text)
    text = _PRIVATE_USE.sub("", text)
    if ". . . ." in text or "....." in text:
        text = _DOT_LEADER.sub(" ... ", text)
    if "–" in text:
        text = _EN_DASH_OPTION.sub("--", text)
    return _SPACES.sub(" ", text)


def _ornament_only(line: str) -> bool:
    """A line of nothing but dingbats, e.g. the corners "☛ ✟" of a texinfo @cartouche box."""
    return all(ch == " " or unicodedata.category(ch) == "So" for ch in line)


def tidy(text: str, *, keep_indent: bool = False) -> str:
    """Collapse space runs inside lines, drop trailing spaces and surplus blank lines."""
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line and _ornament_only(line):
            continue
        if keep_indent:
            body = line.lstrip(" ")
            line = line[: len(line) - len(body)] + _RUNS.sub(" ", body)
        else:
            line = _RUNS.sub(" ", line.strip())
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def clean_block(text: str, *, code: bool = False, vocabulary: Vocabulary | None = None) -> str:
    """Everything a block's text goes through before it is stored."""
    text = normalize_chars(text)
    if "\ufffe" in text:
        text = join_soft_hyphens(text, vocabulary)
    return tidy(text, keep_indent=code)


def split_long(text: str, limit: int = MAX_BLOCK_CHARS) -> list[str]:
    """Cut an over-long block at a blank line, line end or space (hard cut if none); linear time."""
    if len(text) <= limit:
        return [text] if text.strip() else []
    pieces: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + limit, n)
        if end < n:
            floor = start + limit // 2
            for sep in ("\n\n", "\n", " "):
                cut = text.rfind(sep, floor, end)
                if cut > start:
                    end = cut
                    break
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
        while start < n and text[start] in " \n":
            start += 1
    return pieces


def heading_title(text: str) -> str:
    """A heading as it goes into a trail: cleaned, on one line."""
    return " ".join(clean_block(text).split())


def make_blocks(
    text: str,
    *,
    page: int | None,
    page_label: str | None,
    heading: list[str],
    code: bool = False,
    vocabulary: Vocabulary | None = None,
) -> list[Block]:
    """Clean one paragraph-sized unit and turn it into one or more blocks (split when over-long)."""
    cleaned = clean_block(text, code=code, vocabulary=vocabulary)
    return [
        Block(text=piece, page=page, page_label=page_label, heading=list(heading))
        for piece in split_long(cleaned)
    ]


def nfkc_fold(text: str) -> str:
    """Case- and compatibility-folded text, for comparing titles with what is on the page."""
    return unicodedata.normalize("NFKC", text).casefold()
