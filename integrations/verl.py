"""verl: rewards from whole groups, grouped by the prompt's ``uid``, one listwise call per group.

verl repeats each prompt ``actor_rollout_ref.rollout.n`` times and tags every sample with its
prompt's ``uid`` (``non_tensor_batch["uid"]``); GRPO's advantages are computed within those
groups. A listwise judge must see the same groups, so this adapter groups a batch's samples by
``uid`` and judges each group in ONE call (any :class:`ra_agents.Judging`: a local ``Judge``
or ``Client(url)`` of a ``ra-agents serve``), groups concurrently (``concurrency``), each call
bounded by ``timeout_s``.

Per sample it returns the reward at the last valid response token (verl's token-level reward
tensor) and ``reward_extra_info``: ``score`` (the reward: the judge's unit score in [0, 1]),
``judge_score`` (the raw score), ``group_size``, ``rank`` (1 is best; the reward loop gives
``group_wait_s`` instead) and ``ra_failed``.
A group whose verdict fails (unusable answer, backend down, timeout) is MASKED explicitly:
its samples get reward 0, ``rank`` 0 and ``ra_failed`` 1, and a warning is logged on the
``ra_agents.integrations.verl`` logger; the other groups are unaffected. Mind that GRPO turns
an all-zero group into zero advantage, so a failed group gives no gradient; ``ra_failed`` in
the logged metrics says how often that happens. Argument mistakes
(:class:`~ra_agents.UsageError`) raise.

Two verl entry points, built only when asked for (``import ra_agents.integrations.verl``
needs neither verl nor torch; registering does):

- :func:`register` registers ``"ra_agents"`` in verl's batch reward-manager registry
  (``verl.workers.reward_manager``, the ``AbstractRewardManager`` / ``__call__(data,
  return_dict)`` shape): the whole batch at once, so every group is complete by construction.
- The reward loop (verl 0.9's default path) calls ``run_single`` with ONE sample, from
  several ``RewardLoopWorker`` actors picked at random. ``RAGroupRewardLoopManager`` makes
  the sample wait for its group (``uid``, ``rollout.n`` samples) in the process's
  :class:`~ra_agents.groups.GroupBuffer`, so it is correct only when every sample
  reaches the same process: it refuses to start unless ``reward.num_workers=1``. Use it as::

      export RA_AGENTS_REWARD_PRINCIPLE="Correct first, then concise."
      export RA_AGENTS_REWARD_JUDGE_URL=http://judge:8080    # else a local Judge() from RA_AGENTS_MODEL
      python -m verl.trainer.main_ppo ... reward.num_workers=1 \\
          reward.reward_manager.source=importlib \\
          reward.reward_manager.name=RAGroupRewardLoopManager \\
          reward.reward_manager.module.path=$(python -c 'import ra_agents.integrations.verl as m; print(m.__file__)')

  (Ray actors see the variables of the process that starts Ray; with a running cluster, pass
  them in ``runtime_env``.) ``RA_AGENTS_REWARD_GROUP_WAIT_S`` bounds the wait for a group
  (default 300 s; an incomplete group is masked like a failed one, never judged in part).

A sample's principle is its ``extra_info["principle"]`` (or ``reward_model["principle"]``)
when the dataset gives one, else the adapter's. The prompt is the sample's ``raw_prompt``
(messages, read by :func:`ra_agents.prompt_text`) when the batch carries it, else the
decoded prompt tokens; the response is the decoded valid response tokens.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ra_agents import JudgeResult, Judging, RAError, UsageError, prompt_text
from ra_agents.groups import GroupBuffer, principle_of_label, reward_judge, reward_settings
from ra_agents.sync import run_sync

__all__ = [
    "EXTRA_KEYS",
    "LOOP_EXTRA_KEYS",
    "UidGroupReward",
    "register",
    "judge_from_environment",
    "RAGroupRewardManager",  # noqa: F822 - built on first use (module __getattr__), needs verl
    "RAGroupRewardLoopManager",  # noqa: F822 - likewise
]

logger = logging.getLogger(__name__)

EXTRA_KEYS = ("score", "judge_score", "group_size", "rank", "ra_failed")
"""The ``reward_extra_info`` keys of every sample (the same keys for failed samples: verl requires it)."""

LOOP_EXTRA_KEYS = ("score", "judge_score", "group_size", "group_wait_s", "ra_failed")
"""The reward loop's ``reward_extra_info`` keys (a sample there does not know its rank; it knows its wait)."""


@dataclass(frozen=True)
class _Sample:
    principle: str
    prompt: str
    response: str
    length: int  # valid response tokens


def judge_from_environment() -> Judging:
    """``Client(RA_AGENTS_REWARD_JUDGE_URL)`` when set, else ``Judge()`` (``RA_AGENTS_MODEL`` ...)."""
    return reward_judge()


def _extra(reward: float, judge_score: float, size: int, rank: int, failed: bool) -> dict[str, float]:
    return dict(zip(EXTRA_KEYS, (reward, judge_score, float(size), float(rank), float(failed)), strict=True))


def _loop_extra(reward: float, judge_score: float, size: int, wait_s: float, failed: bool) -> dict[str, float]:
    """The reward loop's extra info: no ``rank`` (the group buffer gives none), the group wait instead."""
    values = (reward, judge_score, float(size), wait_s if math.isfinite(wait_s) else 0.0, float(failed))
    return dict(zip(LOOP_EXTRA_KEYS, values, strict=True))


class UidGroupReward:
    """Judges a verl batch group by group (``uid``); the core of both reward managers.

    Args:
        judge: any :class:`ra_agents.Judging`.
        tokenizer: decodes token ids (``decode(ids, skip_special_tokens=True)``), the policy's.
        principle: the principle of samples whose data gives none.
        concurrency: groups judged at once.
        timeout_s: longest judge call per group; a slower group is masked as failed.
    """

    def __init__(
        self,
        judge: Judging,
        tokenizer: Any,
        *,
        principle: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 600.0,
    ) -> None:
        if concurrency < 1 or timeout_s <= 0:
            raise UsageError(f"concurrency must be at least 1 and timeout_s above 0, got {concurrency}, {timeout_s}")
        self.judge = judge
        self.tokenizer = tokenizer
        self.principle = principle
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.failed_groups = 0

    # ------------------------------------------------------------------ reading a batch

    def samples(self, data: Any) -> list[_Sample]:
        """Each sample's principle, prompt text, response text and valid response length."""
        prompts, responses, mask = data.batch["prompts"], data.batch["responses"], data.batch["attention_mask"]
        prompt_len = prompts.shape[-1]
        lengths = mask[:, prompt_len:].sum(dim=-1).tolist()
        extra = data.non_tensor_batch.get("extra_info")
        rm = data.non_tensor_batch.get("reward_model")
        raw = data.non_tensor_batch.get("raw_prompt")
        out = []
        for i in range(len(lengths)):
            principle = (
                principle_of_label(extra[i] if extra is not None else None)
                or principle_of_label(rm[i] if rm is not None else None)
                or self.principle
            )
            if not principle:
                raise UsageError(
                    f"no principle for sample {i}: give extra_info['principle'] in the data, pass principle=, "
                    "or set RA_AGENTS_REWARD_PRINCIPLE"
                )
            if raw is not None:
                prompt = prompt_text(_plain(raw[i]))
            else:
                prompt = self._decode(prompts[i][mask[i, :prompt_len].bool()])
            length = int(lengths[i])
            out.append(_Sample(principle, prompt, self._decode(responses[i][:length]), length))
        return out

    def _decode(self, ids: Any) -> str:
        return str(self.tokenizer.decode(ids.tolist(), skip_special_tokens=True))

    # ------------------------------------------------------------------ judging

    async def ascore(self, data: Any) -> tuple[list[float], dict[str, list[float]]]:
        """Each sample's reward and extra info, in batch order (every group judged in one call)."""
        samples = self.samples(data)
        groups: dict[Any, list[int]] = {}
        for i, uid in enumerate(data.non_tensor_batch["uid"]):
            groups.setdefault(uid, []).append(i)
        gate = asyncio.Semaphore(self.concurrency)
        extras: list[dict[str, float]] = [{} for _ in samples]

        async def one(uid: Any, members: list[int]) -> None:
            first = samples[members[0]]
            if any((samples[i].principle, samples[i].prompt) != (first.principle, first.prompt) for i in members):
                raise UsageError(f"the samples of uid {uid!r} disagree on their prompt or principle")
            names = [f"sample-{k + 1}" for k in range(len(members))]
            try:
                async with gate:
                    result: JudgeResult = await asyncio.wait_for(
                        self.judge.ajudge(
                            first.principle,
                            first.prompt,
                            {n: samples[i].response for n, i in zip(names, members, strict=True)},
                        ),
                        self.timeout_s,
                    )
            except UsageError:
                raise
            except (RAError, TimeoutError) as exc:
                self.failed_groups += 1
                why = f"judge call over timeout_s={self.timeout_s:g}" if isinstance(exc, TimeoutError) else exc
                logger.warning(
                    "verl reward: group uid=%r (%d samples) masked (reward 0, ra_failed=1): %s: %s",
                    uid,
                    len(members),
                    type(exc).__name__,
                    why,
                )
                for i in members:
                    extras[i] = _extra(0.0, 0.0, len(members), 0, True)
                return
            for name, i in zip(names, members, strict=True):
                reward = result.unit_score(name)
                extras[i] = _extra(
                    reward, float(result.scores[name]), len(members), result.ranking.index(name) + 1, False
                )

        await asyncio.gather(*(one(uid, members) for uid, members in groups.items()))
        return [e["score"] for e in extras], {k: [e[k] for e in extras] for k in EXTRA_KEYS}

    def reward_tensor(self, data: Any, rewards: Sequence[float]) -> Any:
        """verl's token-level rewards: each sample's reward at its last valid response token."""
        import torch

        responses = data.batch["responses"]
        prompt_len = data.batch["prompts"].shape[-1]
        lengths = data.batch["attention_mask"][:, prompt_len:].sum(dim=-1).clamp(min=1)
        tensor = torch.zeros_like(responses, dtype=torch.float32)
        tensor[torch.arange(len(rewards)), lengths - 1] = torch.tensor(list(rewards), dtype=torch.float32)
        return tensor

    def __call__(self, data: Any, return_dict: bool = False) -> Any:
        """verl's batch reward-manager call: the reward tensor, or ``{"reward_tensor", "reward_extra_info"}``."""
        rewards, extra = run_sync(self.ascore(data), async_name="UidGroupReward.ascore")
        tensor = self.reward_tensor(data, rewards)
        return {"reward_tensor": tensor, "reward_extra_info": extra} if return_dict else tensor


def _plain(value: Any) -> Any:
    """A numpy array of messages (as verl stores ``raw_prompt``) as a list."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, (str, Mapping)) else value


# ------------------------------------------------------------------ verl's classes, built lazily


def _config_get(config: Any, *path: str) -> Any:
    for key in path:
        if config is None:
            return None
        config = config.get(key) if isinstance(config, Mapping) or hasattr(config, "get") else getattr(config, key)
    return config


def _build_batch_manager() -> type:
    from verl.workers.reward_manager.abstract import AbstractRewardManager

    class RAGroupRewardManager(UidGroupReward, AbstractRewardManager):
        """verl's batch reward manager ``"ra_agents"``.

        ``reward_kwargs``: ``judge`` (a :class:`ra_agents.Judging`) or ``judge_url``, ``principle``,
        ``concurrency``, ``timeout_s``; else the ``RA_AGENTS_REWARD_*`` variables.
        """

        def __init__(
            self,
            tokenizer: Any,
            num_examine: int = 0,
            compute_score: Any = None,
            reward_fn_key: str = "data_source",
            **reward_kwargs: Any,
        ) -> None:
            judge: Judging | None = reward_kwargs.get("judge")
            if judge is None and reward_kwargs.get("judge_url"):
                from ra_agents import Client

                judge = Client(reward_kwargs["judge_url"])
            UidGroupReward.__init__(
                self,
                judge or judge_from_environment(),
                tokenizer,
                principle=reward_kwargs.get("principle") or reward_settings().principle,
                concurrency=int(reward_kwargs.get("concurrency", 8)),
                timeout_s=float(reward_kwargs.get("timeout_s", 600.0)),
            )

    return RAGroupRewardManager


def _build_loop_manager() -> type:
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

    class RAGroupRewardLoopManager(RewardManagerBase):
        """verl's reward-loop manager: each sample waits for its ``uid`` group, judged in one call."""

        def __init__(
            self,
            config: Any,
            tokenizer: Any,
            compute_score: Any = None,
            reward_router_address: Any = None,
            reward_model_tokenizer: Any = None,
            *,
            judge: Judging | None = None,
            principle: str | None = None,
        ) -> None:
            workers = _config_get(config, "reward", "num_workers")
            if workers is not None and int(workers) != 1:
                raise UsageError(
                    f"RAGroupRewardLoopManager needs reward.num_workers=1 (got {workers}): verl sends each sample to "
                    "a random reward worker, so with several workers a uid group would be split and judged in "
                    "fragments. Set reward.num_workers=1, or use the batch manager (see ra_agents.integrations.verl)"
                )
            size = _config_get(config, "actor_rollout_ref", "rollout", "n")
            if not size:
                raise UsageError("actor_rollout_ref.rollout.n (the group size) is missing from the config")
            super().__init__(config, tokenizer, compute_score)
            settings = reward_settings()
            self.core = UidGroupReward(
                judge or reward_judge(settings),
                tokenizer,
                principle=principle or settings.principle,
                timeout_s=settings.timeout_s,
            )
            self.group_size = int(size)
            self.wait_s = settings.group_wait_s
            self._buffer: GroupBuffer | None = None

        def _group_buffer(self) -> GroupBuffer:
            if self._buffer is None:
                core = self.core

                async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
                    return await asyncio.wait_for(core.judge.ajudge(principle, prompt, responses), core.timeout_s)

                self._buffer = GroupBuffer(judge_group, group_size=self.group_size, wait_s=self.wait_s)
            return self._buffer

        async def run_single(self, data: Any) -> dict[str, Any]:
            sample = self.core.samples(data[-1:])[0]
            uid = str(data.non_tensor_batch["uid"][-1])
            try:
                got = await self._group_buffer().reward(sample.principle, sample.prompt, sample.response, group=uid)
            except UsageError:
                raise
            except (RAError, TimeoutError) as exc:
                self.core.failed_groups += 1
                logger.warning("verl reward: sample of uid=%r masked (reward 0, ra_failed=1): %s", uid, exc)
                return {"reward_score": 0.0, "reward_extra_info": _loop_extra(0.0, 0.0, self.group_size, 0.0, True)}
            extra = _loop_extra(got.reward, got.score, got.group_size, got.wait_s, False)
            return {"reward_score": got.reward, "reward_extra_info": extra}

    return RAGroupRewardLoopManager


_built: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """``RAGroupRewardManager`` / ``RAGroupRewardLoopManager``: verl's classes, built on first use (needs verl)."""
    builders = {"RAGroupRewardManager": _build_batch_manager, "RAGroupRewardLoopManager": _build_loop_manager}
    if name not in builders:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        try:
            _built[name] = builders[name]()
        except ImportError as exc:  # verl is no extra of ours: it pins its own torch and vLLM
            raise UsageError(f"ra_agents.integrations.verl.{name} needs verl (pip install verl): {exc}") from exc
    return _built[name]


def register(name: str = "ra_agents") -> tuple[type, type]:
    """Register the batch manager and the reward-loop manager under ``name`` in verl's two registries.

    Then ``reward.reward_manager.name=ra_agents`` selects the reward-loop manager (with
    ``reward.num_workers=1``). Returns ``(RAGroupRewardManager, RAGroupRewardLoopManager)``.
    """
    from verl.experimental.reward_loop.reward_manager import register as register_loop
    from verl.workers.reward_manager import register as register_batch

    batch, loop = __getattr__("RAGroupRewardManager"), __getattr__("RAGroupRewardLoopManager")
    register_batch(name)(batch)
    register_loop(name)(loop)
    return batch, loop
