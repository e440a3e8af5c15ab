"""The OpenRLHF ``reward_func`` file, called as OpenRLHF calls it (openrlhf itself does not install here).

OpenRLHF 0.9+ (``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor._fetch_rewards_via_func``)
loads the file with ``importlib.util.spec_from_file_location`` and calls
``reward_func([query], [prompt], [label])`` once per sample through ``asyncio.to_thread``,
all samples of a prompt concurrently in one engine actor; older versions called it with
micro-batches. The upstream ranks shorter texts first (ranking-sensitive), so every reward
is checked against judging the whole group in one call.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest
import torch

from ra_agents import Judge, LimitError, VerdictError
from ra_agents.backends.openai_http import OpenAIHTTPBackend
from ra_agents.integrations import openrlhf
from ra_agents.integrations.openrlhf import GroupedReward
from ra_agents.testing import LoopbackOpenAI
from tests.server.test_rl_groups import GROUP, PRINCIPLE, _Counting, _group, _whole_group_rewards

LABEL = json.dumps({"principle": PRINCIPLE})


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[LoopbackOpenAI, _Counting]]:
    counting = _Counting()
    with LoopbackOpenAI(counting) as server:
        yield server, counting


def _judge(api_base: str) -> Judge:
    return Judge(OpenAIHTTPBackend("hosted_vllm/x", api_base=api_base))


def _load_like_openrlhf() -> ModuleType:
    """The file loaded the way OpenRLHF loads ``--remote_rm_url FILE.py``: a fresh module each time."""
    assert openrlhf.__file__ is not None
    spec = importlib.util.spec_from_file_location("reward_func", openrlhf.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _one_sample_per_call(reward_func: Any, samples: list[tuple[str, str, str]]) -> list[Any]:
    """OpenRLHF 0.9+'s ``_fetch_rewards_via_func``: one sample per call, each on a thread."""
    return await asyncio.gather(
        *(asyncio.to_thread(reward_func, [q], [p], [label]) for q, p, label in samples), return_exceptions=True
    )


def _samples(prompts: int) -> tuple[list[tuple[int, int, tuple[str, str, str]]], list[tuple[str, list[str]]]]:
    groups = [_group(300 + k) for k in range(prompts)]
    samples = [(k, j, (p + s, p, LABEL)) for k, (p, texts) in enumerate(groups) for j, s in enumerate(texts)]
    random.Random(3).shuffle(samples)
    return samples, groups


def test_the_file_loaded_like_openrlhf_rewards_one_sample_per_call_from_threads(
    upstream: tuple[LoopbackOpenAI, _Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    api_base, counting = upstream[0].api_base, upstream[1]
    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/x")
    monkeypatch.setenv("RA_AGENTS_API_BASE", api_base)
    monkeypatch.setenv("RA_AGENTS_REWARD_GROUP_SIZE", str(GROUP))
    monkeypatch.setenv("RA_AGENTS_REWARD_GROUP_WAIT_S", "20")
    module = _load_like_openrlhf()
    samples, groups = _samples(4)
    before = len(counting.sizes)

    outs = asyncio.run(_one_sample_per_call(module.reward_func, [s for _, _, s in samples]))

    assert counting.sizes[before:] == [GROUP] * 4  # one judge call per whole group
    expected = [_whole_group_rewards(api_base, p, texts) for p, texts in groups]
    for (k, j, _), out in zip(samples, outs, strict=True):
        assert isinstance(out, dict), out
        assert isinstance(out["rewards"], torch.Tensor) and out["rewards"].tolist() == [pytest.approx(expected[k][j])]
        assert out["scores"].tolist() == out["rewards"].tolist()
        assert out["extra_logs"]["group_size"].tolist() == [float(GROUP)]


def test_micro_batches_from_a_pool_of_threads(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    """Older OpenRLHF: micro-batches (here of 4, so each group spans two calls) from several threads."""
    api_base, counting = upstream[0].api_base, upstream[1]
    reward = GroupedReward(_judge(api_base), principle=PRINCIPLE, group_size=GROUP, wait_s=20)
    groups = [_group(400 + k) for k in range(3)]
    flat = [(p + s, p) for p, texts in groups for s in texts]
    chunks = [flat[i : i + 4] for i in range(0, len(flat), 4)]
    before = len(counting.sizes)

    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda c: reward([q for q, _ in c], [p for _, p in c]), chunks))

    assert counting.sizes[before:] == [GROUP] * 3
    got = [v for out in outs for v in out["rewards"].tolist()]
    expected = [v for p, texts in groups for v in _whole_group_rewards(api_base, p, texts)]
    assert got == pytest.approx(expected)


def test_an_incomplete_group_raises_for_its_samples_and_judges_nothing(
    upstream: tuple[LoopbackOpenAI, _Counting],
) -> None:
    counting = upstream[1]
    reward = GroupedReward(_judge(upstream[0].api_base), principle=PRINCIPLE, group_size=GROUP, wait_s=0.5)
    prompt, texts = _group(500)
    before = len(counting.sizes)

    outs = asyncio.run(_one_sample_per_call(reward, [(prompt + t, prompt, "") for t in texts[:3]]))

    assert counting.sizes[before:] == []
    assert all(isinstance(o, LimitError) and o.limit == "group_wait_s" and "3 of 8" in str(o) for o in outs)


def test_a_judge_failure_raises_for_every_sample_of_the_group(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    reward = GroupedReward(_judge(upstream[0].api_base), principle=PRINCIPLE, group_size=2, wait_s=5)
    prompt = "FAIL: "
    outs = asyncio.run(_one_sample_per_call(reward, [(prompt + t, prompt, "") for t in ("a", "bb")]))
    assert all(isinstance(o, VerdictError) for o in outs)


def test_waiting_samples_do_not_starve_a_small_pool(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    """16 single-sample calls on a pool of 2 threads: the waiting calls lend threads, both groups complete."""
    reward = GroupedReward(_judge(upstream[0].api_base), principle=PRINCIPLE, group_size=GROUP, wait_s=20)
    samples, _ = _samples(2)
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda s: reward([s[2][0]], [s[2][1]], [s[2][2]]), samples))
    assert all(out["extra_logs"]["group_size"].tolist() == [float(GROUP)] for out in outs)
