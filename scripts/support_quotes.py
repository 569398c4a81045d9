"""Write tests/eval/support_quotes.jsonl: every pair of support.jsonl with the quote most favourable to it.

For each labelled (sentence, passage) pair the quote is the run of one to three passage sentences that
shares the most content words with the sentence (ties: the shorter): what a model citing "its" passage
sentence would quote, and for an unsupported sentence the quote that gives it the best chance to slip
through. Rows written by hand (`"by": "hand"`: two quotes recombined, a negated or invented quote, a
question's false premise) are kept as they are. The split is by product: the check is tuned on `tune`
(bird, bind9, haproxy, postfix, postgresql) and only reported on `heldout` (bacula, gnuplot,
mit-kerberos, r).

    .venv/bin/python scripts/support_quotes.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answering.text import terms  # noqa: E402
from assistant.answering.verify import candidates  # noqa: E402

PAIRS = ROOT / "tests" / "eval" / "support.jsonl"
OUT = ROOT / "tests" / "eval" / "support_quotes.jsonl"
HELDOUT = {"bacula", "gnuplot", "mit-kerberos", "r"}


def split_of(source: str) -> str:
    return "heldout" if source.split("/")[0] in HELDOUT else "tune"


def best_quote(sentence: str, passage: str) -> str:
    wanted = terms(sentence)
    return max(candidates(passage), key=lambda c: (len(wanted & terms(c)), -len(c)))


def main() -> None:
    hand = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()] if OUT.exists() else []
    hand = [row for row in hand if row.get("by") == "hand"]
    rows = []
    for line in PAIRS.read_text().splitlines():
        pair = json.loads(line)
        rows.append({
            "id": f"Q-{pair['id']}", "pair": pair["id"], "source": pair["source"], "pages": pair["pages"],
            "passage": pair["passage"], "question": "", "sentence": pair["sentence"],
            "quotes": [best_quote(pair["sentence"], pair["passage"])], "supported": pair["supported"],
            "kind": pair["kind"], "split": split_of(pair["source"]), "by": "best-covering passage sentences",
            "why": pair["why"],
        })
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows + hand))
    print(f"{len(rows)} derived + {len(hand)} hand-written rows -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
