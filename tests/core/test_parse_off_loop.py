"""Long answers are parsed off the event loop, and degenerate ones never stall a batch."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from ra_agents import GenerationSettings, Judge, JudgeResult, Message, VerdictError
from ra_agents import judge as judge_module
from ra_agents.testing import ScriptedBackend, shown_responses


def _answer(padding: str) -> Any:
    """An answer that first loops on ``padding`` and then gives a verdict preferring 'good'."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        scores = {m: 5 if text == "good" else 1 for m, text in shown.items()}
        ranking = sorted(scores, key=lambda m: -scores[m])
        return padding + json.dumps({"scores": scores, "best-to-worst": ranking})

    return answer


@pytest.fixture
def parse_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records (answer length, thread id) of every parse."""
    seen: list[tuple[int, int]] = []
    real = judge_module.protocol.parse_verdict

    def recording(text: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((len(text), threading.get_ident()))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(judge_module.protocol, "parse_verdict", recording)
    return seen


async def test_long_answers_are_parsed_off_the_loop_short_ones_on_it(parse_threads: list[tuple[int, int]]) -> None:
    loop_thread = threading.get_ident()
    backend = ScriptedBackend([_answer(""), _answer("{" * (1 << 20))])
    judge = Judge(backend, seed=1)

    short = await judge.ajudge("p", "q", {"a": "good", "b": "bad"})
    long = await judge.ajudge("p", "q", {"a": "bad", "b": "good"})

    assert short.ranking == ("a", "b") and long.ranking == ("b", "a")
    (short_len, short_thread), (long_len, long_thread) = parse_threads
    assert short_len < judge_module.PARSE_OFF_LOOP_CHARS < long_len
    assert short_thread == loop_thread
    assert long_thread != loop_thread


async def test_a_batch_with_degenerate_answers_keeps_every_result_in_order() -> None:
    """A model stuck in a loop on some requests: those fail with VerdictError, the rest succeed."""
    loop_junk = '"{"' * (1 << 18)
    think_junk = "<think>" * 150_000
    answers = [_answer(""), loop_junk, loop_junk, loop_junk, _answer("<think>" * 150_000), think_junk, think_junk]
    backend = ScriptedBackend(answers)
    judge = Judge(backend, seed=3, max_retries=1, concurrency=1)
    requests = [{"principle": "p", "prompt": "q", "responses": {"x": "good", "y": "bad"}} for _ in range(4)]

    results = await asyncio.wait_for(judge.ajudge_batch(requests), timeout=120)

    assert isinstance(results[0], JudgeResult) and results[0].ranking == ("x", "y")
    assert isinstance(results[1], VerdictError) and results[1].attempts == 2
    assert isinstance(results[2], JudgeResult) and results[2].retries == 1  # junk, then a verdict
    assert isinstance(results[3], VerdictError)
    assert len(backend.calls) == 7
