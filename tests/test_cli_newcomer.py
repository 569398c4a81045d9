"""What a new team meets at the command line in its first hour: each command's --help says what it does,
`ask` takes the options `search` does, a busy port says how to pick another, references resolve."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.surfaces import cli

ROOT = Path(__file__).resolve().parents[1]
MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["ingest", "search", "ask", "eval", "serve", "bench", "demo"])
def test_each_command_help_opens_with_what_it_does(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(command, capsys=capsys)
    usage, _, rest = text.partition("\n\n")
    description = rest.split("\n\n")[0]
    assert usage.startswith(f"usage: mcdewey {command}")
    assert not description.startswith(("options:", "positional arguments:")), f"{command} --help has no description"
    assert len(description.split()) >= 4


def test_serve_help_names_the_port_host_and_public_url_settings(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help("serve", capsys=capsys).split())
    for name in ("MCDEWEY_PORT", "MCDEWEY_HOST", "MCDEWEY_PUBLIC_URL", "--port"):
        assert name in text


def test_ask_takes_top_k_doc_and_the_language_model(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help("ask", capsys=capsys)
    for option in ("--top-k", "--doc", "--llm"):
        assert option in text


@pytest.mark.slow
def test_ask_with_doc_top_k_and_llm_answers_from_that_document_only(
    library: Path, indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "table" is in both Acme versions' admin guide and the demo guide; --doc narrows to the release notes
    argv = ["ask", "How do I back up the configuration before upgrading?", "--library", str(library),
            "--data", str(indexed), "--llm", "none", "--top-k", "2", "--doc", "release-notes", "--json"]
    assert cli.main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    sources = {p["source"] for p in answer["passages"]}
    assert sources and all("/release-notes/" in s for s in sources), sources
    assert len(answer["passages"]) <= 2
    assert cli.main([*argv[:-1], "--doc", "no-such-doc"]) == 2
    assert "unknown doc 'no-such-doc'" in capsys.readouterr().err


def test_a_busy_port_is_one_clear_line_naming_port_and_setting(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
        run = subprocess.run([MCDEWEY, "serve", "--port", str(port), "--data", str(tmp_path / "data")],
                             capture_output=True, text=True, timeout=120, env={**env, "HOME": str(tmp_path)})
    assert run.returncode == 3
    assert f"port {port} on 127.0.0.1 is already in use" in run.stderr
    assert "--port" in run.stderr and "MCDEWEY_PORT" in run.stderr
    assert "Application startup complete" not in run.stderr + run.stdout  # stopped before the app loaded
    assert "Traceback" not in run.stderr


def test_readme_sections_named_in_the_build_files_exist() -> None:
    headings = set(re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(encoding="utf-8"), re.MULTILINE))
    comments = [line.partition("#")[2] for f in ("pyproject.toml", "Makefile")
                for line in (ROOT / f).read_text(encoding="utf-8").splitlines() if "#" in line]
    named = [name for c in comments for name in re.findall(r"README\W+\"([^\"]+)\"", c)]
    assert [n for n in named if n not in headings] == []
