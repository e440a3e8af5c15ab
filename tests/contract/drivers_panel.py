"""Contract drivers for judge panels: a :class:`ra_agents.panel.Panel` is one more judge.

Every driver builds a panel of two members from the judge it is given (the remote variant
gets the :class:`ra_agents.Judging` passed in as both members), so the panel's requests, its
decisions through the acceptance rule and its verdicts over a real server are checked like
any adapter's.
"""

from __future__ import annotations

from typing import Any

from ra_agents import Judging, RAError, accepts
from ra_agents.panel import Panel
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver


async def _panel_prompt(judge: Judging) -> None:
    await Panel([judge, judge]).ajudge(PRINCIPLE, CONVERSATION, {"good": GOOD, "bad": BAD})


async def _panel_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    try:
        result = await Panel([judge, judge]).ajudge(PRINCIPLE, CONVERSATION, {"output": GOOD})
    except RAError:
        if on_judge_error == "raise":
            raise
        return on_judge_error == "fail_open"
    return accepts(result, "output", threshold)


async def _panel_remote(judge: Judging) -> Any:
    panel = Panel({"first": judge, "second": judge})
    result = await panel.ajudge(PRINCIPLE, CONVERSATION, [GOOD, BAD])
    [item] = await panel.ajudge_batch([{"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": [BAD, GOOD]}])
    assert not isinstance(item, RAError), item
    return {
        "scores": dict(result.scores),
        "ranking": list(result.ranking),
        "alpha": result.alpha,
        "members": {name: list(r.ranking) for name, r in result.members.items()},
        "batch": list(item.ranking),
    }


DRIVERS = [Driver("panel", prompt=_panel_prompt, decide=_panel_decide, remote=_panel_remote)]
