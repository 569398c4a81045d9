"""Line-end hyphens: typography to remove, or spelling to keep.

Takes text with words broken at line ends (`configura-` + newline + `tion`, or PDFium's U+FFFE mark
for a hyphen it saw at a line end) and gives it with each break resolved. A document's own words
decide (`Vocabulary`): "max-\\nWAL" and "UTF-\\n8" keep their hyphen, "configura-\\ntion" loses it.
Every loader needs this, so it lives apart from any one format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-[ ]*\n[ ]*(?=[^\W\d_])")
_FFFE = re.compile("\ufffe")
_LEFT_WORD = re.compile(r"[^\W_]+$")
_RIGHT_WORD = re.compile(r"[^\W_]+")


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
