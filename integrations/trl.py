"""GRPO rewards from a principle-following judge, in TRL's reward-function shape.

GRPO compares completions of the same prompt with each other, which is exactly what a
listwise judge does: each group of completions is judged in ONE call, and every
completion gets its score relative to its siblings::

    from trl import GRPOConfig, GRPOTrainer
    from ra_agents import Judge
    from ra_agents.integrations.trl import grpo_reward

    judge = Judge.from_litellm("hosted_vllm/rewardanything", api_base="http://127.0.0.1:8000/v1")
    reward = grpo_reward(judge, "Correct first, then concise.")
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], args=GRPOConfig(num_generations=4), ...)

TRL calls ``reward(prompts=..., completions=..., **columns)`` with ``num_generations``
consecutive completions per prompt. Consecutive completions with equal prompts form a
group (``num_generations=`` splits longer runs); each group is one judge request, and
the groups of a batch run concurrently (up to ``judge.concurrency``).

A group whose verdict fails (no usable answer, backend down, context too long) does not
stop training and does not touch the other groups: its completions get ``fallback``,
the failure is logged on the ``ra_agents.integrations.trl`` logger and counted in
``reward.stats``. The default ``fallback=None`` follows TRL's convention for "this
function has no reward for these samples": GRPOTrainer turns ``None`` into NaN and sums
the reward functions with ``nansum``, so other reward functions still count; when this
is the only one, the group's rewards are all 0 (TRL warns), hence zero advantage and no
gradient from that group. Any constant fallback (e.g. ``0.0``) also gives the group
zero advantage, but biases the sum with other reward functions. Argument mistakes
(:class:`ra_agents.UsageError`, e.g. a group larger than ``judge.max_candidates``)
raise: they would recur on every step.

Groups are rebuilt from the batch each process sees. TRL keeps a prompt's
``num_generations`` completions consecutive, but when ``per_device_train_batch_size``
is not a multiple of ``num_generations`` a group can straddle two processes; each part
is then judged on its own. Keep the batch size a multiple of the group size.

Prompts may be texts (standard format) or message lists (conversational format): they
reach the judge as :func:`ra_agents.prompt_text` reads them, the text every ra-agents
adapter sends for the same conversation. Completions likewise: a text, one assistant
message (its text), or messages with tool calls (rendered step by step by
:func:`ra_agents.protocol.render_candidate`). The judge is any :class:`ra_agents.Judging`:
a local judge, or the HTTP client of a judge server. trl itself is not imported here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, Unpack, cast

from ra_agents import (
    BackendError,
    BatchItem,
    JudgeRequest,
    JudgeResult,
    Judging,
    PrincipleLike,
    UsageError,
    VerdictError,
    prompt_text,
)
from ra_agents.principles import principle_text
from ra_agents.protocol import render_candidate
from ra_agents.trajectory import content_text, is_message

__all__ = [
    "grpo_reward",
    "agrpo_reward",
    "grpo_rewards",
    "agrpo_rewards",
    "RewardStats",
    "RewardOptions",
    "RewardFunc",
    "AsyncRewardFunc",
]

logger = logging.getLogger(__name__)


@dataclass
class RewardStats:
    """Counters of one reward function, readable as ``reward.stats``.

    Attributes:
        calls: times the reward function was called.
        groups: groups judged (one judge request each).
        failed_groups: groups whose verdict failed and got the fallback.
        last_error: the most recent failure, for diagnosis.
        errors: the most recent failures (up to 100), oldest first.
    """

    calls: int = 0
    groups: int = 0
    failed_groups: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list, repr=False)


class RewardFunc(Protocol):
    """TRL's reward-function shape, with counters: ``(prompts, completions, **kwargs) -> list[float | None]``."""

    __name__: str
    stats: RewardStats

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]: ...


class AsyncRewardFunc(Protocol):
    """The async form (recent TRL runs coroutine reward functions on an event loop of its own)."""

    __name__: str
    stats: RewardStats

    async def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]: ...


class RewardOptions(TypedDict, total=False):
    """Options of :func:`grpo_reward` and :func:`agrpo_reward`.

    Attributes:
        principle_column: a dataset column with a per-row principle (TRL passes extra
            columns as keyword arguments); rows with an empty value use ``principle``.
        num_generations: the group size, to split runs of equal prompts longer than one
            group (e.g. the same prompt twice in a batch). ``None`` (default) groups all
            consecutive equal prompts.
        score: ``"auto"`` (default): the expected score (from logprobs) normalised to
            [0, 1] when the backend gives logprobs, else the normalised score;
            ``"normalized"``: the normalised integer score; ``"raw"``: the score on the
            judge's scale.
        fallback: the reward of every completion in a group whose verdict failed
            (default ``None``, see the module docs).
        name: the function's ``__name__``, which TRL logs the reward under
            (default ``"ra_principle"``).
    """

    principle_column: str | None
    num_generations: int | None
    score: Literal["auto", "normalized", "raw"]
    fallback: float | None
    name: str


def grpo_reward(judge: Judging, principle: PrincipleLike, **options: Unpack[RewardOptions]) -> RewardFunc:
    """A TRL reward function that judges each group of completions in one listwise call.

    Args:
        judge: the judge to call (any :class:`ra_agents.Judging`); groups of one batch
            run concurrently, up to the judge's concurrency.
        principle: what to value: text or a :class:`~ra_agents.Principle`.
        **options: see :class:`RewardOptions` (``principle_column``, ``num_generations``,
            ``score``, ``fallback``, ``name``).

    Returns:
        ``reward(prompts, completions, **kwargs) -> list[float | None]``, one reward per
        completion in input order, with a ``stats`` attribute (:class:`RewardStats`).

    Raises:
        UsageError: bad options here; prompts and completions that do not pair up, or a
            group larger than ``judge.max_candidates``, when called.
    """
    plan = _Plan(principle, options)

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        requests, spans = plan.requests(prompts, completions, kwargs)
        return plan.rewards(judge.judge_batch(requests), spans, len(completions))

    reward.__name__ = plan.name
    reward.stats = plan.stats  # type: ignore[attr-defined]
    return cast(RewardFunc, reward)


def agrpo_reward(judge: Judging, principle: PrincipleLike, **options: Unpack[RewardOptions]) -> AsyncRewardFunc:
    """The async form of :func:`grpo_reward` (same arguments, a coroutine function)."""
    plan = _Plan(principle, options)

    async def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        requests, spans = plan.requests(prompts, completions, kwargs)
        return plan.rewards(await judge.ajudge_batch(requests), spans, len(completions))

    reward.__name__ = plan.name
    reward.stats = plan.stats  # type: ignore[attr-defined]
    return cast(AsyncRewardFunc, reward)


def grpo_rewards(
    judge: Judging, principles: Mapping[str, PrincipleLike], **options: Unpack[RewardOptions]
) -> list[RewardFunc]:
    """One reward function per principle, so TRL's ``reward_weights`` weigh the principles.

    ``GRPOTrainer(reward_funcs=grpo_rewards(judge, {"correct": ..., "concise": ...}),
    args=GRPOConfig(reward_weights=[2.0, 1.0]))``: each function judges each group in one
    listwise call under its own principle (so a batch costs one call per group per
    principle) and TRL logs it under ``<name><principle name>`` (``name`` defaults to
    ``"ra_"``), e.g. ``rewards/ra_correct``.

    Args:
        judge: the judge to call.
        principles: ``name -> principle``, in the order of ``reward_weights``.
        **options: as for :func:`grpo_reward`; ``name`` is the prefix of each function's name.
    """
    return [grpo_reward(judge, p, **o) for p, o in _per_principle(principles, options)]


def agrpo_rewards(
    judge: Judging, principles: Mapping[str, PrincipleLike], **options: Unpack[RewardOptions]
) -> list[AsyncRewardFunc]:
    """The async form of :func:`grpo_rewards`."""
    return [agrpo_reward(judge, p, **o) for p, o in _per_principle(principles, options)]


# --------------------------------------------------------------------- helpers


def _per_principle(
    principles: Mapping[str, PrincipleLike], options: RewardOptions
) -> list[tuple[PrincipleLike, RewardOptions]]:
    """Each principle with its options, named ``<name prefix><principle name>``."""
    if not principles:
        raise UsageError("no principles given; pass name -> principle, e.g. {'correct': ..., 'concise': ...}")
    prefix = options.get("name", "ra_")
    return [(p, {**options, "name": f"{prefix}{n}"}) for n, p in principles.items()]


class _Plan:
    """Splits a batch into groups and maps the verdicts back to per-completion rewards."""

    def __init__(self, principle: PrincipleLike, options: RewardOptions) -> None:
        num_generations = options.get("num_generations")
        score = options.get("score", "auto")
        principle_text(principle)
        if num_generations is not None and num_generations < 1:
            raise UsageError(f"num_generations must be at least 1, got {num_generations}")
        if score not in ("auto", "normalized", "raw"):
            raise UsageError(f"score must be 'auto', 'normalized' or 'raw', got {score!r}")
        self.principle = principle
        self.principle_column = options.get("principle_column")
        self.num_generations = num_generations
        self.score = score
        self.fallback = options.get("fallback")
        self.name = options.get("name", "ra_principle")
        self.stats = RewardStats()

    def requests(
        self, prompts: Sequence[Any], completions: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[list[JudgeRequest], list[range]]:
        if len(prompts) != len(completions):
            raise UsageError(f"got {len(prompts)} prompts for {len(completions)} completions; they must pair up")
        principles = self._principles(kwargs, len(prompts))
        spans: list[range] = []
        start = 0
        for i in range(1, len(prompts) + 1):
            size = i - start
            ends = (
                i == len(prompts)
                or prompts[i] != prompts[start]
                or principles[i] != principles[start]
                or size == self.num_generations
            )
            if ends:
                spans.append(range(start, i))
                start = i
        requests = [
            JudgeRequest(
                principle=principles[s.start],
                prompt=prompt_text(prompts[s.start]),
                responses=[_completion_text(completions[j]) for j in s],
            )
            for s in spans
        ]
        self.stats.calls += 1
        return requests, spans

    def _principles(self, kwargs: Mapping[str, Any], n: int) -> list[PrincipleLike]:
        if self.principle_column is None:
            return [self.principle] * n
        if self.principle_column not in kwargs:
            raise UsageError(
                f"principle_column {self.principle_column!r} is not among the columns passed: {sorted(kwargs)}; "
                "add it to the dataset or fix the name"
            )
        column = kwargs[self.principle_column]
        if len(column) != n:
            raise UsageError(f"column {self.principle_column!r} has {len(column)} values for {n} completions")
        return [p if isinstance(p, str) and p.strip() else self.principle for p in column]

    def rewards(self, items: Sequence[BatchItem], spans: Sequence[range], n: int) -> list[float | None]:
        out: list[float | None] = [self.fallback] * n
        for item, span in zip(items, spans, strict=True):
            self.stats.groups += 1
            if isinstance(item, JudgeResult):
                for position, j in enumerate(span):
                    out[j] = self._value(item, str(position))
                continue
            if isinstance(item, (VerdictError, BackendError)):
                self.stats.failed_groups += 1
                self.stats.last_error = f"{type(item).__name__}: {item}"
                self.stats.errors.append(self.stats.last_error)
                del self.stats.errors[:-100]
                logger.warning(
                    "%s: group of %d completions (items %d-%d) got the fallback %r: %s",
                    self.name,
                    len(span),
                    span.start,
                    span.stop - 1,
                    self.fallback,
                    self.stats.last_error,
                )
                continue
            raise item  # a UsageError: the caller's mistake, not a bad verdict
        return out

    def _value(self, result: JudgeResult, name: str) -> float:
        if self.score == "raw":
            return float(result.scores[name])
        if self.score == "normalized":
            return float(result.normalized[name])
        return result.unit_score(name)


def _completion_text(completion: Any) -> str:
    """A completion as the judge reads it: the text of one plain assistant message, else the core's rendering."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping) and is_message(completion):
        completion = [completion]
    if isinstance(completion, Sequence) and len(completion) == 1 and isinstance(completion[0], Mapping):
        message = completion[0]
        if message.get("role", "assistant") == "assistant" and not message.get("tool_calls"):
            return content_text(message.get("content"))
    return render_candidate(completion)
