"""Text cleaning and small helpers shared by every loader.

Extraction noise (PDF control-character bullets, private-use icon glyphs, typographic quotes,
end-of-line hyphenation) is removed here so that exact terms such as `max_wal_size` or
`"rip5"` match what a user types, whatever format the manual came in.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from indexing.document import Block, LoaderError

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
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-[ ]*\n[ ]*(?=[^\W\d_])")
_FFFE = re.compile("\ufffe")
_LEFT_WORD = re.compile(r"[^\W_]+$")
_RIGHT_WORD = re.compile(r"[^\W_]+")


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


class Vocabulary:
    """The words of one document, to decide whether a line-end hyphen was typography or spelling."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.words: set[str] = set()
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        self.words.update(w.lower() for w in _WORD.findall(text))

    def drop_hyphen(self, left: str, right: str) -> bool:
        """True when "left-" + newline + "right" is one word broken by hyphenation."""
        joined = (left + right).lower()
        hyphened = f"{left}-{right}".lower()
        has_joined, has_hyphened = joined in self.words, hyphened in self.words
        if has_joined != has_hyphened:
            return has_joined
        return left[-1:].islower() and right[:1].islower()


def _rejoin(text: str, marker: re.Pattern[str], vocabulary: Vocabulary | None, keep: str | None) -> str:
    """Resolve each hyphenation marker between two words; `keep=None` leaves kept ones untouched.

    Only the marker is searched for and the words are read from a bounded window around it, so a
    10 MB line without markers costs one scan (a `\\w+-\\n\\w+` regex would backtrack quadratically).
    """
    vocab = vocabulary or Vocabulary()
    out: list[str] = []
    last = 0
    for m in marker.finditer(text):
        left_m = _LEFT_WORD.search(text, max(last, m.start() - 64), m.start())
        right_m = _RIGHT_WORD.match(text, m.end(), m.end() + 64)
        left = left_m.group(0) if left_m else ""
        right = right_m.group(0) if right_m else ""
        out.append(text[last : m.start()])
        if left and right and vocab.drop_hyphen(left, right):
            pass
        elif keep is None:
            out.append(m.group(0))
        else:
            out.append(keep if left and right else "")
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def join_soft_hyphens(text: str, vocabulary: Vocabulary | None) -> str:
    """Resolve PDFium's U+FFFE (a hyphen it saw at a line end) into "" or "-"."""
    return _rejoin(text, _FFFE, vocabulary, keep="-")


def dehyphenate(text: str, vocabulary: Vocabulary | None = None) -> str:
    """Join words split across lines ("configura-\\ntion"); keeps real hyphens ("max-\\nWAL", "UTF-\\n8")."""
    if "-" not in text:
        return text
    return _rejoin(text, _HYPHEN_BREAK, vocabulary, keep=None)


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


class HeadingTrail:
    """The section titles in force, one per nesting level (level 1 = outermost)."""

    def __init__(self) -> None:
        self._levels: list[tuple[int, str]] = []

    def set(self, level: int, title: str) -> None:
        """Enter a heading: it replaces any heading at the same or a deeper level."""
        while self._levels and self._levels[-1][0] >= level:
            self._levels.pop()
        self._levels.append((level, title))

    def trail(self) -> list[str]:
        return [title for _, title in self._levels]


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


def page_label_or_none(page: int, label: str | None) -> str | None:
    """The printed label only when it says something the physical page number does not."""
    label = (label or "").strip()
    return label if label and label != str(page) else None


# --- page furniture and layout paragraphs (text extracted page by page) -------------------------

_ROMAN = re.compile(r"^[ivxlcdm]+\.?$")
# "Chapter 1: Obtaining R          2" — a layout-preserving conversion's right-aligned page number.
_PAGE_NUMBERED = re.compile(r"^\s*(?:\S.*\S\s{8,}(?:\d+|[ivxlcdm]+)|(?:\d+|[ivxlcdm]+)\s{8,}\S.*\S)\s*$")


def running_key(text: str) -> str:
    """A running header's identity across pages: digits and roman numerals do not count."""
    words = [("#" if _ROMAN.match(w) else re.sub(r"\d+", "#", w)) for w in nfkc_fold(text).split()]
    return " ".join(words)


def _edge_lines(lines: list[str]) -> list[tuple[str, int]]:
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if len(filled) < 2:
        return []
    return [("top", filled[0]), ("bottom", filled[-1])]


def drop_running_lines(
    pages: list[list[str]], *, keep: Callable[[str], bool] | None = None
) -> list[list[str]]:
    """Blank out page headers/footers: a page's first or last line that repeats on 3+ pages, or a
    bare page number. `keep` protects lines that are structure (e.g. Markdown headings)."""
    counts: Counter[tuple[str, str]] = Counter()
    for lines in pages:
        for where, i in _edge_lines(lines):
            counts[(where, running_key(lines[i]))] += 1
    out: list[list[str]] = []
    for lines in pages:
        lines = list(lines)
        for where, i in _edge_lines(lines):
            if keep is not None and keep(lines[i]):
                continue
            key = running_key(lines[i])
            if key == "#" or _PAGE_NUMBERED.match(lines[i]) or (counts[(where, key)] >= 3 and len(key) <= 100):
                lines[i] = ""
        out.append(lines)
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def layout_paragraphs(lines: list[str]) -> list[list[str]]:
    """Split a run of non-blank lines where the layout shows a new paragraph.

    Text converted from PDFs marks paragraphs by a first-line indent rather than a blank line,
    and sets code deeper than the prose around it (6+ columns, or 4+ for a short line). So a
    switch between prose depth and code depth starts a block, and so does a prose line indented
    deeper than both its neighbours. A keyword line followed by its (slightly) indented
    description stays one unit.
    """
    if len(lines) < 2:
        return [list(lines)] if lines else []
    base = min(_indent(line) for line in lines)
    depth = [_indent(line) - base for line in lines]
    widest = max(len(line.rstrip()) - base for line in lines)
    code_like = [
        d >= 6 or (d >= 4 and len(line.rstrip()) - base < 0.7 * widest)
        for d, line in zip(depth, lines, strict=True)
    ]
    groups: list[list[str]] = [[lines[0]]]
    for i in range(1, len(lines)):
        code, was_code = code_like[i], code_like[i - 1]
        first_line_indent = (
            not code
            and depth[i] > depth[i - 1]
            and i + 1 < len(lines)
            and depth[i + 1] < depth[i]
        )
        if code != was_code or first_line_indent:
            groups.append([lines[i]])
        else:
            groups[-1].append(lines[i])
    return groups


def dedent(lines: list[str]) -> str:
    """Lines without their common indentation (relative indentation, e.g. of code, is kept)."""
    filled = [line for line in lines if line.strip()]
    cut = min((_indent(line) for line in filled), default=0)
    out = [line[cut:] for line in lines]
    if len(filled) > 1 and all(_indent(line) == 0 for line in out[1:]):
        out[0] = out[0].lstrip(" ")  # a paragraph's first-line indent is layout, not structure
    return "\n".join(out)


# --- reading and decoding -------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF"),
    (b"\x7fELF", "an executable"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)
# Browsers decode these labels as windows-1252; so do we (they are usually mislabelled cp1252).
_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii", "iso_8859-1"}


def read_source(path: Path) -> bytes:
    """Read a file for a loader; an empty file is an error worth showing the user."""
    data = path.read_bytes()
    if not data:
        raise LoaderError("empty file (0 bytes)")
    return data


def sniff_binary(data: bytes) -> str | None:
    """Name the kind of binary file this is, or None if it may be text."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    if b"\x00" in data[:8192]:
        return "a binary file"
    return None


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Decode bytes as text: BOM, then the declared charset, then UTF-8, cp1252, latin-1.

    Returns the text and a warning when a fallback was needed. Never raises on bad bytes.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), None
    candidates: list[str] = []
    if declared:
        label = declared.strip().lower()
        try:
            name = codecs.lookup("cp1252" if label in _LATIN1_LABELS else label).name
            candidates.append(name)
        except LookupError:
            pass
    candidates += ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding not in ("utf-8", candidates[0]):
            return _mixed_lines(data) or (text, f"not valid UTF-8; decoded as {encoding}")
        return text, None
    return _mixed_lines(data) or (data.decode("latin-1"), "not valid UTF-8; decoded as latin-1")


def _mixed_lines(data: bytes) -> tuple[str, str] | None:
    """Text whose lines mix UTF-8 and a legacy encoding (files pasted together): each line decoded on
    its own, UTF-8 first. None when no line holds non-ASCII UTF-8 (then it is all one legacy text)."""
    lines: list[str] = []
    utf8 = legacy = 0
    for raw in data.splitlines(keepends=True):
        try:
            line = raw.decode("utf-8")
            utf8 += not raw.isascii()
        except UnicodeDecodeError:
            try:
                line = raw.decode("cp1252")
            except UnicodeDecodeError:
                line = raw.decode("latin-1")
            legacy += 1
        lines.append(line)
    if not utf8:
        return None
    return "".join(lines), f"mixed encodings: {legacy} line(s) not valid UTF-8 decoded as cp1252"


def is_heading_like(text: str, limit: int = 120) -> bool:
    """Short, single-line, with letters: could be a title."""
    text = text.strip()
    return 0 < len(text) <= limit and "\n" not in text and any(ch.isalpha() for ch in text)


def nfkc_fold(text: str) -> str:
    """Case- and compatibility-folded text, for comparing titles with what is on the page."""
    return unicodedata.normalize("NFKC", text).casefold()
