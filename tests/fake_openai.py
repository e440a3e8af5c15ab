"""A scripted OpenAI-compatible server on loopback, for wire-level tests.

It answers from a queue of replies and records every request's headers and body. It
proves what our HTTP client does with real HTTP answers (errors, retries, headers); it
never stands in for a real model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ra_agents.testing import LoopbackOpenAI, chat_completion

__all__ = ["FakeOpenAI", "chat_reply"]

ScriptedReply = tuple[int, dict[str, Any]] | Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def chat_reply(content: str, *, reasoning: str | None = None, finish: str = "stop") -> tuple[int, dict[str, Any]]:
    return chat_completion(content, model="fake", reasoning=reasoning, finish=finish)


class FakeOpenAI(LoopbackOpenAI):
    """Answers with the queued :attr:`replies` in turn (HTTP 500 once they run out)."""

    def __init__(self) -> None:
        self.replies: deque[ScriptedReply] = deque()
        super().__init__(self._next, record=True)

    def _next(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self.replies:
            return 500, {"error": {"message": "no reply queued"}}
        reply = self.replies.popleft()
        return reply(body) if callable(reply) else reply
