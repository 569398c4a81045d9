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

# Stop words, in three nested sets: each is the one before plus more words. Each shapes what its users
# return (the BM25 index, the words marked in snippets, the answer's checks): none may change unmeasured.
QUESTION_STOPWORDS = frozenset(
    """a an and are as at be by can do does for from how i in is it of on or the this that to what when
    where which who why with""".split()
)
"""The function words of a question: the web page marks every other query word in its snippets."""
STOPWORDS = QUESTION_STOPWORDS | frozenset(
    """but could has have i'm if into it's its me my should so such their then there these was we while
    will would you your""".split()
)
"""What `tokenize` drops, so BM25 never sees them (a change here changes the keyword index)."""
ANSWER_STOPWORDS = STOPWORDS | frozenset(
    """about above after again all also am any been before being below between both can't did doesn't
    doing don't done down during each either else ever every few further get gets getting got had having
    he her here hers him his however i've isn't itself just let lets like make makes many may might more
    most much must need needs no nor not now off once one only other our out over own per please same
    shall she some than theirs them there's they those through too under until up upon us use used using
    very via want wants way were what's whether whom whose within without won't yes yet""".split()
)
"""The broad English list the answer's overlap measures (grounding, excerpts, key terms) ignore."""

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
