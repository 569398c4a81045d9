"""Keyword tokens that keep exact technical terms whole and also findable by their parts.

`max_wal_senders` gives `max_wal_senders`, `max`, `wal`, `senders`; `UmssMtaBadMail` gives
`umssmtabadmail`, `umss`, `mta`, `bad`, `mail`; versions such as `2.0` stay whole (a default tokenizer
drops them). Plain words are stemmed so that "configuring" finds "configure".
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

TERM = re.compile(r"[A-Za-z0-9_]+(?:[.\-:/][A-Za-z0-9_]+)*")
CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")
PARTS = re.compile(r"[._\-:/]+")

STOPWORDS = frozenset(
    """a an and are as at be but by can do does for from has have how i if in into is it its me my
    of on or so such that the their then there these this to was we what when where which while who
    why will with you your should would could i'm it's""".split()
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _word(word: str) -> str:
    return str(_stemmer.stemWord(word))


@lru_cache(maxsize=500_000)
def _term(raw: str) -> tuple[str, ...]:
    """Tokens of one raw term; cached because manuals repeat the same terms endlessly."""
    out: list[str] = []
    pieces = [p for p in PARTS.split(raw) if p]
    subwords: list[str] = []
    for piece in pieces:
        camel = CAMEL.findall(piece)
        if len(camel) > 1:
            subwords.extend(c.lower() for c in camel)
        else:
            subwords.append(piece.lower())
    compound = len(subwords) > 1 or "_" in raw
    if compound:
        out.append(raw.lower())
    for word in subwords:
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()) or (compound and word.isdigit()):
            continue
        out.append(_word(word) if word.isalpha() else word)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    out: list[str] = []
    for raw in TERM.findall(text):
        out.extend(_term(raw))
    return out
