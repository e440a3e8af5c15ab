"""The public test doubles (``ra_agents.testing``) work as their documentation says."""

from __future__ import annotations

import doctest

import ra_agents.testing
from ra_agents import Judge
from ra_agents.testing import LoopbackOpenAI, verdict_reply


def test_module_examples_run() -> None:
    failed, attempted = doctest.testmod(ra_agents.testing)
    assert attempted > 0 and failed == 0


def test_loopback_verdict_follows_the_shuffled_names() -> None:
    with LoopbackOpenAI(verdict_reply(lambda text: 5 if "Paris" in text else 2), record=True) as server:
        judge = Judge.from_litellm("hosted_vllm/loopback", api_base=server.api_base)
        verdicts = [
            judge.judge("Be accurate.", "Capital of France?", {"lyon": "Lyon.", "paris": "Paris.", "nice": "Nice."})
            for _ in range(3)
        ]
    assert [v.best for v in verdicts] == ["paris"] * 3
    assert all(v.scores == {"lyon": 2, "paris": 5, "nice": 2} for v in verdicts)
    assert len(server.requests) == 3
