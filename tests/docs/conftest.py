"""A stand-in model server for the README's code and the examples.

One loopback OpenAI-compatible server (``ra_agents.testing.LoopbackOpenAI``) per session
answers both kinds of request the documentation makes:

- a judge request (the judge's user message is the JSON of the masked candidates): a
  verdict from :func:`stand_in_score` through ``verdict_reply``'s own helpers;
- a generation request (the examples' and the README's generators): a short answer, or,
  when the request carries the tool-call instructions, a calculator call and then a final
  answer once a tool result is in the conversation.

It proves the documented code runs end to end through the configured backend (the
judge settings ``RA_AGENTS_MODEL`` / ``RA_AGENTS_API_BASE``), not that a model judges well.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from ra_agents import Message
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion, shown_responses, verdict_json

ANSWERS = (
    "Sunlight scatters off air molecules, and blue light scatters most.",
    "Rayleigh scattering.",
    "Because the ocean reflects it, probably.",
)
"""The stand-in generator's answers, in turn."""


def stand_in_score(text: str) -> int:
    """The stand-in judge's score: short texts score high (5 up to 40 characters, 3 up to 120, else 1)."""
    return 5 if len(text) <= 40 else 3 if len(text) <= 120 else 1


def _judge_candidates(messages: list[dict[str, Any]]) -> dict[str, str] | None:
    """The masked candidates when this is a judge request, else ``None``."""
    try:
        shown = shown_responses(cast("list[Message]", messages))  # the wire's messages, as the judge sent them
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return shown if isinstance(shown, dict) else None


class StandIn:
    """The respond function of the stand-in server, counting what it answered."""

    def __init__(self) -> None:
        self.judge_calls = 0
        self.generations = 0
        self._answers = itertools.cycle(ANSWERS)
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        shown = _judge_candidates(messages)
        with self._lock:
            if shown is not None:
                self.judge_calls += 1
                return chat_completion(verdict_json(shown, stand_in_score))
            self.generations += 1
            if "final_answer" in json.dumps(messages[:1]):  # the tool-call instructions
                if any(str(m.get("content")).startswith("Tool result") for m in messages):
                    return chat_completion(json.dumps({"name": "final_answer", "args": {"answer": "17 * 23 = 391."}}))
                return chat_completion(json.dumps({"name": "calculator", "args": {"expression": "17 * 23"}}))
            return chat_completion(next(self._answers))

    def counts(self) -> tuple[int, int]:
        """(judge calls, generations) so far."""
        with self._lock:
            return self.judge_calls, self.generations


@pytest.fixture(scope="session")
def stand_in() -> StandIn:
    """The stand-in server's respond function (its counters)."""
    return StandIn()


@pytest.fixture(scope="session")
def stand_in_server(stand_in: StandIn) -> Iterator[LoopbackOpenAI]:
    """The stand-in model server, one per session."""
    with LoopbackOpenAI(stand_in) as server:
        yield server


@pytest.fixture(scope="session")
def judge_env(stand_in_server: LoopbackOpenAI) -> dict[str, str]:
    """The judge settings that point ``Judge()`` and every generator at the stand-in server."""
    return {
        "RA_AGENTS_MODEL": "hosted_vllm/loopback",
        "RA_AGENTS_API_BASE": stand_in_server.api_base,
        "RA_AGENTS_TIMEOUT": "30",
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LANGSMITH_TRACING": "false",
    }
