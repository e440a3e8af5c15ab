"""Whole reward groups on a multi-worker server (``ra-agents serve --workers 2``), over real HTTP.

The upstream is the loopback OpenAI-compatible server in this process. It ranks the texts it
is shown SHORTEST first and scores them 5, 4, 3, 2, 1, 1 ...: a ranking-sensitive principle,
under which a reward from part of a group differs from the reward in the whole group. Each
sample is posted in a request of its own, concurrently, as OpenRLHF 0.9+ does.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ra_agents import IncompleteGroupError, Judge, JudgeResult, UsageError
from ra_agents.backends.openai_http import OpenAIHTTPBackend
from ra_agents.groups import GroupBuffer
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion
from tests.server.test_client import _Server

PRINCIPLE = "Shorter is better: rank the shortest answer first."
GROUP = 8
PROMPTS = 6


def _shortest_first(body: dict[str, Any]) -> Reply:
    """Scores by length rank (5 for the shortest, then 4, 3, 2, 1, 1 ...); 'FAIL' in a prompt: an unusable answer."""
    shown = json.loads(body["messages"][1]["content"])
    if "FAIL" in json.dumps(shown):
        return chat_completion("no verdict here")
    ranking = sorted(shown["responses"], key=lambda name: (len(shown["responses"][name]), name))
    scores = {name: max(1, 5 - rank) for rank, name in enumerate(ranking)}
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": ranking}))


class _Counting:
    """The upstream's answer, counting calls and the number of candidates each call showed."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.sizes.append(len(json.loads(body["messages"][1]["content"])["responses"]))
        return _shortest_first(body)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[LoopbackOpenAI, _Counting]]:
    counting = _Counting()
    with LoopbackOpenAI(counting) as server:
        yield server, counting


@pytest.fixture(scope="module")
def server(upstream: tuple[LoopbackOpenAI, _Counting], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("rl") / "serve.log"
    flags = ("--workers", "2", "--group-size", str(GROUP), "--group-wait", "3", "--backend", "http")
    started = _Server(upstream[0].api_base, log, *flags)
    try:
        started.wait()
        yield started.url
    finally:
        started.stop()


def _group(k: int) -> tuple[str, list[str]]:
    """Prompt ``k`` and its samples, of distinct lengths (so the ranking is strict)."""
    prompt = f"<|user|>Question {k}: say something.<|assistant|>"
    return prompt, [f"answer {k}." + " more" * ((j * 3 + k) % GROUP) + f" #{j}" for j in range(GROUP)]


def _whole_group_rewards(api_base: str, prompt: str, samples: list[str]) -> list[float]:
    """Each sample's reward when the whole group is judged in one call (the reference)."""
    judge = Judge(OpenAIHTTPBackend("hosted_vllm/x", api_base=api_base))
    names = [f"s{i}" for i in range(len(samples))]
    result: JudgeResult = judge.judge(PRINCIPLE, prompt, dict(zip(names, samples, strict=True)))
    return [result.unit_score(n) for n in names]


async def _post_each(url: str, posts: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        return await asyncio.gather(*(client.post(f"{url}/v1/rewards/openrlhf", json=body) for body in posts))


def _sample_post(prompt: str, sample: str) -> dict[str, Any]:
    label = json.dumps({"principle": PRINCIPLE})
    return {"query": [prompt + sample], "prompts": [prompt], "labels": [label]}


def test_two_workers_give_every_sample_its_whole_groups_reward(
    server: str, upstream: tuple[LoopbackOpenAI, _Counting]
) -> None:
    api_base, counting = upstream[0].api_base, upstream[1]
    groups = [_group(k) for k in range(PROMPTS)]
    posts = [
        (k, j, _sample_post(prompt, sample))
        for k, (prompt, sample_list) in enumerate(groups)
        for j, sample in enumerate(sample_list)
    ]
    random.Random(7).shuffle(posts)  # interleaved across prompts, as generations finish
    before = len(counting.sizes)

    responses = asyncio.run(_post_each(server, [body for _, _, body in posts]))

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200][:3]
    calls = counting.sizes[before:]
    assert calls == [GROUP] * PROMPTS  # one judge call per group, each with the whole group
    expected = [_whole_group_rewards(api_base, prompt, samples) for prompt, samples in groups]
    for (k, j, _), response in zip(posts, responses, strict=True):
        out = response.json()
        assert out["rewards"] == [pytest.approx(expected[k][j])], (k, j)
        assert out["extra_logs"]["group_size"] == [float(GROUP)]
        assert 0.0 <= out["extra_logs"]["group_wait_s"][0] < 3.0
    # the ranking matters: a fragment's rewards would differ from the whole group's
    assert sorted(expected[0]) == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0]
    metrics = httpx.get(f"{server}/metrics").text
    assert 'ra_server_reward_group_size_bucket{le="8.0"}' in metrics
    assert "ra_server_reward_group_wait_seconds_bucket" in metrics


def test_a_group_that_cannot_complete_is_an_error_naming_it(
    server: str, upstream: tuple[LoopbackOpenAI, _Counting]
) -> None:
    prompt, samples = _group(100)
    before = len(upstream[1].sizes)

    responses = asyncio.run(_post_each(server, [_sample_post(prompt, s) for s in samples[:5]]))

    assert len(upstream[1].sizes) == before  # nothing judged: no reward from a fragment
    for r in responses:
        assert r.status_code == 408, r.text
        error = r.json()["error"]
        assert error["type"] == "LimitError" and error["limit"] == "group_wait_s"
        assert "5 of 8 samples" in error["message"] and "Question 100" in error["message"]
        assert "--group-size" in error["message"] and "--group-wait" in error["message"]
    scraped = [httpx.get(f"{server}/metrics").text for _ in range(10)]  # each worker has its own registry
    assert any('ra_server_reward_failures_total{reason="incomplete_group"}' in text for text in scraped)


def test_a_judge_failure_fails_the_whole_group_explicitly(server: str) -> None:
    prompt = "<|user|>FAIL please.<|assistant|>"
    samples = [f"text {'x' * j}" for j in range(GROUP)]

    responses = asyncio.run(_post_each(server, [_sample_post(prompt, s) for s in samples]))

    assert {r.status_code for r in responses} == {502}
    assert {r.json()["error"]["type"] for r in responses} == {"VerdictError"}


def test_caller_group_ids_and_sizes_key_the_groups(server: str, upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    prompt, samples = _group(200)
    before = len(upstream[1].sizes)
    posts = [{**_sample_post(prompt, s), "group_ids": [f"g{j % 2}"], "group_size": 4} for j, s in enumerate(samples)]

    responses = asyncio.run(_post_each(server, posts))

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert upstream[1].sizes[before:] == [4, 4]
    for half in (0, 1):
        group = samples[half::2]
        expected = _whole_group_rewards(upstream[0].api_base, prompt, group)
        got = [responses[j].json()["rewards"][0] for j in range(half, GROUP, 2)]
        assert got == pytest.approx(expected)


# ------------------------------------------------------------- the buffer alone


async def test_buffer_fails_an_incomplete_group_and_never_judges_it() -> None:
    calls: list[int] = []

    async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
        calls.append(len(responses))
        raise AssertionError("an incomplete group must not be judged")

    buffer = GroupBuffer(judge_group, group_size=3, wait_s=0.05)
    futures = [buffer.add("p", "q", "a"), buffer.add("p", "q", "b")]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert calls == []
    assert all(isinstance(o, IncompleteGroupError) and "2 of 3" in str(o) for o in outcomes)
    assert buffer.depth == 0


async def test_buffer_refuses_samples_that_disagree_on_their_groups_size() -> None:
    async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
        raise AssertionError

    buffer = GroupBuffer(judge_group, group_size=3, wait_s=0.05)
    first = buffer.add("p", "q", "a", group="g", size=2)
    with pytest.raises(UsageError, match="size"):
        await buffer.add("p", "q", "b", group="g", size=3)
    with pytest.raises(IncompleteGroupError):
        await first


def test_the_server_refuses_several_workers_without_a_group_owner() -> None:
    from ra_agents.remote.server.app import check_whole_groups
    from ra_agents.remote.server.settings import ServerSettings

    with pytest.raises(UsageError, match="ra-agents serve --workers"):
        check_whole_groups(ServerSettings(workers=2))
    check_whole_groups(ServerSettings(workers=1))


async def test_waiting_reward_samples_hold_no_request_slot_and_have_their_own_bound() -> None:
    """One request slot serves a whole group posted one sample per request; the waiting samples
    are bounded by max_waiting_samples instead (429 naming it), never by max_in_flight."""
    from ra_agents.remote.server.app import create_app
    from ra_agents.settings import ServerSettings
    from ra_agents.testing import ScriptedBackend, prefer

    def app(max_waiting: int) -> Any:
        settings = ServerSettings(max_in_flight=1, max_waiting_samples=max_waiting, group_size=4, group_wait_s=1.0)
        return create_app(settings, judge=Judge(ScriptedBackend(default=prefer(lambda text: "short" in text))))

    def body(prompt: str, response: str) -> dict[str, Any]:
        return {"query": [prompt + response], "prompts": [prompt], "principle": PRINCIPLE}

    transport = httpx.ASGITransport(app=app(max_waiting=8))
    async with httpx.AsyncClient(transport=transport, base_url="http://judge") as http:
        answers = await asyncio.gather(*(http.post("/v1/rewards/openrlhf", json=body("Q1 ", r)) for r in "abcd"))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]

    transport = httpx.ASGITransport(app=app(max_waiting=3))
    async with httpx.AsyncClient(transport=transport, base_url="http://judge") as http:
        waiting = [asyncio.create_task(http.post("/v1/rewards/openrlhf", json=body("Q2 ", r))) for r in "abc"]
        await asyncio.sleep(0.2)  # the three are waiting for their group's fourth sample
        refused = await http.post("/v1/rewards/openrlhf", json=body("Q3 ", "d"))
        late = await asyncio.gather(*waiting)
    assert refused.status_code == 429 and refused.json()["error"]["limit"] == "max_waiting_samples", refused.text
    assert [a.status_code for a in late] == [408] * 3  # their group never completed: an explicit failure
