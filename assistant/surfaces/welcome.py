"""The chat's welcome: what the library being served holds, and questions its own manuals answer.

Takes the service and the answerer; gives the welcome text. The examples are not written for one
library: they are found in the library served (a setting or option its manuals explain, with its
default), and each is asked before it is printed — a first question, and a follow-up that names
nothing of its own ("And what is its default value?") — so every suggestion works as printed. They
are found once per published generation and kept (a few searches and asks, well under a second
each).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from assistant.answerer import Answerer
from assistant.answering.scope import product_version_label
from assistant.answering.segments import read_passage
from assistant.service import LibraryService

log = logging.getLogger("mcdewey.chat")

MAX_PRODUCTS = 3  # products whose manuals are searched for an example (the largest first)
PROBE = "default value of the setting"  # what finds passages that define an option and its default
FOLLOW_UP = "And what is its default value?"
SECTION_PROBE = "how to configure"  # what finds a manual's working sections when no setting is named
_IDENTIFIER = re.compile(r"^[A-Za-z][\w-]*(?:[._][A-Za-z0-9][\w-]*)+$|^[a-z]+_[a-z_]+$")


@dataclass(frozen=True)
class Examples:
    first: str | None = None  # a question, then the follow-up below it
    follow_up: str | None = None
    others: tuple[str, ...] = ()


def _products(service: LibraryService) -> list[str]:
    listing = service.list_library()
    sizes = {p.product: sum(d.chunks for v in p.versions for d in v.documents)
             for vendor in listing.vendors for p in vendor.products}
    return sorted(sizes, key=lambda p: -sizes[p])[:MAX_PRODUCTS]


def _answered(answerer: Answerer, question: str, history: list[dict[str, str]] | None = None,
              source: str | None = None, needs_number: bool = False) -> str | None:
    """The answer's text when `question` is answered (cited, not declined, from `source` when given)."""
    result = answerer.ask(question, history=history or []).result
    if result.declined or not result.citations:
        return None
    if source is not None and result.citations[0].source != source:
        return None
    if needs_number and not re.search(r"\d", result.answer.split("\n", 1)[-1]):
        return None
    return result.answer


def find_examples(service: LibraryService, answerer: Answerer) -> Examples:
    """A setting of one of the largest products, asked about and then followed up; each checked."""
    found: list[str] = []
    pair: tuple[str, str] | None = None
    for product in _products(service):
        for chunk in service.search(PROBE, 8, product):
            terms = [s.text.split()[0] for s in read_passage(chunk) if s.kind == "label" and s.text.split()]
            names = [t for t in dict.fromkeys([*(h.split()[0] for h in chunk.heading[-1:] if h.split()), *terms])
                     if _IDENTIFIER.match(t)]
            for name in names[:2]:
                question = f"What does {name} do in {product_version_label(chunk)}?"
                if question in found or (pair is not None and question == pair[0]):
                    continue
                first = _answered(answerer, question, source=chunk.source)
                if first is None:
                    continue
                history = [{"role": "user", "content": question}, {"role": "assistant", "content": first}]
                if pair is None and _answered(answerer, FOLLOW_UP, history, chunk.source, needs_number=True):
                    pair = (question, FOLLOW_UP)
                else:
                    found.append(question)
                break
            if (pair is not None or found) and len(found) >= 1:
                break
        if pair is not None and len(found) >= 1:
            break
    if pair is None and not found:
        found = _about_sections(service, answerer)
    if pair is None:
        return Examples(others=tuple(found[:2]))
    return Examples(pair[0], pair[1], tuple(found[:1]))


def _about_sections(service: LibraryService, answerer: Answerer) -> list[str]:
    """For a library whose manuals name no settings: what a manual says about one of its sections."""
    found: list[str] = []
    for product in _products(service):
        for chunk in service.search(SECTION_PROBE, 8, product):
            heading = re.sub(r"^[\d.]+\s+", "", chunk.heading[-1]) if chunk.heading else ""
            if not re.fullmatch(r"[A-Za-z][\w -]{3,50}", heading) or heading.lower() in chunk.doc_title.lower():
                continue
            question = f"What does the {chunk.doc_title} say about {heading.lower()}?"
            if question not in found and _answered(answerer, question, source=chunk.source):
                found.append(question)
                break
        if len(found) >= 2:
            break
    return found


def examples_for(service: LibraryService, answerer: Answerer) -> Examples:
    """`find_examples`, once per published generation (the index keeps it until the next ingest)."""

    def build(_catalog: object) -> Examples:
        try:
            return find_examples(service, answerer)
        except Exception as exc:  # a welcome without examples is still a welcome
            log.warning("no example questions: %s: %s", type(exc).__name__, exc)
            return Examples()

    return service.index.derived("welcome examples", build)


def examples_text(examples: Examples) -> str:
    """The examples as the welcome prints them (each asked and answered before it is shown)."""
    lines = []
    if examples.first and examples.follow_up:
        lines.append(f"*\"{examples.first}\"*, then the follow-up *\"{examples.follow_up}\"*")
    lines += [f"*\"{q}\"*" for q in examples.others]
    if not lines:
        return ""
    return "**Try, in this library:** " + "; ".join(lines) + "."
