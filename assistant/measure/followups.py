"""`mcdewey eval --followups CONVERSATIONS.jsonl`: is a follow-up answered, or the first question again?

Each line is a two-turn conversation (`tests/eval/followups.jsonl`): a first question, then a follow-up
that leans on it ("Can I do that for just one table?") with the follow-up's gold place. The first
question is asked, its answer becomes the history, and the follow-up is asked through the one entry
point (`Answerer`) like the chat asks it. Figures over the follow-ups:

- `cited_gold`: the second answer cites the follow-up's gold place (the goal: ≥ 0.8);
- `gold_retrieved`: retrieval returned it (the ceiling);
- `first_place_cited`: the second answer cites only the FIRST question's place while the follow-up's
  answer is elsewhere — the first question answered again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answerer import Answerer
from assistant.measure.jsonl import read_jsonl
from assistant.measure.retrieval import Question, answers

if TYPE_CHECKING:
    from assistant.service import LibraryService


@dataclass(frozen=True)
class Conversation:
    first: Question
    followup: Question


def _conversation(row: dict[str, Any]) -> Conversation:
    first = row["first"]
    return Conversation(
        Question(f"{row['id']}/1", first["question"], "first", first["source"], first.get("pages")),
        Question(row["id"], row["question"], row.get("style", "followup"), row["source"], row.get("pages")),
    )


def load_conversations(path: Path) -> list[Conversation]:
    return read_jsonl(path, "a two-turn conversation", _conversation)


def _elsewhere(c: Conversation) -> bool:
    """The follow-up's answer is not at the first question's place."""
    same_source = c.first.source == c.followup.source
    pages_meet = not c.first.pages or not c.followup.pages or bool(set(c.first.pages) & set(c.followup.pages))
    return not (same_source and pages_meet)


def evaluate_followups(service: LibraryService, conversations: Sequence[Conversation]) -> dict[str, Any]:
    answerer = Answerer(service)
    rows = []
    for c in conversations:
        first = answerer.ask(c.first.question).result
        history = [{"role": "user", "content": c.first.question}, {"role": "assistant", "content": first.answer}]
        asked = answerer.ask(c.followup.question, history=history)
        result = asked.result
        cited_gold = any(answers(ch, c.followup) for ch in result.citations)
        rows.append({
            "id": c.followup.id, "query": result.query, "declined": result.declined,
            "cited_gold": cited_gold,
            "gold_retrieved": any(answers(ch, c.followup) for ch in asked.retrieved),
            "first_place_cited": _elsewhere(c) and not cited_gold
            and any(answers(ch, c.first) for ch in result.citations),
            "answer": result.answer,
        })
    n = len(rows)

    def share(key: str) -> float | None:
        return round(sum(r[key] for r in rows) / n, 3) if n else None

    return {"conversations": n, "cited_gold": share("cited_gold"), "gold_retrieved": share("gold_retrieved"),
            "first_place_cited": sum(r["first_place_cited"] for r in rows),
            "declined": sum(r["declined"] for r in rows), "per_conversation": rows}


def followups_table(result: dict[str, Any]) -> str:
    lines = [f"{result['conversations']} conversations: second answer cites its gold place "
             f"{result['cited_gold']}, gold retrieved {result['gold_retrieved']}, first question answered "
             f"again {result['first_place_cited']}, declined {result['declined']}", "",
             "| id | cited gold | gold retrieved | first place cited | searched for |", "|---|---|---|---|---|"]

    def yes(v: bool) -> str:
        return "yes" if v else "no"

    lines += [f"| {r['id']} | {yes(r['cited_gold'])} | {yes(r['gold_retrieved'])} | {yes(r['first_place_cited'])} "
              f"| {r['query'][:90]} |" for r in result["per_conversation"]]
    return "\n".join(lines)
