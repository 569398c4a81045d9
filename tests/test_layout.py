"""The code's layout holds: data flows one way (no import runs back up), and modules stay small.

Read from the source with `ast` (nothing is imported), so a new arrow against the flow, or a module
grown past the house limit, fails here with its name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 360  # the house style's "≤ ~350 lines"

# Lower layers first; a module may import its own layer or a lower one, never a higher one.
LAYERS: list[tuple[str, ...]] = [
    ("indexing",),
    ("assistant.errors", "assistant.settings", "assistant.embedding", "assistant.prompts", "assistant.llm",
     "assistant.openai_chat",
     "assistant.demo"),
    ("assistant.service",),
    ("assistant.answering",),
    ("assistant.answerer",),
    ("assistant.library_admin",),  # writing the library: below the surfaces, beside (not above) the service
    ("assistant.surfaces",),
    ("assistant.measure",),
]

# The measuring tools are run by `mcdewey eval` / `mcdewey bench`: the CLI launches them (lazily,
# inside those two commands), and nothing else in the product reaches them.
LAUNCHES = {"assistant.surfaces.cli": "assistant.measure"}


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in ("assistant", "indexing"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            out.append((name, path))
    return out


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from assistant import x`
    return {name for name in found if name.split(".")[0] in ("assistant", "indexing")}


def test_every_module_has_a_layer() -> None:
    assert [name for name, _ in _modules() if _layer(name) is None and name != "assistant"] == []


@pytest.mark.parametrize(("name", "path"), _modules(), ids=[name for name, _ in _modules()])
def test_no_import_runs_back_up(name: str, path: Path) -> None:
    own = _layer(name)
    if own is None:  # the bare `assistant` package: a docstring
        return
    launched = LAUNCHES.get(name)
    upward = sorted(
        i for i in _imports(path)
        if (rank := _layer(i)) is not None and rank > own and not (launched and i.startswith(launched))
    )
    assert upward == [], f"{name} (layer {own}) imports from a higher layer: {upward}"


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
