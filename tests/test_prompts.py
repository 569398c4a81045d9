"""Every prompt file renders, and rendering fails loudly on a wrong set of variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import prompts
from assistant.prompts import PromptError


def test_the_four_prompts_exist() -> None:
    assert {"system", "answer", "condense", "refusal"} <= set(prompts.prompt_names())


@pytest.mark.parametrize("name", prompts.prompt_names())
def test_every_prompt_renders_with_its_variables(name: str) -> None:
    values = {var: f"<{var} value>" for var in prompts.variables(name)}
    text = prompts.render(name, **values)
    assert text.strip()
    assert "$" not in text, "an unfilled placeholder would reach the model"
    for value in values.values():
        assert value in text


def test_missing_variable_raises() -> None:
    with pytest.raises(PromptError, match="missing"):
        prompts.render("answer", passages="[1] x", question="q")  # no scope


def test_unexpected_variable_raises() -> None:
    with pytest.raises(PromptError, match="unexpected"):
        prompts.render("system", question="q")


def test_unknown_prompt_raises() -> None:
    with pytest.raises(PromptError, match="no prompt named"):
        prompts.render("no-such-prompt")


def test_values_with_dollar_signs_are_inserted_verbatim() -> None:
    """Passages quote shells and config files full of `$`: values are never re-parsed."""
    text = prompts.render("answer", passages="[1] echo $HOME ${PATH}", scope="", question="what is $x?")
    assert "echo $HOME ${PATH}" in text and "what is $x?" in text


def test_malformed_placeholder_in_a_prompt_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("Price: $5 for ${name}\n")
    with pytest.raises(PromptError, match="malformed"):
        prompts.render("broken", prompt_dir=tmp_path, name="x")


def test_system_prompt_fences_passages_as_data() -> None:
    system = prompts.render("system").lower()
    assert "data" in system and "ignore" in system and "[1]" in system
    answer = prompts.render("answer", passages="P", scope="", question="Q")
    assert answer.index("<passages>") < answer.index("P") < answer.index("</passages>") < answer.index("Q")
