"""The default answer is a quotation: the sentence that says it, read in its section, with clean text.

Chunks are built here as the loaders give them (a term alone on a line, sentences broken across
lines, a command block); the answers are what a reader sees in the chat, /api/ask and `mcdewey ask`.
"""

from __future__ import annotations

from assistant.answering.asks import read_question
from assistant.answering.extract import as_code, extractive_answer
from assistant.answering.followups import condense
from assistant.answering.pipeline import answer
from assistant.answering.segments import clean, read_passage
from indexing.chunk import Chunk


def chunk(text: str, heading: list[str], n: int = 0, product: str = "haproxy", version: str = "2.6",
          title: str = "HAProxy Configuration Manual", similarity: float | None = None) -> Chunk:
    return Chunk(chunk_id=f"{product}::{version}::manual::configuration::{n}", text=text, vendor="V",
                 product=product, version=version, doc="manual", doc_title=title,
                 source=f"{product}/{version}/manual/configuration.txt", heading=heading, ordinal=n,
                 similarity=similarity)


BUFSIZE = chunk(
    "tune.bufsize <number>\n  Sets the buffer size to this size (in bytes).\nLower values allow more\n"
    "  sessions to coexist in the same amount of RAM.\nThe default value is 16384 and\n  can be changed at build "
    "time.\nIn\n  addition, use of HTTP/2 mandates that this value must be 16384 or more.\nIf an\n"
    "  HTTP request is larger than (tune.bufsize - tune.maxrewrite), HAProxy will\n  return HTTP 400 (Bad Request) "
    "error.", ["3. Global parameters", "3.2. Performance tuning", "tune.bufsize <number>"], n=203)

KDC = chunk(
    "kdc_listen\n(Whitespace- or comma-separated list.) Specifies the UDP listening addresses and/or ports for the "
    "krb5kdc daemon. If the address contains colons, enclose it in square brackets. If no port is specified, "
    "the standard port (88) is used. If the KDC daemon fails to bind to any of the specified addresses, it will "
    "fail to start.", ["kdc.conf", "[realms]"], n=126, product="mit-kerberos", version="1.20",
    title="Kerberos Administration Guide")


def test_the_sentence_that_says_what_is_asked_not_the_one_that_repeats_the_topic() -> None:
    """The section is about tune.bufsize; the question asks its default value: that sentence is quoted,
    first, not the HTTP/2 or 400-error sentences that name tune.bufsize or "value" again (issue #20's first case)."""
    text = extractive_answer("What is the default value of tune.bufsize in HAProxy?", [BUFSIZE]).answer
    source, quote = text.split("\n", 1)
    assert source == "From the HAProxy Configuration Manual (2.6), `tune.bufsize <number>`:"
    first = quote.split("\n")[0]  # the first excerpt holds the answer; others may follow it
    assert "The default value is 16384 and can be changed at build time" in first
    assert "400" not in first  # the sentences that only name tune.bufsize again do not lead


def test_a_value_question_quotes_the_sentence_with_the_value() -> None:
    text = extractive_answer("Which port does the Kerberos KDC listen on by default?", [KDC]).answer
    assert "the standard port (88) is used [1]." in text and "square brackets" not in text


def test_layout_debris_never_reaches_the_answer() -> None:
    segments = read_passage(BUFSIZE)
    assert [s.text for s in segments if s.kind == "label"] == ["tune.bufsize <number>"]
    sentences = [s.text for s in segments if s.kind == "sentence"]
    assert "If an HTTP request is larger than (tune.bufsize - tune.maxrewrite), HAProxy will return HTTP 400 (Bad " \
           "Request) error." in sentences  # not "If an — HTTP request"
    assert all(" — " not in s for s in sentences)
    assert clean("12.2 Setting␣up the config- uration of client- and server-side TLS") == (
        "Setting up the configuration of client- and server-side TLS")
    assert clean("Note: The server must be restarted.") == "The server must be restarted."


def test_code_keeps_its_lines_and_identifiers_are_code_not_links() -> None:
    block = chunk("Configuration\nA safe way to reload is to notify the old processes:\n"
                  "    haproxy -f /etc/haproxy.cfg \\\n        -sf $(cat /var/run/haproxy.pid)\n", ["Reload"], n=4)
    kinds = [(s.kind, s.text) for s in read_passage(block)]
    assert ("code", "haproxy -f /etc/haproxy.cfg \\\n    -sf $(cat /var/run/haproxy.pid)") in kinds
    text = extractive_answer("How do I reload haproxy safely, notifying the old processes?", [block]).answer
    assert text.endswith("[1]\n\n```\nhaproxy -f /etc/haproxy.cfg \\\n    -sf $(cat /var/run/haproxy.pid)\n```")
    assert as_code("kinit alice@EXAMPLE.COM reads max_wal_senders, e.g. 2.6 (see https://x.org/a.b).") == (
        "kinit `alice@EXAMPLE.COM` reads `max_wal_senders`, e.g. 2.6 (see https://x.org/a.b).")


def test_what_the_question_asks() -> None:
    assert read_question("What is the default value of tune.bufsize?").kind == "value"
    assert read_question("Which port does the KDC listen on by default?").kind == "value"
    assert read_question("How do I put a server into drain mode?").kind == "procedure"
    assert read_question("What does max_wal_senders do?").kind == "definition"
    assert read_question("Can I change it without a restart?").kind == "yesno"
    assert read_question("Why does kinit fail with 'Clock skew too great'?").kind == "cause"


def test_a_passage_far_from_the_question_is_not_quoted() -> None:
    """Another product's passage at near-zero similarity is no answer: the question is declined and the
    decline names where McDewey looked."""
    far = chunk("The default value is 16384 and can be changed at build time.", ["tune.bufsize"], similarity=0.07)

    def search(query: str, top_k: int, product: str | None, version: str | None) -> list[Chunk]:
        return [far]

    result = answer("What is the default value of tune.bufsize?", search=search, llm=None,
                    holdings="bind9 9.18, haproxy 2.6")
    assert result.declined and "the whole library (bind9 9.18, haproxy 2.6)" in result.answer


def test_a_follow_up_that_names_nothing_is_about_the_section_just_answered() -> None:
    first = "What does tune.bufsize do in HAProxy 2.6?"
    quoted = extractive_answer(first, [BUFSIZE]).answer
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": quoted}]
    query = condense("what about its default value?", history)
    assert "tune.bufsize" in query and "default value" in query and "<number>" not in query
    followed = extractive_answer(query, [BUFSIZE]).answer
    assert "The default value is 16384" in followed
