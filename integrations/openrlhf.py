"""OpenRLHF: a ``reward_func`` file for ``--remote_rm_url`` that rewards whole groups.

OpenRLHF loads a Python file given as ``--remote_rm_url`` and calls its
``reward_func(queries, prompts, labels)``. OpenRLHF 0.9+ calls it with ONE sample per call,
from the threads of ``asyncio.to_thread`` in each vLLM engine actor (all samples of a prompt
go to the same engine); older versions called it with micro-batches. Either way a listwise
reward needs the prompt's whole group, so samples wait here until their group is complete
(:class:`~ra_agents.groups.GroupBuffer`, the server's own): ``group_size`` samples of
the same principle and prompt, judged in ONE call. A group still incomplete after
``wait_s`` raises :class:`~ra_agents.LimitError` (never a reward from part of a group); a
failed judge call raises the judge's error for each sample of the group. OpenRLHF logs the
error and leaves the sample without a reward.

Use the file as it is, configured by environment variables::

    export RA_AGENTS_REWARD_PRINCIPLE="Correct first, then concise."
    export RA_AGENTS_REWARD_GROUP_SIZE=8          # = --n_samples_per_prompt
    export RA_AGENTS_REWARD_JUDGE_URL=http://judge:8080   # a ra-agents serve; else a local Judge()
    python -m openrlhf.cli.train_ppo_ray ... --n_samples_per_prompt 8 \\
        --remote_rm_url "$(python -c 'import ra_agents.integrations.openrlhf as m; print(m.__file__)')"

(``RA_AGENTS_REWARD_GROUP_WAIT_S`` sets the wait, default 300 s; without a judge URL the
judge is ``Judge()`` from ``RA_AGENTS_MODEL``/``RA_AGENTS_API_BASE`` and ``[backend]``.) Or
write a file of your own: ``reward_func = GroupedReward(judge, principle=..., group_size=8)``.
A label ``{"principle": ...}`` (or that object as JSON text) gives its sample's principle.

Each waiting sample holds the thread it was called on. OpenRLHF's threads are the event
loop's default pool (``min(32, CPUs + 4)`` threads): with more samples waiting than that,
the samples that would complete their groups queue behind the waiting ones, and every group
would time out. So while a sample waits, the pool it runs on may start one thread more
(managed blocking, as Java's ForkJoinPool does for blocked tasks): the queued samples run
and the groups complete. This reads the standard ``ThreadPoolExecutor``'s private fields;
on a pool it cannot recognise nothing is changed and an overfull pool ends in the error
above. Over HTTP (``--remote_rm_url http://judge:8080/v1/rewards/openrlhf``) waiting holds
no thread at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ra_agents import JudgeResult, Judging, UsageError
from ra_agents.groups import (
    DEFAULT_WAIT_S,
    GroupBuffer,
    SampleReward,
    principle_of_label,
    response_of,
    reward_judge,
    reward_settings,
)
from ra_agents.sync import run_sync

__all__ = ["GroupedReward", "reward_func", "DEFAULT_WAIT_S"]


class GroupedReward:
    """OpenRLHF's ``reward_func``, judging each prompt's whole group in one call.

    Args:
        judge: any :class:`ra_agents.Judging` (a local ``Judge``, or ``Client(url)`` of a judge server).
        principle: the principle of samples whose label carries none.
        group_size: samples per prompt (OpenRLHF's ``--n_samples_per_prompt``).
        wait_s: longest wait after a group's first sample before its samples fail.
    """

    def __init__(
        self, judge: Judging, *, principle: str | None = None, group_size: int = 8, wait_s: float = DEFAULT_WAIT_S
    ) -> None:
        if group_size < 1 or wait_s <= 0:
            raise UsageError(f"group_size must be at least 1 and wait_s above 0, got {group_size} and {wait_s}")
        self.judge = judge
        self.principle = principle
        self.group_size = group_size
        self.wait_s = wait_s
        self._buffer: GroupBuffer | None = None

    def _group_buffer(self) -> GroupBuffer:
        """The buffer, made on the one loop every call runs on (the sync portal's)."""
        if self._buffer is None:

            async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
                return await self.judge.ajudge(principle, prompt, responses)

            self._buffer = GroupBuffer(judge_group, group_size=self.group_size, wait_s=self.wait_s)
        return self._buffer

    def _principle(self, label: Any, index: int) -> str:
        principle = principle_of_label(label) or self.principle
        if not principle:
            raise UsageError(
                f'no principle for sample {index}: put one in its label ({{"principle": ...}}), '
                "pass principle=, or set RA_AGENTS_REWARD_PRINCIPLE"
            )
        return principle

    async def arewards(
        self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None = None
    ) -> list[SampleReward]:
        """Each sample's reward once its group is complete and judged (in order); raises a sample's error."""
        if len(prompts) != len(queries) or (labels is not None and len(labels) != len(queries)):
            raise UsageError("queries, prompts and labels must have one item per sample")
        samples = [
            (self._principle(labels[i] if labels is not None else None, i), prompt, response_of(query, prompt))
            for i, (query, prompt) in enumerate(zip(queries, prompts, strict=True))
        ]
        buffer = self._group_buffer()
        outcomes = await asyncio.gather(*(buffer.reward(*s) for s in samples), return_exceptions=True)
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            raise failure
        return [o for o in outcomes if isinstance(o, SampleReward)]

    def __call__(
        self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """OpenRLHF's call: ``{"rewards", "scores", "extra_logs"}``, tensors when torch is installed."""
        with _lend_a_thread():
            rewards = run_sync(self.arewards(queries, prompts, labels), async_name="GroupedReward.arewards")
        values = [r.reward for r in rewards]
        logs = {
            "judge_score": [r.score for r in rewards],
            "group_size": [float(r.group_size) for r in rewards],
            "group_wait_s": [r.wait_s for r in rewards],
        }
        return {
            "rewards": _tensor(values),
            "scores": _tensor(values),
            "extra_logs": {k: _tensor(v) for k, v in logs.items()},
        }


@contextlib.contextmanager
def _lend_a_thread() -> Iterator[None]:
    """While this thread blocks, let the ``ThreadPoolExecutor`` it belongs to run one thread more."""
    args = getattr(threading.current_thread(), "_args", ())
    ref = args[0] if args and isinstance(args[0], weakref.ref) else None
    pool = ref() if ref is not None else None
    if not isinstance(pool, ThreadPoolExecutor) or not hasattr(pool, "_adjust_thread_count"):
        yield
        return
    with pool._shutdown_lock:
        pool._max_workers += 1
        pool._adjust_thread_count()  # a thread for the work queued behind this one
    try:
        yield
    finally:
        with pool._shutdown_lock:
            pool._max_workers -= 1


def _tensor(values: list[float]) -> Any:
    """``values`` as a float tensor (OpenRLHF's own examples return tensors), or the list without torch."""
    try:
        import torch
    except ImportError:
        return values
    return torch.tensor(values, dtype=torch.float)


_default: GroupedReward | None = None
_default_lock = threading.Lock()


def _from_environment() -> GroupedReward:
    """The :class:`GroupedReward` the ``RA_AGENTS_REWARD_*`` variables (or ``[reward]``) describe."""
    settings = reward_settings()
    return GroupedReward(
        reward_judge(settings),
        principle=settings.principle,
        group_size=settings.group_size,
        wait_s=settings.group_wait_s,
    )


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """OpenRLHF's entry point: the :class:`GroupedReward` of the ``RA_AGENTS_REWARD_*`` variables."""
    global _default
    with _default_lock:
        if _default is None:
            _default = _from_environment()
    return _default(queries, prompts, labels, **kwargs)
