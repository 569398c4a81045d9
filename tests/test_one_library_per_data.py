"""One data directory holds one library: another library's ingest is refused (nothing is lost), `--force`
replaces it, and the commands that only read an index find its library without being told."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from assistant.surfaces import cli


def _library(root: Path, product: str, text: str) -> Path:
    doc = root / product / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "guide.txt").write_text(f"{product.title()} Guide\n\n{text}\n", encoding="utf-8")
    return root


@pytest.mark.slow
def test_a_second_library_is_refused_then_replaces_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _library(tmp_path / "haproxy-lib", "haproxy", "The maxconn setting caps concurrent connections.")
    second = _library(tmp_path / "kerberos-lib", "kerberos", "The kadmin program administers principals.")
    data = tmp_path / "data"
    assert cli.main(["ingest", "--library", str(first), "--data", str(data)]) == 0
    capsys.readouterr()

    assert cli.main(["ingest", "--library", str(second), "--data", str(data)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"the data directory {data} holds the index of the library {first}, not {second}" in err
    assert "--data DIR or MCDEWEY_DATA=DIR" in err and "--force" in err
    # nothing was lost: the first library is still searchable, the second is not there
    assert cli.main(["search", "maxconn", "--data", str(data), "--json"]) == 0
    assert '"product": "haproxy"' in capsys.readouterr().out
    assert cli.main(["search", "kadmin", "--data", str(data), "--json"]) == 0
    assert '"product": "kerberos"' not in capsys.readouterr().out

    assert cli.main(["ingest", "--library", str(second), "--data", str(data), "--force"]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert cli.main(["search", "kadmin", "--data", str(data), "--json"]) == 0
    assert '"product": "kerberos"' in capsys.readouterr().out


@pytest.mark.slow
def test_commands_without_a_library_use_the_data_directorys_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _library(tmp_path / "lib", "haproxy", "The maxconn setting caps concurrent connections.")
    data = tmp_path / "data"
    assert cli.main(["ingest", "--library", str(first), "--data", str(data)]) == 0
    # a plain re-ingest of the data directory re-reads its own library (not the demo in its place)
    assert cli.main(["ingest", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"Library {first} → index {data}" in out and "removed 0" in out and "unchanged 1" in out
    serve_args = argparse.Namespace(library=None, data=data, host=None, port=None, chroma_url=None)
    assert cli._settings(serve_args).library == first
    # serving another library over it is refused before anything starts
    other = _library(tmp_path / "other", "kerberos", "kadmin")
    assert cli.main(["serve", "--library", str(other), "--data", str(data), "--port", "1"]) == 2
    assert f"holds the index of the library {first}, not {other}" in " ".join(capsys.readouterr().err.split())
