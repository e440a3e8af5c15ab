"""Group buffering for listwise rewards: samples of one prompt wait for their group.

An RL trainer posts samples one at a time or in small batches, but a listwise judge
needs a prompt's whole group. :class:`GroupBuffer` collects samples by (principle,
prompt) until ``group_size`` arrived or ``wait_s`` passed since the first, then judges
the group in ONE call and resolves each sample's future with its own reward.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .._errors import RAError
from .._types import JudgeResult

__all__ = ["GroupBuffer", "SampleReward"]


@dataclass(frozen=True)
class SampleReward:
    """One sample's reward: ``reward`` in [0, 1], the raw ``score`` and its group's size."""

    reward: float
    score: float
    group_size: int


JudgeGroup = Callable[[str, str, dict[str, str]], Awaitable[JudgeResult]]


@dataclass
class _Group:
    samples: list[tuple[str, asyncio.Future[SampleReward]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class GroupBuffer:
    """Buffers samples per (principle, prompt) and judges each group once.

    Args:
        judge_group: ``(principle, prompt, {name: response}) -> JudgeResult``.
        group_size: samples per group.
        wait_s: longest wait after a group's first sample.
        on_depth: called with the number of buffered samples whenever it changes.
    """

    def __init__(
        self,
        judge_group: JudgeGroup,
        *,
        group_size: int,
        wait_s: float,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._judge_group = judge_group
        self.group_size = group_size
        self.wait_s = wait_s
        self._on_depth = on_depth or (lambda depth: None)
        self._groups: dict[tuple[str, str], _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        """Samples waiting for their group."""
        return sum(len(g.samples) for g in self._groups.values())

    def add(self, principle: str, prompt: str, response: str) -> asyncio.Future[SampleReward]:
        """Queue one sample; the future resolves with its reward (or the group's error)."""
        loop = asyncio.get_running_loop()
        key = (principle, prompt)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            group.timer = loop.call_later(self.wait_s, self._flush, key)
        future: asyncio.Future[SampleReward] = loop.create_future()
        group.samples.append((response, future))
        if len(group.samples) >= self.group_size:
            self._flush(key)
        else:
            self._on_depth(self.depth)
        return future

    def _flush(self, key: tuple[str, str]) -> None:
        group = self._groups.pop(key, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        self._on_depth(self.depth)
        task = asyncio.get_running_loop().create_task(self._judge(key, group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _judge(self, key: tuple[str, str], group: _Group) -> None:
        principle, prompt = key
        names = [f"sample-{i + 1}" for i in range(len(group.samples))]
        try:
            responses = dict(zip(names, (s for s, _ in group.samples), strict=True))
            result = await self._judge_group(principle, prompt, responses)
        except RAError as exc:
            for _, future in group.samples:
                if not future.done():
                    future.set_exception(exc)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting request must be answered
            for _, future in group.samples:
                if not future.done():
                    future.set_exception(exc)
            return
        for name, (_, future) in zip(names, group.samples, strict=False):
            if not future.done():
                future.set_result(SampleReward(result.unit_score(name), float(result.scores[name]), len(names)))

    async def aclose(self) -> None:
        """Judge what is buffered and wait for every group in flight."""
        for key in list(self._groups):
            self._flush(key)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
