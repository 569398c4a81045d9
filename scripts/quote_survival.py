"""How many of a chat model's sentences survive the sentence check, asked with and without quotes.

Each question of tests/eval/support_quotes.jsonl written by hand (41, about 12 passages) is answered by
`MCDEWEY_LLM` (e.g. openai:<model> with MCDEWEY_OPENAI_BASE_URL) from the support set's 43 passages,
searched by shared words, once with the plain prompt and once asking for a verbatim quote per sentence
(`prompts/system_quoted.md`). Prints, per prompt, the model's sentences, those kept, and how (its
passage's own words / verified / quoted).

    MCDEWEY_LLM=openai:smollm2-135m MCDEWEY_OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 \\
        .venv/bin/python scripts/quote_survival.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answerer import embedding_similarity  # noqa: E402
from assistant.answering.citations import attribute  # noqa: E402
from assistant.answering.context import build_context, passage_label, render_messages  # noqa: E402
from assistant.answering.text import split_sentences, terms  # noqa: E402
from assistant.answering.verbatim import lift_quotes  # noqa: E402
from assistant.llm import LLMError, make_llm  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from indexing.chunk import Chunk  # noqa: E402
from indexing.embedder import Embedder  # noqa: E402

ROWS = ROOT / "tests" / "eval" / "support_quotes.jsonl"


def passages() -> list[Chunk]:
    seen: dict[str, Chunk] = {}
    for line in (ROOT / "tests" / "eval" / "support.jsonl").read_text().splitlines():
        row = json.loads(line)
        product, version, doc, *_ = row["source"].split("/")
        if row["passage"] not in seen:
            n = len(seen)
            seen[row["passage"]] = Chunk(chunk_id=f"{product}::{version}::{doc}::p::{n}", text=row["passage"],
                                         vendor="v", product=product, version=version, doc=doc,
                                         doc_title=f"{product} {version} {doc}", source=row["source"],
                                         page=(row["pages"] or [None])[0], ordinal=n)
    return list(seen.values())


def main() -> None:
    llm = make_llm(Settings())
    if llm is None:
        sys.exit("set MCDEWEY_LLM to a chat model")
    similarity = embedding_similarity(Embedder())
    library = passages()
    questions = list(dict.fromkeys(json.loads(x)["question"] for x in ROWS.read_text().splitlines()
                                   if json.loads(x).get("by") == "hand"))
    print(f"model {llm.name}, {len(questions)} questions")
    for quoting in (False, True):
        written = kept = 0
        how: Counter[str] = Counter()
        for question in questions:
            q = terms(question)
            ranked = sorted(library, key=lambda c: -len(q & terms(c.text)))[:3]
            context = build_context(ranked, question, llm.prompt_budget)
            try:
                raw = "".join(llm.stream(render_messages(question, context, "", quoting=quoting), 120))
            except LLMError as exc:
                print(f"  {question}: {exc.reason}")
                continue
            shown = [c for c, _ in context]
            result = attribute(raw, shown, labels=[passage_label(c) for c in shown], similarity=similarity,
                               question=question)
            n_written = len(split_sentences(lift_quotes(raw)[0]))
            n_kept = len(split_sentences(lift_quotes(result.answer)[0])) if result.answer else 0
            n_quoted = result.answer.count("(“")
            written += n_written
            kept += n_kept
            how["quoted"] += n_quoted
            print(f"  [{'quotes' if quoting else 'plain'}] {question}\n    model: {raw.strip()!r}\n"
                  f"    shown: {result.answer!r}")
        share = kept / written if written else 0.0
        print(f"{'with quotes' if quoting else 'plain prompt'}: {kept} of {written} sentences kept "
              f"({share:.0%}), {how['quoted']} of them on their quote")


if __name__ == "__main__":
    main()
