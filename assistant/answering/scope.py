"""Scope: which product and version a question or a chunk is about, and how to name it to a reader.

Takes chunks (their product, version and title) and a question; gives the product's aliases, labels
such as 'BIRD 2.0' or 'HAProxy Configuration Manual (2.6)', and the version a question names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answering.text import STOP_WORDS
from indexing.chunk import Chunk


def product_aliases(chunk: Chunk) -> set[str]:
    """Ways a question may name a product: its id, id parts, id without digits, title's first word."""
    pid = chunk.product.lower()
    aliases = {pid, pid.replace("-", " "), re.sub(r"\d+$", "", pid)}
    aliases.update(part for part in pid.split("-") if len(part) > 3)
    first = chunk.doc_title.split()[0].lower() if chunk.doc_title.split() else ""
    if first and first not in STOP_WORDS and len(first) > 2:
        aliases.add(first)
    return {a for a in aliases if a}


def scope_label(chunk: Chunk) -> str:
    """'BIRD 2.0 User's Guide' / 'HAProxy Configuration Manual (2.6)': title plus version."""
    title = chunk.doc_title or f"{chunk.product} documentation"
    return title if re.search(rf"(?<![\w.]){re.escape(chunk.version)}(?![\w])", title) else f"{title} ({chunk.version})"


def product_version_label(chunk: Chunk) -> str:
    """'BIRD 2.0' / 'PostgreSQL 15': the product as the title spells it, and the version."""
    title_words = chunk.doc_title.split()
    aliases = product_aliases(chunk)
    name = next((w.strip(":,.;") for w in title_words if w.strip(":,.;").lower() in aliases), chunk.product)
    return f"{name} {chunk.version}"


def named_version(question: str, chunks: Sequence[Chunk]) -> tuple[str, str] | None:
    """(product, version) when the question names a version right after a product ("in BIRD 2.0").

    The product must be adjacent: in "built R with gcc 11.1", 11.1 is gcc's version, not R's.
    """
    text = question.lower()
    seen: dict[str, set[str]] = {}
    for chunk in chunks:
        seen.setdefault(chunk.product, set()).update(product_aliases(chunk))
    for product, aliases in seen.items():
        for alias in sorted(aliases, key=len, reverse=True):
            match = re.search(
                rf"(?<![\w-]){re.escape(alias)}(?:'s)?\s+(?:version\s+|v)?(\d+(?:\.\d+)*)(?![\w]|\.\d)", text
            )
            if match:
                return product, match.group(1)
    return None


def describe_scope(product: str | None, version: str | None, chunks: Sequence[Chunk] = ()) -> str:
    """Human wording of what was searched, using titles from the chunks when they match."""
    if not product and not version:
        return "the whole library"
    for chunk in chunks:
        if chunk.product == product and (version is None or chunk.version == version):
            return product_version_label(chunk) if version else product_version_label(chunk).rsplit(" ", 1)[0]
    return " ".join(x for x in (product, version) if x)

