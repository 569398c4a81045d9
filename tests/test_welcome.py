"""The chat's welcome suggests questions the library being served answers, and they work as printed."""

from __future__ import annotations

import re

import pytest

from assistant.answerer import Answerer
from assistant.surfaces.chat import welcome_text
from assistant.surfaces.welcome import FOLLOW_UP, examples_for, examples_text

pytestmark = pytest.mark.slow


def test_the_welcome_examples_are_answered_as_printed(service: object) -> None:
    answerer = Answerer(service)  # type: ignore[arg-type]
    examples = examples_for(service, answerer)  # type: ignore[arg-type]
    text = welcome_text(service.list_library(), examples_text(examples))  # type: ignore[attr-defined]
    assert "**Try, in this library:**" in text
    printed = re.findall(r'\*"([^"]+)"\*', text.split("**Try, in this library:**", 1)[1])
    assert printed, text  # the welcome suggests questions of this library, not the demo's
    assert "McDewey User Guide" not in text.split("**This library holds**")[0]  # chainlit.md names no library
    history: list[dict[str, str]] = []
    for question in printed:
        result = answerer.ask(question, history=history if question == FOLLOW_UP else []).result
        assert not result.declined and result.citations, question
        if question == FOLLOW_UP:  # the follow-up names nothing of its own and still gets the value
            assert re.search(r"\d", result.answer.split("\n", 1)[1]), result.answer
        history = [{"role": "user", "content": question}, {"role": "assistant", "content": result.answer}]
    assert examples_for(service, answerer) is examples  # found once per published generation  # type: ignore[arg-type]
