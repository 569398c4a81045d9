"""A model's sentence backed by a verbatim quote of its passage: the second way past the sentence check.

Takes a sentence, the quote the model gave for it (`… [2: "exact words of passage 2"]`), the cited
passage's text and the question; gives a `Check`. `verify` refuses every paraphrase (it wants one
passage sentence to hold the sentence's words in order), so a capable model that rewords loses
nearly all it writes. The prompt (`prompts/system_quoted.md`) asks such a model to end each sentence
with the passage's own words that say it; a sentence `verify` refuses is then shown only when

- its quote is in the cited passage, word for word (spacing and case aside), and ONE sentence of the
  quote, long enough to say something (`MIN_QUOTE_WORDS`), passes all of what follows (a long quote
  must not lend one sentence's number to another's claim);
- it names no number, identifier, option, command or quoted text the quote does not name;
- its polarity is the quote's (a negation on one side only is a contradiction, not a paraphrase);
- each of its content words is in the quote, in a few neutral words of reference (`NEUTRAL`), in the
  passage's name (product, version, manual), or in the question and the two passage sentences before
  the quote both (the thing asked about, where "this option" of the quote names it; never a number);
- most of its content words come from the quote itself (`MIN_FROM_QUOTE`), and those keep the quote's
  order (`MIN_QUOTE_ORDER`): "A sets B" from a quote "B sets A" is refused;
- it is close in meaning to the quote read with its lead-in under the embedding model (`MIN_QUOTE_COSINE`).

One quote backs one sentence: a sentence resting on two quotes is checked against each alone, so two
true quotes cannot be recombined into a claim neither makes. The reader is shown the quote beside the
sentence, and the citation opens the page at it. The constants were chosen on the `tune` half of
`tests/eval/support_quotes.jsonl` (`mcdewey eval --support`); the `heldout` half was not looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.answering.text import _normalize_word, chunk_sentences, tokens
from assistant.answering.verify import Check, Similarity, _negates, _words, in_order, specifics
from indexing.chunk import find_quote

# `[2: "the passage's words"]`, with straight or typographic quotes.
QUOTED_MARKER = re.compile(r"\[(\d{1,3})\s*:\s*[\"“”„«]([^\"“”»\]\n]{1,600})[\"“”»]\s*\]")
MIN_QUOTE_WORDS = 4
LEAD_IN_SENTENCES = 2
MIN_FROM_QUOTE = 0.6
MIN_QUOTE_ORDER = 1.0
MIN_QUOTE_COSINE = 0.6
# Words that refer to a passage or an option without claiming anything about it.
NEUTRAL = frozenset(_normalize_word(w) for w in """option options setting settings value values parameter
    parameters directive
    directives command commands called named specifies specify sets set""".split())


# Words that claim nothing. Narrower than the stop words of the overlap measures: a modal ("may",
# "must", "cannot"), a quantifier ("all", "only", "every") or a negation changes a claim, so it counts.
FUNCTION_WORDS = frozenset("""a an the of to in on at for by with from as into onto about is are was were be
    been being it its it's this that these those there their they them you your we our i he she his her and or
    but if then so than do does did done which who whom what when where how also such has have had""".split())


def _content_order(text: str) -> list[str]:
    """The text's content words in the order they occur (stemmed as `terms` stems them)."""
    return [_normalize_word(t) for t in tokens(text) if t not in FUNCTION_WORDS and (len(t) > 1 or t.isdigit())]


def _content(text: str) -> set[str]:
    return set(_content_order(text))


def backs(sentence: str, quote: str, passage: str, question: str = "", similarity: Similarity | None = None,
          *, about: str = "", min_cosine: float = MIN_QUOTE_COSINE) -> Check:
    """Does the verbatim `quote` of `passage` say `sentence`? (See the module's rules.) `about` names the
    passage as the model saw it (product, version, manual), words the sentence may use too."""
    if len(tokens(quote)) < MIN_QUOTE_WORDS:
        return Check(False, how="the quote is too short to say anything")
    found = find_quote(passage, quote) or find_quote(passage.lower(), quote.lower())
    if found is None:
        return Check(False, how="the quote is not in the cited passage")
    check = Check(False, how="no sentence of the quote is long enough to say anything")
    for part in chunk_sentences(quote):  # one sentence of the quote must say it all
        if len(tokens(part)) >= MIN_QUOTE_WORDS:
            lead_in = _lead_in(passage, found[0], found[1])
            check = _says(sentence, part, lead_in, question, about, similarity, min_cosine)
            if check.ok:
                return check
    return check


def _lead_in(passage: str, start: int, end: int) -> str:
    """The passage from LEAD_IN_SENTENCES sentences before the quote up to it: where "this option" of a
    quote names its subject. The thing asked about must be named there, not anywhere in the passage."""
    ends = [m.end() for m in re.finditer(r"[.!?:;)]\s+(?=\S)", passage[:start])]
    return passage[ends[-LEAD_IN_SENTENCES - 1] if len(ends) > LEAD_IN_SENTENCES else 0 : end]


def _says(sentence: str, quote: str, lead_in: str, question: str, about: str, similarity: Similarity | None,
          min_cosine: float) -> Check:
    words, q_words = _words(sentence), _words(quote)
    if _negates(words) != _negates(q_words):
        return Check(False, how="the sentence and its quote differ in polarity")
    q_low, q_vocab = " ".join(q_words), set(q_words)
    missing = [f for f in specifics(sentence) if ((f not in q_low) if " " in f else (f not in q_vocab))]
    named = set(_words(about))
    asked = (_content(question) & _content(lead_in)) | _content(about)
    if any(f not in named and (re.search(r"\d", f) or f not in asked) for f in missing):
        return Check(False, how="the sentence names something its quote does not")
    mine, quoted = _content(sentence), _content(quote)
    if not mine or mine - quoted - NEUTRAL - asked:
        return Check(False, how="the sentence says something its quote does not")
    from_quote = [w for w in _content_order(sentence) if w in quoted]
    if len(set(from_quote)) < MIN_FROM_QUOTE * len(mine):
        return Check(False, how="too little of the sentence comes from its quote")
    shared, _ = in_order(from_quote, _content_order(quote))
    if shared < MIN_QUOTE_ORDER * len(from_quote):
        return Check(False, how="the sentence rearranges its quote")
    if similarity is not None and similarity(sentence, [lead_in])[0] < min_cosine:  # the quote read in its place
        return Check(False, how="the sentence differs in meaning from its quote")
    return Check(True, quote, "quoted")




def backed_by_any(sentence: str, quotes: Iterable[str], passage: str, question: str,
                  similarity: Similarity | None, about: str = "") -> Check:
    """The first of `quotes` that backs `sentence` alone (never their union)."""
    check = Check(False, how="no quote")
    for quote in quotes:
        check = backs(sentence, quote, passage, question, similarity, about=about)
        if check.ok:
            return check
    return check


_HELD = re.compile("\ue000(\\d+)\ue001")


def lift_quotes(text: str) -> tuple[str, list[tuple[int, str]]]:
    """`text` with each `[n: "quote"]` turned into `[n]` and a placeholder that sentence splitting leaves
    alone (a quote may hold full stops), and the (n, quote) pairs the placeholders number."""
    quotes: list[tuple[int, str]] = []

    def hold(match: re.Match[str]) -> str:
        quotes.append((int(match.group(1)), " ".join(match.group(2).split())))
        return f"[{match.group(1)}]\ue000{len(quotes) - 1}\ue001"

    return QUOTED_MARKER.sub(hold, text), quotes


def held_quotes(sentence: str, quotes: list[tuple[int, str]]) -> tuple[str, list[tuple[int, str]]]:
    """The sentence without its placeholders, and the (n, quote) pairs they stood for."""
    return _HELD.sub(" ", sentence), [quotes[int(k)] for k in _HELD.findall(sentence) if int(k) < len(quotes)]
