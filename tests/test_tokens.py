"""Keyword tokens keep exact technical terms whole and findable by their parts."""

from indexing.tokens import tokenize


def test_identifiers_stay_whole_and_split() -> None:
    assert tokenize("max_wal_senders")[:1] == ["max_wal_senders"]
    assert {"max", "wal"} <= set(tokenize("max_wal_senders"))


def test_camel_case_terms() -> None:
    tokens = tokenize("UmssMtaBadMail")
    assert tokens[0] == "umssmtabadmail"
    assert {"umss", "mta", "bad", "mail"} <= set(tokens)


def test_versions_survive() -> None:
    assert "2.0" in tokenize("In BIRD 2.0, where does the table go?")
    assert "krb5.conf" in tokenize("edit krb5.conf")


def test_stemming_and_stopwords() -> None:
    assert tokenize("configuring the servers") == tokenize("configure server")
