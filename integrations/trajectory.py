"""Judge agent trajectories under a principle: an evaluator in agentevals' shapes, and group ranking.

The evaluator takes what agentevals' and openevals' trajectory evaluators take, by
keyword: ``outputs`` (the agent's messages: OpenAI message dicts or LangChain messages,
a state with ``messages``, or a LangSmith outputs dict holding one), an optional
``reference_outputs`` in the same shapes, and an optional ``inputs``. It returns their
result shape ``{"key", "score", "comment", "metadata"}``, and so runs as is under
``langsmith.evaluate`` too::

    from ra_agents.integrations.trajectory import create_trajectory_principle_evaluator

    evaluator = create_trajectory_principle_evaluator(
        principle="Call a tool for facts; never invent them. Fewer steps are better.", judge=judge
    )
    evaluator(outputs=agent_messages, reference_outputs=good_run_messages)

A reference trajectory is judged in the same listwise call as the output, so the score is
relative to a known-good run and the metadata says whether the output beat it. Rows the
judge cannot judge give LangSmith's failed-evaluator shape (``"score": None``, see
:mod:`ra_agents.integrations.langsmith`), never an exception.

:func:`arank_trajectories` ranks N trajectories of one task in ONE call: the group reward
that ART's RULER made popular, here under a principle. :func:`trajectory_rewards` turns the
verdict into per-trajectory rewards in [0, 1].

Trajectories are rendered by :func:`ra_agents.trajectory.render_trajectory` (one block per
step, long tool outputs shortened by its documented rule); the task the agents share is
shown once, as the judge's prompt (:func:`ra_agents.trajectory.trajectory_request`).
Nothing here imports a framework.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol, Unpack

from ra_agents import Judge, JudgeResult, RAError, UsageError
from ra_agents._sync import run_sync
from ra_agents.integrations.langsmith import _OUTPUT, _REFERENCE, _prompt_text, _Request
from ra_agents.principle import PrincipleLike, principle_text
from ra_agents.trajectory import TrajectoryOptions, is_trajectory, trajectory_messages, trajectory_request

__all__ = [
    "create_trajectory_principle_evaluator",
    "create_async_trajectory_principle_evaluator",
    "rank_trajectories",
    "arank_trajectories",
    "trajectory_rewards",
    "TrajectoryEvaluator",
    "AsyncTrajectoryEvaluator",
]


class TrajectoryEvaluator(Protocol):
    """What :func:`create_trajectory_principle_evaluator` returns."""

    def __call__(
        self, *, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]: ...


class AsyncTrajectoryEvaluator(Protocol):
    """What :func:`create_async_trajectory_principle_evaluator` returns: a coroutine function."""

    def __call__(
        self, *, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...


def create_trajectory_principle_evaluator(
    *,
    principle: PrincipleLike,
    judge: Judge | None = None,
    feedback_key: str = "trajectory_principle",
    continuous: bool = True,
    **options: Unpack[TrajectoryOptions],
) -> TrajectoryEvaluator:
    """An evaluator that scores an agent's trajectory under ``principle``, one judge call per row.

    Args:
        principle: what to value in how the agent worked (text or a :class:`~ra_agents.Principle`).
        judge: the judge; ``None`` builds the configured one (:class:`~ra_agents.Judge`).
        feedback_key: the result's ``key``.
        continuous: a score in [0, 1] (the logprob-weighted expected score when the backend
            gives logprobs, else the normalised score). ``False`` gives a boolean: with a
            reference, whether the trajectory scored at least as high as the reference;
            without, whether its score reaches the middle of the scale (3 of 1-5).
        **options: trajectory rendering options (``max_tool_chars``, ``max_arg_chars``,
            ``max_text_chars``, ``system``; see :func:`ra_agents.trajectory.render_trajectory`).

    Returns:
        A function called by keyword with ``outputs``, optional ``reference_outputs`` and
        optional ``inputs`` (the task: text, messages or a LangSmith inputs dict; without
        it, the leading user messages the trajectories share are the task), returning
        ``{"key", "score", "comment", "metadata"}``. ``metadata`` holds the raw score, the
        ranking and, with a reference, ``beats_reference`` and ``reference_score``.

    Raises:
        UsageError: an empty principle. Once built, the evaluator returns error feedback
            for a row rather than raising.
    """
    scorer = _Scorer(principle, judge, feedback_key, continuous, options)

    def evaluate(*, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any) -> dict[str, Any]:
        try:
            prompt, texts = scorer.request(inputs, outputs, reference_outputs)
            return scorer.feedback(scorer.judge.judge(scorer.principle, prompt, texts))
        except RAError as exc:
            return scorer.error(exc)

    evaluate.__name__ = feedback_key
    return evaluate


def create_async_trajectory_principle_evaluator(
    *,
    principle: PrincipleLike,
    judge: Judge | None = None,
    feedback_key: str = "trajectory_principle",
    continuous: bool = True,
    **options: Unpack[TrajectoryOptions],
) -> AsyncTrajectoryEvaluator:
    """The async form of :func:`create_trajectory_principle_evaluator` (for ``langsmith.aevaluate``)."""
    scorer = _Scorer(principle, judge, feedback_key, continuous, options)

    async def aevaluate(
        *, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            prompt, texts = scorer.request(inputs, outputs, reference_outputs)
            return scorer.feedback(await scorer.judge.ajudge(scorer.principle, prompt, texts))
        except RAError as exc:
            return scorer.error(exc)

    aevaluate.__name__ = feedback_key
    return aevaluate


async def arank_trajectories(
    judge: Judge,
    principle: PrincipleLike,
    task: Any,
    trajectories: Mapping[str, Any] | Sequence[Any],
    *,
    permutations: int | None = None,
    seed: int | None = None,
    **options: Unpack[TrajectoryOptions],
) -> JudgeResult:
    """Rank N trajectories of the same task in ONE listwise judge call.

    Args:
        judge: the judge.
        principle: what to value in how the agents worked.
        task: what the agents were asked: text, the input messages (shown once, and left out
            of each trajectory that begins with them), or ``None`` to use the leading user
            messages all trajectories share.
        trajectories: name -> trajectory, or a list of them (named ``"0"``, ``"1"``...).
        permutations: passes over shuffled orders (the judge's setting when ``None``).
        seed: the shuffle seed (the judge's when ``None``).
        **options: rendering options, see :func:`ra_agents.trajectory.render_trajectory`.
            The trajectories reach the judge already rendered, so its ``render`` is not used.

    Raises:
        UsageError: bad trajectories or no task. BackendError, VerdictError: as
            :meth:`Judge.ajudge <ra_agents.Judge.ajudge>`.
    """
    prompt, texts = trajectory_request(task, trajectories, **options)
    return await judge.ajudge(principle, prompt, texts, permutations=permutations, seed=seed)


def rank_trajectories(
    judge: Judge,
    principle: PrincipleLike,
    task: Any,
    trajectories: Mapping[str, Any] | Sequence[Any],
    *,
    permutations: int | None = None,
    seed: int | None = None,
    **options: Unpack[TrajectoryOptions],
) -> JudgeResult:
    """Synchronous :func:`arank_trajectories`."""
    return run_sync(
        arank_trajectories(judge, principle, task, trajectories, permutations=permutations, seed=seed, **options),
        async_name="arank_trajectories",
    )


def trajectory_rewards(result: JudgeResult) -> dict[str, float]:
    """Per-trajectory rewards in [0, 1], in the order the trajectories were given.

    Each is :meth:`JudgeResult.unit_score <ra_agents.JudgeResult.unit_score>`: the
    logprob-weighted expected score when the backend gives logprobs (which breaks ties),
    else the integer score mapped from the scale. ``list(rewards.values())`` is the
    group's reward vector for a GRPO-style update.
    """
    return {name: result.unit_score(name) for name in result.names}


# --------------------------------------------------------------------- helpers


class _Scorer:
    """One scorer behind both evaluator shells: a row to a judge request, a verdict to feedback."""

    def __init__(
        self,
        principle: PrincipleLike,
        judge: Judge | None,
        key: str,
        continuous: bool,
        options: TrajectoryOptions,
    ) -> None:
        self.principle = principle_text(principle)
        self.judge = judge if judge is not None else Judge()
        self.continuous = continuous
        self.options = options
        self._shape = _Request(self.principle, {"key": key})  # the LangSmith evaluator's feedback shape

    def request(self, inputs: Any, outputs: Any, reference_outputs: Any) -> tuple[str, dict[str, Any]]:
        output = _trajectory(outputs, "outputs")
        if output is None:
            raise UsageError(
                f"there is no trajectory to judge in the outputs ({outputs!r}); did the agent fail? "
                "Give its messages, or a state with 'messages'"
            )
        trajectories = {_OUTPUT: output}
        reference = _trajectory(reference_outputs, "reference_outputs")
        if reference is not None:
            trajectories[_REFERENCE] = reference
        return trajectory_request(_task(inputs), trajectories, **self.options)

    def feedback(self, result: JudgeResult) -> dict[str, Any]:
        feedback = self._shape.feedback(result)
        if not self.continuous:
            raw = result.scores[_OUTPUT]
            if _REFERENCE in result.scores:
                feedback["score"] = raw >= result.scores[_REFERENCE]
            else:
                low, high = result.scale
                feedback["score"] = raw >= (low + high) / 2
        return feedback

    def error(self, exc: RAError) -> dict[str, Any]:
        return {**self._shape.error(exc), "metadata": {"error": type(exc).__name__}}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, Mapping, Sequence)) and not value)


def _trajectory(value: Any, where: str) -> list[Any] | None:
    """The messages in an agentevals-shaped value, ``None`` when it is empty.

    Accepts a message list, a state with ``messages``, one message, or a mapping whose
    only value is one of those (LangSmith wraps a target's non-dict output as ``{"output": ...}``).
    """
    if _empty(value):
        return None
    if isinstance(value, Mapping) and not is_trajectory(value):
        if is_trajectory([value]):
            return [value]
        if len(value) == 1:
            return _trajectory(next(iter(value.values())), where)
    if not is_trajectory(value):
        shape = f"a dict with keys {sorted(map(str, value))}" if isinstance(value, Mapping) else type(value).__name__
        raise UsageError(
            f"the {where} hold no trajectory ({shape}); give a list of messages or a state with 'messages'"
        )
    return trajectory_messages(value)


def _task(inputs: Any) -> Any:
    """The task in openevals' ``inputs``: messages stay messages, anything else becomes text."""
    if _empty(inputs):
        return None
    value = next(iter(inputs.values())) if isinstance(inputs, Mapping) and len(inputs) == 1 else inputs
    if is_trajectory(value) or isinstance(value, str):
        return value
    return _prompt_text(inputs if isinstance(inputs, Mapping) else {"task": inputs}, None)
