"""`mcdewey` as a newcomer meets it: every option explained, and a mistyped library leaves nothing behind."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from assistant.surfaces import cli


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    parser = cli.build_parser()
    found = [("mcdewey", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += [(f"mcdewey {name}", sub) for name, sub in action.choices.items()]
    return found


def test_every_option_of_every_command_has_help() -> None:
    parsers = _parsers()
    assert {name for name, _ in parsers} >= {"mcdewey ingest", "mcdewey search", "mcdewey ask", "mcdewey eval",
                                              "mcdewey serve", "mcdewey bench", "mcdewey demo"}
    silent = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in parsers for action in parser._actions
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]
    assert silent == []


def test_ingest_help_speaks_of_the_users_library_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["ingest", "--help"])
    text = " ".join(capsys.readouterr().out.split()).lower()
    assert "--max-file-chunks" in text
    assert "shared corpus" not in text and "7,712" not in text


def test_ingest_of_a_missing_library_creates_no_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "fresh" / "data"
    missing = tmp_path / "no" / "such" / "dir"
    assert cli.main(["ingest", "--library", str(missing), "--data", str(data)]) == 2
    assert f"library folder not found: {missing}" in capsys.readouterr().err
    assert not data.exists() and not data.parent.exists()
