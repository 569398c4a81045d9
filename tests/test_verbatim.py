"""A model's sentence that rewords its passage passes the check only on a verbatim quote that says it."""

from __future__ import annotations

import pytest
from test_answer import KRB, KRB_PORTS

from assistant.answering.citations import attribute
from assistant.answering.verbatim import backs
from assistant.answering.verify import Similarity, verify

PASSAGE = KRB.text
QUESTION = "What is the default kdc_tcp_listen_backlog?"


def test_a_reworded_sentence_fails_verify_but_passes_on_its_quote(similarity: Similarity) -> None:
    sentence = "The default value of kdc_tcp_listen_backlog is 5."
    assert not verify(sentence, PASSAGE, similarity).ok  # the subject moved: verify refuses it
    check = backs(sentence, "The default value is 5.", PASSAGE, QUESTION, similarity)
    assert check.ok and check.source == "The default value is 5."


@pytest.mark.parametrize(("sentence", "quote", "why"), [
    ("The default value of kdc_tcp_listen_backlog is 8.", "The default value is 5.", "names something"),
    ("If the value is too low, clients will not see connection failures.",
     "If the value is too low, clients may see connection failures.", "polarity"),
    ("The default value of kdc_tcp_listen_backlog is 5.", "The default value is five.", "not in the cited passage"),
    ("The default value of kdc_tcp_listen_backlog is 5.", "default is 5", "too short"),
])
def test_a_quote_does_not_let_a_changed_claim_through(sentence: str, quote: str, why: str,
                                                      similarity: Similarity) -> None:
    check = backs(sentence, quote, PASSAGE, QUESTION, similarity)
    assert not check.ok and why in check.how


def test_two_quotes_are_never_recombined(similarity: Similarity) -> None:
    # Each quote is true; together they would make "the KDC listens for UDP on port 88", which neither says.
    text = ('The KDC listens for UDP requests on port 88 [1: "The default is 88."] '
            '[1: "The KDC also listens for UDP requests on the ports in kdc_listen."].')
    result = attribute(text, [KRB_PORTS], similarity=similarity, question="Which UDP port does the KDC use?")
    assert result.citations == [] and result.dropped


def test_the_reader_sees_the_quote_and_the_citation_opens_at_it(similarity: Similarity) -> None:
    text = 'The default value of kdc_tcp_listen_backlog is 5 [1: "The default value is 5."].'
    result = attribute(text, [KRB], similarity=similarity, question=QUESTION)
    assert result.answer == "The default value of kdc_tcp_listen_backlog is 5 (“The default value is 5”) [1]."
    quote = result.citations[0].quote
    assert quote is not None and KRB.text[quote.start:quote.end] == "The default value is 5."
