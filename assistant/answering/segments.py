"""A passage read the way a reader reads it: labels, sentences in their section, code kept as code.

Takes a chunk; gives its `Segment`s in order. A chunk's text is what the loader extracted: ragged PDF
and text-file line breaks, a term or heading alone on a line ("max_wal_senders (integer)", "kdc_listen",
"tune.bufsize <number>", "Description"), sentences broken across lines, command lines and configuration
blocks. A reader sees three things in it, and so does the answer stage:

- a **label** (a heading or the term a definition list explains) is not a sentence: it is the context of
  the sentences under it, like the chunk's heading trail, and is never quoted as prose (it used to be
  glued to the next sentence with " — ");
- a **sentence** carries its context (the heading trail and the labels above it), so a question's topic
  ("tune.bufsize", "the KDC") may be met by the section and its ask ("default value") by the sentence;
- **code** (a command line, a configuration block: lines indented under a lead-in, shell prompts) keeps
  its line breaks, so a `#` comment never swallows the next statement.

Layout debris is removed on the way: the visible-space glyph "␣", words hyphenated across a line break,
section numbers and "Note"/"Listing 23." labels at the start of a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answering.text import STOP_WORDS, split_sentences, tokens
from indexing.chunk import Chunk

# "max_wal_senders (integer)", "4.3.3 modify_principal", "set server <backend>/<server> state [ ready | drain |
# maint ]" (a command synopsis: 8 words)
LABEL_MAX_WORDS = 8
# A line this much more indented than the text around it, or with a prompt, is code (text manuals
# indent examples by 2-4 more spaces than their prose).
CODE_INDENT = 4
_PROMPT = re.compile(r"^\s*(?:\$|#|%|>|kadmin:|kadmin\.local:|psql>|postgres=#|bconsole>|\*)\s+\S")
_CODE_CHARS = re.compile(r"[{}();=<>|\\]|^\s*-{1,2}\w|\w+\s*=\s*\S")
_HYPHENATED = re.compile(r"(?<=[a-z])- ([a-z]{2,})")  # "config- uration" (not "client- and server-side")
_ITEM = re.compile(r"^\s*(?:[-*•]\s|-{1,2}[A-Za-z][\w-]*\b|\d{1,2}[.)]\s)")
_END = re.compile(r"[.!?:;]$")
_SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)+\.?|[A-Z]\.\d+(?:\.\d+)*\.?)\s+(?=[A-Z])")
_LEAD_LABEL = re.compile(r"^(?:Note|Notes|Warning|Caution|Important|Tip|Description|Example|Examples|"
                         r"Synopsis|Listing \d+\.?|Figure \d+\.?|Table \d+\.?)\s*[:.]?\s+(?=[A-Z(`\"'])")


@dataclass(frozen=True)
class Segment:
    """One label, sentence or code block of a passage, with the section it stands in."""

    kind: str  # "label" | "sentence" | "code"
    text: str
    context: tuple[str, ...] = field(default=())  # heading trail, then labels above it in the chunk
    position: int = 0  # index among the chunk's segments


def clean(text: str) -> str:
    """One sentence without layout debris: the visible-space glyph, hyphenation at a line break,
    a section number or a "Note" label in front, doubled spaces."""
    text = text.replace("␣", " ").replace("\u00ad", "")
    text = _HYPHENATED.sub(lambda m: m.group(0) if m.group(1) in STOP_WORDS else m.group(1), text)
    text = _SECTION_NUMBER.sub("", text)
    text = _LEAD_LABEL.sub("", text)
    return " ".join(text.split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_label(line: str, following: str | None, trail: tuple[str, ...]) -> bool:
    """A heading of the trail repeated in the text, or a short line without an end mark followed by a
    line that starts a sentence or another term, whose last word is not one a sentence would continue
    from ("If an" / "HTTP request…" is one broken sentence)."""
    stripped = " ".join(line.split())
    if any(stripped == " ".join(h.split()) for h in trail):
        return True
    words = tokens(line)
    if not words or len(words) > LABEL_MAX_WORDS or _END.search(stripped):
        return False
    if words[-1] in STOP_WORDS and not line.rstrip().endswith((")", ">", "]")):
        return False
    starts = following is None or bool(re.match(r"\s*(?:[A-Z(\[\"'`]|[a-z]\w*[_.]\w)", following))
    term_follows = bool(following) and len(tokens(following or "")) <= LABEL_MAX_WORDS \
        and not _END.search((following or "").strip())
    return starts or term_follows


def _is_code(line: str, base: int, after_lead_in: bool) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if _PROMPT.match(line):
        return True
    words = tokens(stripped)
    prose = sum(w.isalpha() and len(w) > 1 for w in words)
    indented = _indent(line) >= base + CODE_INDENT
    symbolic = bool(_CODE_CHARS.search(stripped)) and prose < 0.7 * max(1, len(stripped.split()))
    if after_lead_in and (symbolic or (not _END.search(stripped) and len(words) <= 12)):
        return True  # what "run the following command:" introduces, a line at a time
    return indented and (symbolic or not _END.search(stripped))


def read_passage(chunk: Chunk) -> list[Segment]:
    """The chunk's labels, sentences and code blocks, in order, each with its context."""
    lines = [line.rstrip() for line in chunk.text.replace("\t", "    ").split("\n")]
    nonblank = [_indent(x) for x in lines if x.strip()]
    base = min(nonblank) if nonblank else 0
    trail = tuple(h for h in chunk.heading if h)
    labels: list[str] = []
    out: list[Segment] = []
    prose: list[str] = []
    code: list[str] = []
    prose_indent = 0

    def add(kind: str, text: str) -> None:
        out.append(Segment(kind, text, trail + tuple(labels[-2:]), len(out)))

    def flush_prose() -> None:
        if prose:
            for sentence in split_sentences(" ".join(prose)):
                sentence = clean(sentence)
                if sentence:
                    add("sentence", sentence)
            prose.clear()

    def flush_code() -> None:
        if code:
            indent = min(_indent(x) for x in code)
            add("code", "\n".join(x[indent:] for x in code))
            code.clear()

    for i, line in enumerate(lines):
        if not line.strip():
            flush_code()
            flush_prose()
            continue
        following = next((x for x in lines[i + 1 :] if x.strip()), None)
        lead_in = (bool(prose) and prose[-1].rstrip().endswith(":")) or bool(code)
        if _is_code(line, base, lead_in):
            flush_prose()
            code.append(line)
            continue
        flush_code()
        if _ITEM.match(line) or (prose and _indent(line) < prose_indent):
            flush_prose()  # an option, a list item or an outdented line (a text manual's keyword) starts anew
        sentence_ended = not prose or _END.search(prose[-1].strip())
        if sentence_ended and _is_label(line, following, trail):
            flush_prose()
            label = clean(line)
            if label and label not in trail:
                labels.append(label)
            add("label", label or line.strip())
            continue
        if not prose:
            prose_indent = _indent(line)
        prose.append(line.strip())
    flush_code()
    flush_prose()
    return out
