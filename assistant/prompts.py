"""Prompts live as files in `prompts/` so they can be read and changed without touching code.

They are `string.Template` texts (`$name` placeholders; `$$` for a literal dollar sign). Rendering is
strict both ways: a placeholder left without a value, or a value for a placeholder the file does not
have, raises `PromptError` — a renamed variable must fail loudly in a test, not reach a model as a
literal `$passages`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts"
PROMPT_SUFFIXES = (".md", ".txt")


class PromptError(ValueError):
    """A prompt file is missing, malformed, or was rendered with the wrong variables."""


def prompt_names(directory: Path = PROMPT_DIR) -> list[str]:
    """Names (file stems) of every prompt in `directory`."""
    return sorted(p.stem for p in directory.iterdir() if p.suffix in PROMPT_SUFFIXES and p.is_file())


@lru_cache(maxsize=64)
def _load(name: str, directory: Path) -> Template:
    for suffix in PROMPT_SUFFIXES:
        path = directory / f"{name}{suffix}"
        if path.is_file():
            template = Template(path.read_text(encoding="utf-8").rstrip("\n"))
            if not template.is_valid():
                raise PromptError(f"prompt {path} has a malformed placeholder (write $$ for a literal $)")
            return template
    raise PromptError(f"no prompt named {name!r} in {directory}")


def variables(name: str, /, *, prompt_dir: Path = PROMPT_DIR) -> set[str]:
    """The placeholders prompt `name` expects."""
    return set(_load(name, prompt_dir).get_identifiers())


def render(name: str, /, *, prompt_dir: Path = PROMPT_DIR, **values: str) -> str:
    """Fill prompt `name`; raises PromptError on a missing or an unexpected variable."""
    expected = variables(name, prompt_dir=prompt_dir)
    missing = expected - values.keys()
    unexpected = values.keys() - expected
    if missing or unexpected:
        raise PromptError(
            f"prompt {name!r}: missing {sorted(missing) or 'nothing'}, unexpected {sorted(unexpected) or 'nothing'}"
        )
    return _load(name, prompt_dir).substitute(values)
