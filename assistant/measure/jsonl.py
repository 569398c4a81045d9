"""Question and pair files: one JSON object a line, read into records, a bad line named by file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read_jsonl(path: Path, what: str, build: Callable[[dict[str, Any]], T]) -> list[T]:
    """`build(row)` for each non-blank line; ValueError '<path>:<line>: not <what> (<reason>)' otherwise."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(build(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not {what} ({exc})") from exc
    return out
