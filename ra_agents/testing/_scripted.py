"""A scripted backend that replays queued answers, for driving logic in tests and demos.

It never stands in for a real model: it proves what the judge does with an answer,
not that any model gives it.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from .._types import Completion, GenerationSettings, Message, Usage
from ..protocol import RANKING_KEY

__all__ = ["ScriptedBackend"]

Answer = str | Completion | BaseException | Callable[[Sequence[Message], GenerationSettings], Any]


class ScriptedBackend:
    """Returns queued answers in order and records every call.

    Each queued answer is a text, a :class:`Completion`, an exception to raise, or a
    function of ``(messages, settings)`` returning one of those (to answer by what
    the judge actually sent, e.g. by the shuffled names).

    Example:
        >>> backend = ScriptedBackend()
        >>> backend.enqueue('{"scores": {"model-1": 5}, "best-to-worst": ["model-1"]}')
    """

    provider = "scripted"

    def __init__(
        self,
        answers: Sequence[Answer] = (),
        *,
        model: str = "scripted",
        supports_json_schema: bool = True,
        supports_logprobs: bool = False,
        delay_s: float = 0.0,
        default: Answer | None = None,
    ) -> None:
        self.model = model
        self.supports_json_schema = supports_json_schema
        self.supports_logprobs = supports_logprobs
        self.delay_s = delay_s
        self.default = default
        self._answers: deque[Answer] = deque(answers)
        self.calls: list[tuple[list[Message], GenerationSettings]] = []

    def enqueue(self, *answers: Answer) -> None:
        """Queue answers for the next calls."""
        self._answers.extend(answers)

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        self.calls.append((list(messages), dict(settings)))  # type: ignore[arg-type]
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._answers:
            answer: Any = self._answers.popleft()
        elif self.default is not None:
            answer = self.default
        else:
            raise AssertionError("ScriptedBackend ran out of answers; enqueue more or set default=")
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(messages, settings)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Completion):
            return answer
        return Completion(text=str(answer), usage=Usage(10, 5), model=self.model, finish_reason="stop")


def shown_responses(messages: Sequence[Message]) -> dict[str, str]:
    """The masked name -> text mapping the judge sent (for answers that depend on it)."""
    return dict(json.loads(messages[1]["content"])["responses"])


def verdict_json(shown: dict[str, str], score: Callable[[str], int]) -> str:
    """A verdict scoring each shown text with ``score(text)``, ranked by score (ties by name order)."""
    scores = {name: score(text) for name, text in shown.items()}
    ranking = sorted(shown, key=lambda name: -scores[name])
    return json.dumps({"scores": scores, RANKING_KEY: ranking})


def prefer(predicate: Callable[[str], bool], high: int = 5, low: int = 1) -> Callable[..., str]:
    """An answer function that scores texts matching ``predicate`` high, others low."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        return verdict_json(shown_responses(messages), lambda text: high if predicate(text) else low)

    return answer


__all__ += ["prefer", "shown_responses", "verdict_json"]
