"""Whole groups for listwise rewards: a sample's reward comes from judging its complete group.

A listwise judge ranks a prompt's samples against each other, so a sample's reward is only
right when the judge saw the prompt's WHOLE group. RL trainers post samples one at a time or
in small batches (OpenRLHF 0.9+ posts one per request), so samples wait here for their group:

- a group is keyed by the caller's group id when the request carries one, else by
  (principle, prompt); it is complete when ``group_size`` samples arrived (the request may
  name its own size);
- a complete group is judged in ONE call and each sample gets its own reward;
- a group still incomplete ``wait_s`` after its first sample fails every sample with
  :class:`~ra_agents.IncompleteGroupError` (never a ranking of the fragment); a failed judge
  call fails every sample of the group with the judge's error.

:class:`GroupBuffer` holds the groups of one process: ``ra-agents serve`` with one worker,
the OpenRLHF ``reward_func`` file, the verl adapter. With several server workers, one
process owns the buffer and the workers forward to it (:mod:`ra_agents.remote.server.groups`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import BackendError, BackendUnavailable, IncompleteGroupError, RAError, UsageError
from ._types import JudgeResult
from .settings import RewardSettings, resolve

if TYPE_CHECKING:
    from .judging import Judging

__all__ = [
    "DEFAULT_WAIT_S",
    "GroupBuffer",
    "GroupRewards",
    "JudgeGroup",
    "SampleReward",
    "principle_of_label",
    "response_of",
    "reward_judge",
    "reward_settings",
]

DEFAULT_WAIT_S = 300.0
"""How long a group may take to complete by default: samples of a prompt finish generating
at different times, and a long generation can take minutes."""


def reward_settings(**arguments: Any) -> RewardSettings:
    """The reward settings: ``arguments`` (``None`` values ignored) over ``RA_AGENTS_REWARD_*`` over ``[reward]``."""
    return resolve(RewardSettings, arguments)[0]


def reward_judge(settings: RewardSettings | None = None) -> Judging:
    """The judge RL rewards use: ``Client(judge_url)`` when one is set, else ``Judge()``."""
    settings = settings or reward_settings()
    if settings.judge_url:
        from .remote.client import Client  # the judge server's client (needs the 'client' extra)

        return Client(settings.judge_url)
    from .judge import Judge

    return Judge()


@dataclass(frozen=True)
class SampleReward:
    """One sample's reward.

    Attributes:
        reward: in [0, 1] (:meth:`JudgeResult.unit_score`).
        score: the judge's raw score.
        group_size: samples in the judged group.
        wait_s: seconds the sample waited for its group to complete (the judge call not included).
    """

    reward: float
    score: float
    group_size: int
    wait_s: float


class GroupRewards(Protocol):
    """Where a sample waits for its group: :class:`GroupBuffer` or :class:`RemoteGroups`."""

    async def reward(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> SampleReward:
        """The sample's reward once its group is complete and judged."""
        ...

    async def aclose(self) -> None:
        """Release what the buffer holds."""
        ...


def response_of(query: str, prompt: str | None) -> str:
    """The response in an OpenRLHF ``query`` (prompt + response): the text after ``prompt``."""
    return query[len(prompt) :] if prompt and query.startswith(prompt) else query


def principle_of_label(label: Any) -> str | None:
    """The principle an OpenRLHF label carries: ``{"principle": ...}``, or that object as JSON text."""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = json.loads(label)
        except ValueError:
            return None
    if isinstance(label, dict) and isinstance(label.get("principle"), str) and label["principle"].strip():
        return str(label["principle"])
    return None


JudgeGroup = Callable[[str, str, dict[str, str]], Awaitable[JudgeResult]]
"""``(principle, prompt, {name: response}) -> JudgeResult``: judges one whole group."""


@dataclass
class _Group:
    principle: str
    prompt: str
    size: int
    label: str
    started: float
    samples: list[tuple[str, float, asyncio.Future[SampleReward]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


def _label(key: tuple[str, ...]) -> str:
    """A group's name in messages: its id, or its prompt's head."""
    if key[0] == "id":
        return repr(key[1])
    head = key[2][:60] + ("..." if len(key[2]) > 60 else "")
    return f"of prompt {head!r}"


class GroupBuffer:
    """Holds samples until their group is complete, then judges the group in one call.

    Args:
        judge_group: judges one whole group (``(principle, prompt, {name: response})``).
        group_size: samples per group, unless a sample names its group's size.
        wait_s: longest wait after a group's first sample; then its samples fail with
            :class:`IncompleteGroupError`.
    """

    def __init__(self, judge_group: JudgeGroup, *, group_size: int, wait_s: float) -> None:
        self._judge_group = judge_group
        self.group_size = group_size
        self.wait_s = wait_s
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        """Samples waiting for their group to complete."""
        return sum(len(g.samples) for g in self._groups.values())

    async def reward(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> SampleReward:
        """The sample's reward once its group is complete and judged (see :meth:`add`)."""
        return await self.add(principle, prompt, response, group=group, size=size)

    def add(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> asyncio.Future[SampleReward]:
        """Queue one sample; the future resolves with its reward or fails with its group's error.

        Args:
            principle: the principle to judge by.
            prompt: the prompt the sample answers.
            response: the sample.
            group: the caller's group id; ``None`` groups by (principle, prompt).
            size: the group's size; ``None`` is ``group_size``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SampleReward] = loop.create_future()
        expected = size or self.group_size
        key = ("id", group) if group is not None else ("text", principle, prompt)
        current = self._groups.get(key)
        if current is None:
            current = self._groups[key] = _Group(principle, prompt, expected, _label(key), time.monotonic())
            current.timer = loop.call_later(self.wait_s, self._expire, key, current)
        elif current.size != expected or (current.principle, current.prompt) != (principle, prompt):
            what = "size" if current.size != expected else "principle or prompt"
            future.set_exception(
                UsageError(f"the samples of group {current.label} disagree on the group's {what}; send the same")
            )
            return future
        current.samples.append((response, time.monotonic(), future))
        if len(current.samples) >= current.size:
            self._complete(key, current)
        return future

    def _complete(self, key: tuple[str, ...], group: _Group) -> None:
        del self._groups[key]
        if group.timer is not None:
            group.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._judge(group, time.monotonic()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _expire(self, key: tuple[str, ...], group: _Group) -> None:
        if self._groups.get(key) is group:
            del self._groups[key]
            self._fail(group, IncompleteGroupError(group.label, len(group.samples), group.size, self.wait_s))

    @staticmethod
    def _fail(group: _Group, exc: BaseException) -> None:
        for _, _, future in group.samples:
            if not future.done():
                future.set_exception(exc)

    async def _judge(self, group: _Group, completed: float) -> None:
        names = [f"sample-{i + 1}" for i in range(len(group.samples))]
        try:
            responses = dict(zip(names, (text for text, _, _ in group.samples), strict=True))
            result = await self._judge_group(group.principle, group.prompt, responses)
        except RAError as exc:
            self._fail(group, exc)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting sample must be answered, with a typed error
            self._fail(group, BackendError(f"judging group {group.label} failed: {type(exc).__name__}: {exc}"))
            return
        for name, (_, arrived, future) in zip(names, group.samples, strict=True):
            if not future.done():
                reward = SampleReward(
                    result.unit_score(name), float(result.scores[name]), len(names), completed - arrived
                )
                future.set_result(reward)

    async def aclose(self) -> None:
        """Fail the incomplete groups (never judge a fragment) and wait for the groups being judged."""
        for key, group in list(self._groups.items()):
            del self._groups[key]
            if group.timer is not None:
                group.timer.cancel()
            arrived = len(group.samples)
            self._fail(
                group,
                BackendUnavailable(
                    f"the server stopped before group {group.label} was complete ({arrived} of {group.size} samples)"
                ),
            )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
