"""Contract drivers for the core: the judge itself, its batch and several-principle calls, policies."""

from __future__ import annotations

from typing import Any

from ra_agents import Judging, Policy, RAError, Rule, accepts
from ra_agents.policy import acheck_policy
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver


async def _judge_prompt(judge: Judging) -> None:
    await judge.ajudge(PRINCIPLE, CONVERSATION, {"good": GOOD, "bad": BAD})


async def _judge_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    try:
        result = await judge.ajudge(PRINCIPLE, CONVERSATION, {"output": GOOD})
    except RAError:
        if on_judge_error == "raise":
            raise
        return on_judge_error == "fail_open"
    return accepts(result, "output", threshold)


async def _judge_remote(judge: Judging) -> Any:
    result = await judge.ajudge(PRINCIPLE, CONVERSATION, [GOOD, BAD])
    return {"scores": dict(result.scores), "ranking": list(result.ranking), "principle": result.principle}


async def _batch_prompt(judge: Judging) -> None:
    [item] = await judge.ajudge_batch([{"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": [GOOD, BAD]}])
    assert not isinstance(item, RAError), item


async def _batch_remote(judge: Judging) -> Any:
    items = await judge.ajudge_batch(
        [
            {"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": [BAD, GOOD]},
            {"principle": PRINCIPLE, "prompt": "x", "responses": []},
        ]
    )
    return [i.to_dict()["ranking"] if not isinstance(i, RAError) else type(i).__name__ for i in items]


async def _many_prompt(judge: Judging) -> None:
    await judge.ajudge_many({"main": PRINCIPLE}, CONVERSATION, [GOOD, BAD])


async def _many_remote(judge: Judging) -> Any:
    result = await judge.ajudge_many({"a": PRINCIPLE, "b": (PRINCIPLE, 3.0)}, CONVERSATION, [BAD, GOOD])
    return {"ranking": list(result.ranking), "weights": dict(result.weights), "scores": dict(result.scores)}


async def _policy_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    try:
        outcome = await acheck_policy(judge, Policy((Rule("main", PRINCIPLE, threshold),)), CONVERSATION, GOOD)
    except RAError:
        if on_judge_error == "raise":
            raise
        return on_judge_error == "fail_open"
    return outcome.passed


async def _policy_prompt(judge: Judging) -> None:
    await acheck_policy(judge, {"main": PRINCIPLE}, CONVERSATION, GOOD, reference=BAD)


async def _policy_remote(judge: Judging) -> Any:
    outcome = await acheck_policy(judge, {"main": PRINCIPLE}, CONVERSATION, GOOD, reference=BAD)
    return outcome.to_dict()


DRIVERS = [
    Driver("judge", prompt=_judge_prompt, decide=_judge_decide, remote=_judge_remote),
    Driver("judge.batch", prompt=_batch_prompt, remote=_batch_remote),
    Driver("judge.many", prompt=_many_prompt, remote=_many_remote),
    Driver("policy", prompt=_policy_prompt, decide=_policy_decide, remote=_policy_remote),
]
