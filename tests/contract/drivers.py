"""The judge contract's test drivers: one small function per adapter, run by ``test_contract.py``.

Every adapter group has a module ``drivers_<group>.py`` holding ``DRIVERS``, a list of
:class:`Driver`. ``test_contract.py`` runs each driver through the same cases, so a rule
that every adapter must follow (the prompt it sends, the decision it takes for a verdict,
its answers from a remote judge) fails CI as soon as one adapter drifts.

A driver gets a judge typed as :class:`ra_agents.Judging` (a local :class:`ra_agents.Judge`
or an HTTP client) and must use it as the adapter's judge: never build its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ra_agents import Completion, GenerationSettings, Judge, Judging, Message, TokenLogprob, Usage
from ra_agents.testing import ScriptedBackend, shown_responses

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a careful maths tutor."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is 2+2?"},
            {"type": "text", "text": "Answer in one word."},
        ],
    },
]
"""The one conversation every driver passes as the prompt (as its adapter's host holds it)."""

GOOD = "Four."
"""A candidate text: the answer the golden verdict prefers."""
BAD = "Five, probably."
"""A candidate text: the answer the golden verdict ranks below ``GOOD``."""

PRINCIPLE = "Correct answers first, then brevity."
"""The principle every driver judges under."""

OUTPUT_SCORE = 4
"""The integer score the decision judge gives the output under test."""
OUTPUT_EXPECTED = 3.9
"""Its logprob expected score: unit score (3.9 - 1) / 4 = 0.725, while the integer's is 0.75."""


@dataclass(frozen=True)
class Driver:
    """How the contract tests drive one adapter.

    Attributes:
        name: the adapter, as the test ids show it (``"langgraph.guard"``).
        prompt: runs the adapter once with :data:`CONVERSATION` as the prompt (in the shape its
            host gives it: messages, a prompt value, a state, an input dict ...) and the
            candidates :data:`GOOD` and :data:`BAD` (or only :data:`GOOD` for single-output
            adapters), judged under :data:`PRINCIPLE` by the given judge. Return value unused.
        decide: runs the adapter on the output :data:`GOOD` under :data:`PRINCIPLE` with the
            given threshold and judge-failure mode (``"fail_closed"``, ``"fail_open"``,
            ``"raise"``) and returns whether the adapter accepted it; with ``"raise"`` the
            judge's error propagates. ``None`` for adapters that take no accept/reject decision.
        remote: runs the adapter once on fixed inputs and returns a JSON-ready summary of what
            it produced (scores, feedback, the chosen answer ...), compared between a local
            judge and the HTTP client on the same backend. ``None`` when the adapter cannot
            take a remote judge (say why in its module).
    """

    name: str
    prompt: Callable[[Judging], Awaitable[Any]] | None = None
    decide: Callable[[Judging, float, str], Awaitable[bool]] | None = None
    remote: Callable[[Judging], Awaitable[Any]] | None = None


# ------------------------------------------------------------- scripted judges


def _tokens_for(answer: dict[str, Any], expected: dict[str, float]) -> list[TokenLogprob]:
    """Tokens of ``answer`` as JSON, with score-digit alternatives that give ``expected`` scores."""
    tokens: list[TokenLogprob] = [TokenLogprob('{"scores": {', 0.0)]
    for i, (name, score) in enumerate(answer["scores"].items()):
        tokens.append(TokenLogprob(("" if i == 0 else ", ") + f'"{name}": ', 0.0))
        mean = expected.get(name, float(score))
        # Mass on the score and its lower neighbour so that the mean is `mean`.
        low_share = round(score - mean, 6)
        top = {str(score): math.log(1 - low_share)} if low_share < 1 else {}
        if low_share > 0:
            top[str(score - 1)] = math.log(low_share)
        tokens.append(TokenLogprob(str(score), top.get(str(score), 0.0), top))
    tokens.append(TokenLogprob("}, " + json.dumps({"best-to-worst": answer["best-to-worst"]})[1:], 0.0))
    return tokens


def decision_judge() -> Judge:
    """A judge that scores a candidate holding :data:`GOOD` 4 (expected 3.9) and anything else 2 (expected 2.0).

    "Holding": a trajectory evaluator shows the answer as ``assistant: Four.``.
    """

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        shown = shown_responses(messages)
        scores = {m: (OUTPUT_SCORE if GOOD in t else 2) for m, t in shown.items()}
        expected = {m: (OUTPUT_EXPECTED if GOOD in t else 2.0) for m, t in shown.items()}
        verdict = {"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])}
        return Completion(
            text=json.dumps(verdict),
            usage=Usage(10, 5),
            model="scripted",
            finish_reason="stop",
            logprobs=_tokens_for(verdict, expected),
        )

    return Judge(ScriptedBackend(default=answer, supports_logprobs=True))


def failing_judge() -> Judge:
    """A judge whose backend always fails (the judge-failure cases)."""
    from ra_agents import BackendUnavailable

    return Judge(ScriptedBackend(default=BackendUnavailable("the judge is down (contract test)")), max_retries=0)


def recording_judge() -> tuple[Judge, ScriptedBackend]:
    """A judge that prefers :data:`GOOD`, and its backend (whose ``calls`` record every request)."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        scores = {m: (5 if t == GOOD else 1) for m, t in shown.items()}
        return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])})

    backend = ScriptedBackend(default=answer)
    return Judge(backend, seed=0), backend
