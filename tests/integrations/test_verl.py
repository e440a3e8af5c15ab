"""The verl reward adapter: groups by ``uid``, one listwise call per group, failures masked.

In CI verl is not installed, so the batch is a stand-in with verl's ``DataProto`` layout
(``batch`` with left-padded ``prompts``, right-padded ``responses`` and the ``attention_mask``
over both; ``non_tensor_batch`` with ``uid`` and ``data_source``). The tests marked with
``verl`` at the end build verl's own ``DataProto`` and register the managers in verl's
registries; they run where verl is installed (a separate environment: verl pins its own
torch and vLLM, so it is no extra of ours) and are skipped here otherwise.

The upstream ranks shorter texts first (ranking-sensitive), so every reward is checked
against judging the whole group in one call.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from ra_agents import Judge, UsageError
from ra_agents.backends.openai_http import OpenAIHTTPBackend
from ra_agents.integrations import verl as ra_verl
from ra_agents.integrations.verl import EXTRA_KEYS, UidGroupReward
from ra_agents.testing import LoopbackOpenAI, ScriptedBackend
from tests.server.test_rl_groups import PRINCIPLE, _Counting, _group, _whole_group_rewards

HAS_VERL = importlib.util.find_spec("verl") is not None
SIZE = 4


class CharTokenizer:
    """Token ids are character codes; 0 is padding (a special token)."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids if i or not skip_special_tokens)


@dataclass
class FakeDataProto:
    """verl's ``DataProto`` layout: tensors in ``batch``, numpy object arrays in ``non_tensor_batch``."""

    batch: dict[str, torch.Tensor]
    non_tensor_batch: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.batch["responses"].shape[0])


def _tensors(prompts: list[str], responses: list[str]) -> dict[str, torch.Tensor]:
    """Left-padded prompts, right-padded responses, and the attention mask over both (verl's layout)."""
    plen = max(len(p) for p in prompts)
    rlen = max(len(r) for r in responses) + 3  # padding after every response
    prompt_ids = torch.zeros(len(prompts), plen, dtype=torch.long)
    response_ids = torch.zeros(len(prompts), rlen, dtype=torch.long)
    mask = torch.zeros(len(prompts), plen + rlen, dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        prompt_ids[i, plen - len(p) :] = torch.tensor([ord(c) for c in p])
        response_ids[i, : len(r)] = torch.tensor([ord(c) for c in r])
        mask[i, plen - len(p) : plen + len(r)] = 1
    return {"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask}


def _batch(groups: list[tuple[str, list[str]]], seed: int = 5) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The groups' samples shuffled (as after a rollout), with their ``uid``; and each row's (group, sample)."""
    rows = [(k, j) for k, (_, texts) in enumerate(groups) for j in range(len(texts))]
    random.Random(seed).shuffle(rows)
    tensors = _tensors([groups[k][0] for k, _ in rows], [groups[k][1][j] for k, j in rows])
    non_tensor = {
        "uid": np.array([f"uid-{k}" for k, _ in rows], dtype=object),
        "data_source": np.array(["principle"] * len(rows), dtype=object),
    }
    return {"batch": tensors, "non_tensor_batch": non_tensor}, rows


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[LoopbackOpenAI, _Counting]]:
    counting = _Counting()
    with LoopbackOpenAI(counting) as server:
        yield server, counting


def _judge(api_base: str) -> Judge:
    return Judge(OpenAIHTTPBackend("hosted_vllm/x", api_base=api_base))


def _groups(first: int, n: int) -> list[tuple[str, list[str]]]:
    return [(prompt, texts[:SIZE]) for prompt, texts in (_group(first + k) for k in range(n))]


def _check_rewards(out: dict[str, Any], data: Any, rows: list[tuple[int, int]], expected: list[list[float]]) -> None:
    """Each reward equals whole-group judging and sits at the sample's last valid response token."""
    tensor, extra = out["reward_tensor"], out["reward_extra_info"]
    assert tensor.shape == data.batch["responses"].shape and tensor.dtype == torch.float32
    prompt_len = data.batch["prompts"].shape[-1]
    lengths = data.batch["attention_mask"][:, prompt_len:].sum(-1).tolist()
    for i, (k, j) in enumerate(rows):
        assert tensor[i, lengths[i] - 1].item() == pytest.approx(expected[k][j]), (k, j)
        assert tensor[i].sum().item() == pytest.approx(expected[k][j])  # nowhere else
        assert extra["score"][i] == pytest.approx(expected[k][j])
        assert extra["group_size"][i] == SIZE and extra["ra_failed"][i] == 0.0
    assert set(extra) == set(EXTRA_KEYS)
    for k in range(len(expected)):  # ranks 1..SIZE within each group, best first
        ranks = {j: extra["rank"][i] for i, (kk, j) in enumerate(rows) if kk == k}
        assert sorted(ranks.values()) == [1.0, 2.0, 3.0, 4.0]
        best = max(ranks, key=lambda j: expected[k][j])
        assert ranks[best] == 1.0


def test_each_uid_group_is_judged_in_one_call_and_each_sample_gets_its_whole_groups_reward(
    upstream: tuple[LoopbackOpenAI, _Counting],
) -> None:
    api_base, counting = upstream[0].api_base, upstream[1]
    groups = _groups(600, 3)
    fields, rows = _batch(groups)
    data = FakeDataProto(**fields)
    reward = UidGroupReward(_judge(api_base), CharTokenizer(), principle=PRINCIPLE, concurrency=2)
    before = len(counting.sizes)

    out = reward(data, return_dict=True)

    assert counting.sizes[before:] == [SIZE] * 3  # one call per uid group, each with the whole group
    _check_rewards(out, data, rows, [_whole_group_rewards(api_base, p, texts) for p, texts in groups])
    assert torch.equal(reward(data), out["reward_tensor"])  # return_dict=False: the tensor alone


def test_a_failed_group_is_masked_with_reward_zero_and_ra_failed(
    upstream: tuple[LoopbackOpenAI, _Counting], caplog: pytest.LogCaptureFixture
) -> None:
    api_base = upstream[0].api_base
    good = _groups(700, 1)[0]
    groups = [good, ("<|user|>FAIL here.<|assistant|>", [f"x{'y' * j}" for j in range(SIZE)])]
    fields, rows = _batch(groups)
    data = FakeDataProto(**fields)
    reward = UidGroupReward(_judge(api_base), CharTokenizer(), principle=PRINCIPLE)

    with caplog.at_level(logging.WARNING, logger="ra_agents.integrations.verl"):
        out = reward(data, return_dict=True)

    extra = out["reward_extra_info"]
    expected = _whole_group_rewards(api_base, *good)
    for i, (k, j) in enumerate(rows):
        if k == 0:
            assert extra["score"][i] == pytest.approx(expected[j]) and extra["ra_failed"][i] == 0.0
        else:
            assert out["reward_tensor"][i].abs().sum().item() == 0.0
            assert (extra["score"][i], extra["rank"][i], extra["ra_failed"][i]) == (0.0, 0.0, 1.0)
    assert reward.failed_groups == 1
    assert any("uid='uid-1'" in r.message and "masked" in r.message for r in caplog.records)


def test_a_group_over_the_timeout_is_masked() -> None:
    slow = Judge(ScriptedBackend(delay_s=2.0, default='{"scores": {}, "best-to-worst": []}'))
    fields, _ = _batch(_groups(800, 1))
    reward = UidGroupReward(slow, CharTokenizer(), principle=PRINCIPLE, timeout_s=0.1)

    out = reward(FakeDataProto(**fields), return_dict=True)

    assert out["reward_extra_info"]["ra_failed"] == [1.0] * SIZE
    assert out["reward_tensor"].abs().sum().item() == 0.0


def test_raw_prompt_messages_and_per_sample_principles_reach_the_judge() -> None:
    backend = ScriptedBackend(
        default=lambda messages, settings: (
            '{"scores": {"model-1": 5, "model-2": 1}, "best-to-worst": ["model-1", "model-2"]}'
        )
    )
    fields, _ = _batch([("ignored prompt tokens", ["a", "bb"])])
    fields["non_tensor_batch"]["raw_prompt"] = np.array(
        [[{"role": "user", "content": "What is 2+2?"}]] * 2, dtype=object
    )
    fields["non_tensor_batch"]["extra_info"] = np.array([{"principle": "Be exact."}] * 2, dtype=object)
    reward = UidGroupReward(Judge(backend), CharTokenizer())

    reward(FakeDataProto(**fields))

    sent = backend.calls[0][0][1]["content"]
    assert "What is 2+2?" in sent and "ignored prompt tokens" not in sent and "Be exact." in sent


def test_samples_without_a_principle_are_a_usage_error() -> None:
    fields, _ = _batch([("p", ["a", "b"])])
    with pytest.raises(UsageError, match="no principle for sample 0"):
        UidGroupReward(Judge(ScriptedBackend()), CharTokenizer())(FakeDataProto(**fields))


def test_async_and_sync_entry_points_agree(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    fields, _ = _batch(_groups(900, 2))
    data = FakeDataProto(**fields)
    reward = UidGroupReward(_judge(upstream[0].api_base), CharTokenizer(), principle=PRINCIPLE)
    rewards, _ = asyncio.run(reward.ascore(data))
    assert torch.equal(reward.reward_tensor(data, rewards), reward(data))


@pytest.mark.skipif(HAS_VERL, reason="verl is installed")
def test_the_module_imports_without_verl_and_says_what_to_install() -> None:
    with pytest.raises(UsageError, match=r"needs verl \(pip install verl\)"):
        _ = ra_verl.RAGroupRewardManager


# ------------------------------------------------ with verl's own DataProto and registries


@pytest.mark.skipif(not HAS_VERL, reason="verl is not installed (it pins its own torch; see the module docs)")
def test_with_verls_dataproto_and_batch_registry(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    from verl import DataProto
    from verl.workers.reward_manager import get_reward_manager_cls

    ra_verl.register()
    api_base, counting = upstream[0].api_base, upstream[1]
    groups = _groups(1000, 3)
    fields, rows = _batch(groups)
    data = DataProto.from_dict(tensors=fields["batch"], non_tensors=fields["non_tensor_batch"])
    manager = get_reward_manager_cls("ra_agents")(
        CharTokenizer(), num_examine=0, judge=_judge(api_base), principle=PRINCIPLE
    )
    before = len(counting.sizes)

    out = manager(data, return_dict=True)

    assert counting.sizes[before:] == [SIZE] * 3
    _check_rewards(out, data, rows, [_whole_group_rewards(api_base, p, texts) for p, texts in groups])


@pytest.mark.skipif(not HAS_VERL, reason="verl is not installed (it pins its own torch; see the module docs)")
def test_with_verls_reward_loop_one_sample_per_call(upstream: tuple[LoopbackOpenAI, _Counting]) -> None:
    """The reward loop's calls: ``run_single(data[i:i+1])`` for all samples at once (``compute_score_batch``)."""
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    ra_verl.register()
    api_base, counting = upstream[0].api_base, upstream[1]
    groups = _groups(1100, 3)
    fields, rows = _batch(groups)
    data = DataProto.from_dict(tensors=fields["batch"], non_tensors=fields["non_tensor_batch"])
    config = OmegaConf.create({"reward": {"num_workers": 1}, "actor_rollout_ref": {"rollout": {"n": SIZE}}})
    cls = get_reward_manager_cls("ra_agents")
    with pytest.raises(UsageError, match=r"reward\.num_workers=1"):
        cls(OmegaConf.create({"reward": {"num_workers": 2}, "actor_rollout_ref": {"rollout": {"n": SIZE}}}), None)

    async def run() -> list[dict[str, Any]]:
        manager = cls(config, CharTokenizer(), judge=_judge(api_base), principle=PRINCIPLE)
        return await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(len(data))))

    before = len(counting.sizes)
    outs = asyncio.run(run())

    assert counting.sizes[before:] == [SIZE] * 3
    expected = [_whole_group_rewards(api_base, p, texts) for p, texts in groups]
    for (k, j), out in zip(rows, outs, strict=True):
        assert out["reward_score"] == pytest.approx(expected[k][j])
        assert out["reward_extra_info"]["group_size"] == SIZE and out["reward_extra_info"]["ra_failed"] == 0.0
    scores = [o["reward_score"] for o in outs]
    rm_scores = cls.assemble_rm_scores(data, scores)  # verl's own assembly of the token-level tensor
    assert rm_scores.sum(-1).tolist() == pytest.approx(scores)
