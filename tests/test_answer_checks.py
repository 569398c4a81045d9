"""Answers that never mislead: the sentence check, the extractive answer, follow-ups.

The check runs with the real embedding model (the `similarity` fixture); passages are built in the
test, and the labelled pairs of `tests/eval/support.jsonl` (read off the shared manuals) measure it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.answering.citations import attribute
from assistant.answering.extract import extractive_answer
from assistant.answering.followups import condense
from assistant.answering.pipeline import answer
from assistant.answering.text import terms
from assistant.answering.verify import Similarity, verify
from assistant.measure.support import evaluate_support, load_pairs
from indexing.chunk import Chunk

SUPPORT = Path(__file__).parent / "eval" / "support.jsonl"


def ids(chunks: Sequence[Chunk]) -> list[str]:
    """Chunk ids: a citation is a copy of its chunk carrying the quoted sentence, compared by id."""
    return [c.chunk_id for c in chunks]


def chunk(n: int, text: str, source: str = "postfix/3.7/documentation/TLS_README.html") -> Chunk:
    product, version, doc = source.split("/")[:3]
    return Chunk(
        chunk_id=f"{product}::{version}::{doc}::{Path(source).stem}::{n}", text=text, vendor="V", product=product,
        version=version, doc=doc, doc_title=f"{product} {version} guide", source=source, page=None, ordinal=n,
    )


PORTS = chunk(1, "kdc_tcp_listen lists the ports on which the KDC listens for TCP connections. The default is 88. "
                 "The KDC also listens for UDP requests on the ports in kdc_listen.")
MISSING = chunk(2, "Gnuplot makes a distinction between missing data and invalid data. For example invalid data "
                   "causes a gap in a line drawn through sequential data points; missing data does not.")


# --- the check ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "passage"),
    [
        ("The KDC listens for UDP requests on port 88.", PORTS),  # two sentences' words, one false claim
        ("Missing data causes a gap in a line drawn through sequential data points; invalid data does not.",
         MISSING),  # the roles swapped
        ("The KDC does not listen for UDP requests on the ports in kdc_listen.", PORTS),  # polarity flipped
        ("The default is 89.", PORTS),  # a value the passage does not give
        ("To change it, run kdc_tcp_listen --reset.", PORTS),  # a command the passage does not hold
    ],
)
def test_a_sentence_the_passage_does_not_say_is_refused(sentence: str, passage: Chunk, similarity: Similarity) -> None:
    assert not verify(sentence, passage.text, similarity).ok
    result = attribute(f"{sentence} [1]", [passage], similarity=similarity)
    assert result.answer == "" and result.dropped


def test_the_passages_own_words_lightly_trimmed_are_kept(similarity: Similarity) -> None:
    check = verify("The KDC listens for TCP connections on the ports that kdc_tcp_listen lists.", PORTS.text,
                   similarity)
    assert not check.ok  # reordered: a paraphrase, refused (what the 135M model gets wrong hides there)
    kept = verify("The KDC also listens for UDP requests on the ports in kdc_listen", PORTS.text, similarity)
    assert kept.ok and kept.source is not None and "UDP" in kept.source


def test_on_the_labelled_pairs_the_check_keeps_no_unsupported_sentence(similarity: Similarity) -> None:
    """tests/eval/support.jsonl: 184 pairs written from the manuals, with the failure kinds seen in
    answers (recombined words, flipped negations, changed values, unrelated claims, invented commands)."""
    result = evaluate_support(load_pairs(SUPPORT), similarity, sweep=False)
    assert result["pairs"] >= 100
    assert result["precision"] >= 0.97, result["wrongly_kept"]
    assert result["recall"] >= 0.35  # the passages' own words get through


# --- the extractive answer ------------------------------------------------------------------------

BACKLOG = chunk(3, "kdc_tcp_listen_backlog (Integer.) Set this to the size of the listen queue length for the "
                   "KDC daemon's TCP sockets. The default value is 5. If the value is too low, clients may see "
                   "connection failures.")
LEAD_IN = chunk(4, "TLS can be turned off for all clients at once. To disable it globally, run the following "
                   "command:")
PAYOFF = chunk(5, "postconf -e 'smtpd_tls_security_level = none'\npostfix reload\n\nThe change takes effect at once.")


def test_the_extractive_answer_keeps_the_sentence_that_completes_it(similarity: Similarity) -> None:
    result = extractive_answer("What is the default value of kdc_tcp_listen_backlog?", [BACKLOG],
                               similarity=similarity)
    assert "The default value is 5" in result.answer and ids(result.citations) == ids([BACKLOG])


def test_a_lead_in_keeps_its_command_from_the_next_chunk_with_its_lines() -> None:
    following = {LEAD_IN.chunk_id: PAYOFF}
    result = extractive_answer("How do I disable TLS globally?", [LEAD_IN],
                               following=lambda c: following.get(c.chunk_id))
    # the command is quoted as code, line by line, after the lead-in that introduces it
    assert ("run the following command: [1][2]\n\n```\npostconf -e 'smtpd_tls_security_level = none'\n"
            "postfix reload\n```") in result.answer
    assert "takes effect" not in result.answer  # the payoff ends at the blank line
    assert ids(result.citations) == ids([LEAD_IN, PAYOFF])  # the command's own page too
    without = extractive_answer("How do I disable TLS globally?", [LEAD_IN], following=lambda c: None)
    assert "following command" not in without.answer  # a lead-in that leads nowhere is not quoted


# --- follow-ups -----------------------------------------------------------------------------------

GLOBAL = chunk(6, "autovacuum (boolean) Controls whether the server should run the autovacuum launcher daemon. "
                  "This is on by default; to turn autovacuum off, set it to off.",
               "postgresql/15/manual/runtime-config-autovacuum.html")
PER_TABLE = chunk(7, "autovacuum_enabled (boolean) Enables or disables the autovacuum daemon for a single table. "
                     "Set this storage parameter with ALTER TABLE.",
                  "postgresql/15/manual/sql-createtable.html")
HISTORY = [{"role": "user", "content": "How do I turn off autovacuum in PostgreSQL 15?"},
           {"role": "assistant", "content": "to turn autovacuum off for the whole server set it to off [1]."}]


def test_a_follow_up_is_answered_not_the_first_question_again(similarity: Similarity) -> None:
    question = "Can I do that for a single table instead?"
    query = condense(question, HISTORY)
    assert query.startswith(question) and "autovacuum" in query and "turn off" not in query

    def search(q: str, k: int, product: str | None, version: str | None) -> list[Chunk]:  # shared words
        return sorted([GLOBAL, PER_TABLE], key=lambda c: -len(terms(q) & terms(c.text)))[:k]

    result = answer(question, history=HISTORY, search=search, llm=None, similarity=similarity)
    assert result.citations and result.citations[0].chunk_id == PER_TABLE.chunk_id


def test_what_mcdewey_bench_measures_is_answered_from_the_demo_guide(service: Any) -> None:
    """Seen on the demo library: the answer named 'the index of the library', not what the page lists."""
    from assistant.answerer import Answerer

    result = Answerer(service).ask("What does mcdewey bench measure?").result
    assert not result.declined
    assert "ingest speed, search latency, concurrency and answer latency" in result.answer
    # The sentence is on page 2 of the quick reference, in a chunk that starts on its cover page:
    # the citation (and so its url and file_url) names page 2, not the cover.
    cited = next(c for c in result.citations if "ingest speed" in c.text)
    assert cited.source.endswith("quick-reference.pdf") and cited.page == 2


def test_the_answer_audit_counts_each_shown_sentence_against_the_passages_it_cites(similarity: Similarity) -> None:
    from assistant.answering.results import AnswerResult
    from assistant.measure.answers import verified_share

    quoted = extractive_answer("What is the default value of kdc_tcp_listen_backlog?", [BACKLOG, PORTS],
                               similarity=similarity)
    honest = AnswerResult(question="q", query="q", answer=quoted.answer, citations=quoted.citations)
    assert verified_share(honest, similarity) == 1.0  # the passages' own words, several to a marker
    mixed = AnswerResult(question="q", query="q", citations=[PORTS],
                         answer="The default is 88. The KDC listens for UDP requests on port 88 [1].")
    assert verified_share(mixed, similarity) == 0.5  # the recombined sentence is counted, not hidden
