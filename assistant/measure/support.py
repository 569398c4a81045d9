"""`mcdewey eval --support PAIRS.jsonl`: does the sentence check keep only what the passage says?

Each line of PAIRS is a labelled (sentence, passage, supported) pair read off the manuals
(`tests/eval/support.jsonl`), optionally with the verbatim `quotes` a model gave for it, the `question`
and the passage's name (`about`), and a `split` (`tests/eval/support_quotes.jsonl`: `tune`, `heldout`).
The check (`assistant.answering.verify`, then `verbatim` on the quotes) runs on every pair with the
real embedding model; a pair it keeps is a "shown" sentence. Figures:

- `precision`: of the sentences it keeps, the share the passage really supports (the goal: ≥ 0.97,
  since a kept unsupported sentence is a cited falsehood);
- `recall`: of the supported sentences, the share it keeps (what honesty costs);
- per kind (verbatim, paraphrase, recombined, negation, wrong_value, unrelated, invented_command):
  how many it kept, and a sweep over the cosine threshold, so the constant is chosen on this set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answering.verbatim import backed_by_any
from assistant.answering.verify import MIN_COSINE, Check, Similarity, verify
from assistant.measure.jsonl import read_jsonl

SWEEP = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


@dataclass(frozen=True)
class Pair:
    id: str
    sentence: str
    passage: str
    supported: bool
    kind: str
    quotes: tuple[str, ...] = ()  # the verbatim quotes a model gave (support_quotes.jsonl)
    question: str = ""
    about: str = ""
    split: str = ""


def load_pairs(path: Path) -> list[Pair]:
    return read_jsonl(path, "a support pair", lambda row: Pair(
        row["id"], row["sentence"], row["passage"], bool(row["supported"]), row["kind"],
        tuple(row.get("quotes") or ()), row.get("question", ""), row.get("about", ""), row.get("split", "")))


def check(pair: Pair, similarity: Similarity, min_cosine: float = MIN_COSINE) -> Check:
    """The answer check on one pair: the passage's sentence, else (given) its verbatim quote."""
    said = verify(pair.sentence, pair.passage, similarity, min_cosine=min_cosine)
    if said.ok or not pair.quotes:
        return said
    return backed_by_any(pair.sentence, pair.quotes, pair.passage, pair.question, similarity, pair.about)


def _score(kept: Sequence[bool], pairs: Sequence[Pair]) -> dict[str, Any]:
    true_kept = sum(1 for k, p in zip(kept, pairs, strict=True) if k and p.supported)
    shown = sum(kept)
    supported = sum(p.supported for p in pairs)
    return {
        "kept": shown,
        "precision": round(true_kept / shown, 3) if shown else None,
        "recall": round(true_kept / supported, 3) if supported else None,
        "unsupported_kept": shown - true_kept,
    }


def evaluate_support(pairs: Sequence[Pair], similarity: Similarity, sweep: bool = True) -> dict[str, Any]:
    """The check at its threshold, per kind, and (`sweep`) over other cosine thresholds."""
    checks = [check(p, similarity) for p in pairs]
    kept = [c.ok for c in checks]
    without_quotes = [verify(p.sentence, p.passage, similarity).ok for p in pairs]
    splits = {s: _score([k for k, p in zip(kept, pairs, strict=True) if p.split == s], [p for p in pairs
              if p.split == s]) for s in sorted({p.split for p in pairs} - {""})}
    kinds: dict[str, dict[str, int]] = {}
    for pair, ok in zip(pairs, kept, strict=True):
        row = kinds.setdefault(pair.kind, {"pairs": 0, "kept": 0, "supported": 0})
        row["pairs"] += 1
        row["kept"] += ok
        row["supported"] += pair.supported
    swept = {t: _score([check(p, similarity, min_cosine=t).ok for p in pairs], pairs)
             for t in (SWEEP if sweep else ())}
    return {
        "pairs": len(pairs), "min_cosine": MIN_COSINE, **_score(kept, pairs), "kinds": kinds,
        "without_quotes": _score(without_quotes, pairs), "splits": splits,
        "sweep": {str(t): v for t, v in swept.items()},
        "wrongly_kept": [{"id": p.id, "kind": p.kind, "sentence": p.sentence, "how": c.how}
                         for p, c in zip(pairs, checks, strict=True) if c.ok and not p.supported],
    }


def support_table(result: dict[str, Any]) -> str:
    lines = [f"{result['pairs']} pairs, min_cosine {result['min_cosine']}: precision {result['precision']}, "
             f"recall {result['recall']}, unsupported kept {result['unsupported_kept']}", "",
             f"without the quotes: precision {result['without_quotes']['precision']}, recall "
             f"{result['without_quotes']['recall']}", "",
             *[f"{s}: precision {v['precision']}, recall {v['recall']}, kept {v['kept']}"
               for s, v in result["splits"].items()], "",
             "| kind | pairs | supported | kept |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['pairs']} | {v['supported']} | {v['kept']} |" for k, v in sorted(result["kinds"].items())]
    lines += ["", "| min_cosine | kept | precision | recall |", "|---|---|---|---|"]
    lines += [f"| {t} | {v['kept']} | {v['precision']} | {v['recall']} |" for t, v in result["sweep"].items()]
    lines += [f"- kept but unsupported: {w['id']} ({w['kind']}, {w['how']}): {w['sentence']}"
              for w in result["wrongly_kept"]]
    return "\n".join(lines)
