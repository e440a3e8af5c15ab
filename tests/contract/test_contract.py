"""One judge, everywhere: the same rules through every adapter, local or remote.

- The golden prompt: one conversation reaches the model as one text through every adapter
  (and byte-identical requests wherever the candidates are the same).
- The decision table: the same verdict and threshold give the same accept/reject decision
  in every adapter that takes one, and a judge failure means the same thing everywhere.
- The remote judge: every adapter gives the same result with the HTTP client (a real
  ``ra-agents serve`` process) as with a local judge on the same backend.

The drivers live in ``drivers_*.py`` beside this file (see ``drivers.py``).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ra_agents import AsyncClient, Client, Judge, Message, RAError, prompt_text
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion
from tests.contract import drivers as d
from tests.server.test_client import _Server

ROOT = Path(__file__).resolve().parents[2]


def _load() -> list[d.Driver]:
    found: list[d.Driver] = []
    package = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda i: i.name):
        if info.name.startswith("drivers_"):
            found.extend(importlib.import_module(f"tests.contract.{info.name}").DRIVERS)
    return found


DRIVERS = _load()
EXPECTED_ADAPTERS = {
    "judge",
    "panel",
    "langgraph.rank_node",
    "langgraph.plan_rank_node",
    "langgraph.guard",
    "langgraph.policy_node",
    "langgraph.agents",
    "langsmith.evaluator",
    "langsmith.aevaluator",
    "langsmith.multi",
    "langsmith.comparative",
    "openevals.evaluator",
    "openevals.aevaluator",
    "trajectory.evaluator",
    "trajectory.rank",
    "lcel.runnable",
    "lcel.best_of_n",
    "guardrails.validator",
    "guardrails.policy_validator",
    "litellm.guardrail",
    "trl.reward",
    "trl.multi_reward",
    "ray.judge_dataset",
    "verl.reward",
}
"""Every entry point must have a driver: a new adapter without one fails here."""


def _ids(kind: str) -> list[Any]:
    return [pytest.param(x, id=x.name) for x in DRIVERS if getattr(x, kind) is not None]


def test_every_entry_point_has_a_driver() -> None:
    names = {x.name for x in DRIVERS}
    assert len(names) == len(DRIVERS), "two drivers share a name"
    missing = EXPECTED_ADAPTERS - names
    assert not missing, f"no contract driver for {sorted(missing)}"


# ------------------------------------------------------------ the golden prompt

EXPECTED_PROMPT = prompt_text(d.CONVERSATION)
_GOLDEN_REQUESTS: dict[str, list[Message]] = {}


def test_the_golden_prompt_reads_as_the_conversation() -> None:
    assert EXPECTED_PROMPT == ("system: You are a careful maths tutor.\nuser: What is 2+2?\n  Answer in one word.")


@pytest.mark.parametrize("driver", _ids("prompt"))
async def test_one_conversation_reaches_the_model_as_one_prompt(driver: d.Driver) -> None:
    judge, backend = d.recording_judge()
    assert driver.prompt is not None
    await driver.prompt(judge)
    assert backend.calls, f"{driver.name} never called the judge"
    for messages, _settings in backend.calls:
        body = json.loads(messages[1]["content"])
        assert body["prompt"] == EXPECTED_PROMPT, f"{driver.name} sent another prompt"
        assert body["principle"] == d.PRINCIPLE
    first = backend.calls[0][0]
    texts = sorted(json.loads(first[1]["content"])["responses"].values())
    if texts == sorted([d.GOOD, d.BAD]):  # the plain two-candidate request: byte-identical everywhere
        golden = _GOLDEN_REQUESTS.setdefault("two", first)
        assert first == golden, f"{driver.name} sent different bytes for the same request"


# ---------------------------------------------------------- the decision table

DECISIONS = [(0.5, True), (0.7, True), (0.72, True), (0.73, False), (0.75, False), (0.9, False)]
"""The output scores 4 with expected score 3.9: unit score 0.725 (the integer's would be 0.75)."""


@pytest.mark.parametrize(("threshold", "accepted"), DECISIONS)
@pytest.mark.parametrize("driver", _ids("decide"))
async def test_the_same_verdict_gets_the_same_decision(driver: d.Driver, threshold: float, accepted: bool) -> None:
    assert driver.decide is not None
    assert await driver.decide(d.decision_judge(), threshold, "fail_closed") is accepted


@pytest.mark.parametrize(("mode", "accepted"), [("fail_closed", False), ("fail_open", True)])
@pytest.mark.parametrize("driver", _ids("decide"))
async def test_a_judge_failure_means_the_same_everywhere(driver: d.Driver, mode: str, accepted: bool) -> None:
    assert driver.decide is not None
    assert await driver.decide(d.failing_judge(), 0.5, mode) is accepted


@pytest.mark.parametrize("driver", _ids("decide"))
async def test_raise_lets_the_judge_error_through(driver: d.Driver) -> None:
    assert driver.decide is not None
    with pytest.raises(RAError, match="the judge is down"):
        await driver.decide(d.failing_judge(), 0.5, "raise")


# ------------------------------------------------------------- the remote judge


def _prefer_good(body: dict[str, Any]) -> Reply:
    shown = json.loads(body["messages"][1]["content"])["responses"]
    scores = {name: 5 if d.GOOD in text else 1 for name, text in shown.items()}
    ranking = sorted(shown, key=lambda name: -scores[name])
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": ranking}))


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackOpenAI]:
    with LoopbackOpenAI(_prefer_good) as server:
        yield server


@pytest.fixture(scope="module")
def judge_server(upstream: LoopbackOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = _Server(upstream.api_base, tmp_path_factory.mktemp("contract") / "serve.log")
    try:
        server.wait()
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["Client", "AsyncClient"])
@pytest.mark.parametrize("driver", _ids("remote"))
async def test_every_adapter_takes_a_remote_judge(
    driver: d.Driver, kind: str, upstream: LoopbackOpenAI, judge_server: str
) -> None:
    assert driver.remote is not None
    local = await driver.remote(Judge.from_litellm("hosted_vllm/x", api_base=upstream.api_base))
    client: Client | AsyncClient = Client(judge_server) if kind == "Client" else AsyncClient(judge_server)
    try:
        remote = await driver.remote(client)
    finally:
        if isinstance(client, Client):
            client.close()
        else:
            await client.aclose()
    assert remote == local
