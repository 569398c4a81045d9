"""What a question asks: the kind of answer it wants, and which of its words are the ask.

Takes the search query; gives an `Ask`. A reader answering "What is the default value of tune.bufsize?"
looks for the section about tune.bufsize (the *topic*, which the heading may carry) and, in it, the
sentence that gives a default value (the *ask*). So the sentence picker needs to know:

- the kind of answer: a `value` (a default, a port, a limit, a size, a timeout, a path), a `procedure`
  (how do I…: the command, the steps), a `definition` (what is / what does X do: the opening of the
  section about X), a `cause` (why, an error message: the reason or the fix), `yesno` (can I, does X
  support: the sentence that says so), or `other`;
- its cue words (what a sentence that answers it tends to say: "default" and a number for a value, a
  command or "use"/"run" for a procedure), which `extract` scores alongside the question's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.text import terms

_VALUE = re.compile(
    r"\b(default|port|limit|maximum|minimum|max|min|size|timeout|how (?:many|much|long|big|often)|"
    r"which (?:file|directory|path|port|value|number)|where (?:is|are|does|do)\b.*\b(?:stored|kept|located|"
    r"written|found|logged)|what (?:file|directory|path|port|value|number|version|unit|range)|"
    r"interval|number of|length|capacity|threshold)\b", re.I)
_PROCEDURE = re.compile(
    r"^\s*(?:how (?:do|can|should|would) (?:i|you|we|one)|how to|what (?:command|syntax|option|setting|"
    r"directive|statement)|which (?:command|option|setting|directive|statement|parameter)|"
    r"(?:show|tell) me how|steps?\b|is there a way|what(?:'s| is) the (?:command|way|syntax))\b", re.I)
_DEFINITION = re.compile(r"^\s*(?:what (?:is|are|does|do)\b|what's\b|define\b|explain\b|describe\b|"
                         r"what (?:is|are) the (?:purpose|meaning|role)\b)", re.I)
_CAUSE = re.compile(r"\b(?:why|error|errors|fail(?:s|ed|ing|ure)?|cannot|can't|won't|doesn't|refus\w*|"
                    r"warning|denied|broken|crash\w*|reject\w*|what (?:causes|happens)|wrong)\b", re.I)
_ASKS_DEFAULT = re.compile(r"^\s*(?:which|what)\b.*\bdefault\b", re.I)
_YESNO = re.compile(r"^\s*(?:can|could|does|do|is|are|should|will|may|must|did|has|have)\b", re.I)

# Words a sentence answering each kind tends to say (stemmed like `terms`); they are cues, not
# requirements.
CUES: dict[str, frozenset[str]] = {
    "value": frozenset(terms("default defaults value set sets limit maximum minimum size seconds bytes port "
                             "path file directory number")),
    "procedure": frozenset(terms("use run set add type enter edit create command option specify configure "
                                 "invoke execute issue following example")),
    "definition": frozenset(terms("is are means specifies sets defines controls enables determines "
                                  "allows used provides")),
    "cause": frozenset(terms("because caused cause means indicates occurs happens when if fix solution "
                             "reason problem error result")),
    "yesno": frozenset(terms("can cannot not only supported support possible must may allowed")),
    "other": frozenset(),
}


@dataclass(frozen=True)
class Ask:
    kind: str  # value | procedure | definition | cause | yesno | other
    terms: frozenset[str]  # the question's content terms
    cues: frozenset[str]  # words an answering sentence tends to say


def read_question(query: str) -> Ask:
    """The kind of answer `query` wants. A procedure question is recognised first ("How do I set the
    default port?" wants the command), then a value, a yes/no, a cause and a definition."""
    first = query.strip()
    if _PROCEDURE.search(first):
        kind = "procedure"
    elif (_VALUE.search(first) and not _DEFINITION.match(first)) or _ASKS_DEFAULT.match(first):
        kind = "value"
    elif _YESNO.match(first):
        kind = "yesno"
    elif _CAUSE.search(first):
        kind = "cause"
    elif _DEFINITION.match(first):
        kind = "definition"
    else:
        kind = "other"
    return Ask(kind, frozenset(terms(query)), CUES[kind])
