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
relative to a known-good run and the metadata says whether the output beat it. With
``continuous=False`` the score is ra-agents' one acceptance rule, :func:`ra_agents.accepts`
(the output's unit score against ``threshold``). When the judge fails, ``on_judge_error``
decides (default ``"fail_closed"``: score 0 / ``False``; ``"fail_open"``: 1 / ``True``;
both with the error in the comment; ``"raise"``: the error propagates). Rows the evaluator
cannot read give LangSmith's failed-evaluator shape (``"score": None``, see
:mod:`ra_agents.integrations.langsmith`), never an exception.

:func:`arank_trajectories` ranks N trajectories of one task in ONE call: the group reward
that ART's RULER made popular, here under a principle. :func:`trajectory_rewards` turns the
verdict into per-trajectory rewards in [0, 1]. Both live in the core,
:mod:`ra_agents.trajectory`, and are importable from here too.

Trajectories are rendered by :func:`ra_agents.trajectory.render_trajectory` (one block per
step, long tool outputs shortened by its documented rule) and left out of the task they
begin with (:func:`ra_agents.trajectory.trajectory_request`); the task the agents share is
shown once, as the judge's prompt, read by :func:`ra_agents.prompt_text` as every
ra-agents entry point reads a prompt (a lone user message is its text; a longer
conversation a transcript, system messages included). The judge is any
:class:`ra_agents.Judging`: a local :class:`ra_agents.Judge` or an HTTP client. Nothing
here imports a framework.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol, Unpack

from ra_agents import (
    DEFAULT_ON_JUDGE_ERROR,
    DEFAULT_THRESHOLD,
    Judge,
    JudgeResult,
    Judging,
    OnJudgeError,
    RAError,
    UsageError,
    accepts,
    prompt_text,
)
from ra_agents.acceptance import check_on_judge_error, check_threshold
from ra_agents.feedback import OUTPUT, REFERENCE, judge_failure_feedback, unread_feedback, verdict_feedback
from ra_agents.principles import PrincipleLike, principle_text
from ra_agents.sync import run_sync
from ra_agents.trajectory import (
    TrajectoryOptions,
    arank_trajectories,
    is_trajectory,
    rank_trajectories,
    trajectory_messages,
    trajectory_request,
    trajectory_rewards,
)

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
    judge: Judging | None = None,
    feedback_key: str = "trajectory_principle",
    continuous: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    on_judge_error: OnJudgeError = DEFAULT_ON_JUDGE_ERROR,
    **options: Unpack[TrajectoryOptions],
) -> TrajectoryEvaluator:
    """An evaluator that scores an agent's trajectory under ``principle``, one judge call per row.

    Args:
        principle: what to value in how the agent worked (text or a :class:`~ra_agents.Principle`).
        judge: the judge (any :class:`~ra_agents.Judging`); ``None`` builds the configured
            one (:class:`~ra_agents.Judge`).
        feedback_key: the result's ``key``.
        continuous: a score in [0, 1] (the logprob-weighted expected score when the backend
            gives logprobs, else the normalised score). ``False`` gives a boolean:
            :func:`ra_agents.accepts`, whether that score reaches ``threshold`` (with a
            reference too; whether the output beat it is ``metadata["beats_reference"]``).
        threshold: the unit score a boolean score needs to be ``True`` (default 0.5: 3 of 1-5).
        on_judge_error: what a judge failure gives: ``"fail_closed"`` (score 0 / ``False``),
            ``"fail_open"`` (score 1 / ``True``), or ``"raise"``.
        **options: trajectory rendering options (``max_tool_chars``, ``max_arg_chars``,
            ``max_text_chars``, ``system``; see :func:`ra_agents.trajectory.render_trajectory`).

    Returns:
        A function called by keyword with ``outputs``, optional ``reference_outputs`` and
        optional ``inputs`` (the task: text, messages or a LangSmith inputs dict; without
        it, the leading user messages the trajectories share are the task), returning
        ``{"key", "score", "comment", "metadata"}``. ``metadata`` holds the raw score, the
        ``verdict`` (:func:`ra_agents.verdict_to_dict`) and, with a reference,
        ``beats_reference`` and ``reference_score``.

    Raises:
        UsageError: an empty principle, a threshold outside [0, 1], or an unknown
            ``on_judge_error``. Once built, the evaluator returns feedback for a row rather
            than raising, unless ``on_judge_error="raise"``.
    """
    scorer = _Scorer(principle, judge, feedback_key, continuous, threshold, on_judge_error, options)

    def evaluate(*, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any) -> dict[str, Any]:
        return run_sync(
            scorer.evaluate(inputs, outputs, reference_outputs),
            async_name="create_async_trajectory_principle_evaluator(...)",
        )

    evaluate.__name__ = feedback_key
    return evaluate


def create_async_trajectory_principle_evaluator(
    *,
    principle: PrincipleLike,
    judge: Judging | None = None,
    feedback_key: str = "trajectory_principle",
    continuous: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    on_judge_error: OnJudgeError = DEFAULT_ON_JUDGE_ERROR,
    **options: Unpack[TrajectoryOptions],
) -> AsyncTrajectoryEvaluator:
    """The async form of :func:`create_trajectory_principle_evaluator` (for ``langsmith.aevaluate``)."""
    scorer = _Scorer(principle, judge, feedback_key, continuous, threshold, on_judge_error, options)

    async def aevaluate(
        *, outputs: Any, reference_outputs: Any = None, inputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await scorer.evaluate(inputs, outputs, reference_outputs)

    aevaluate.__name__ = feedback_key
    return aevaluate


# --------------------------------------------------------------------- helpers


class _Scorer:
    """One scorer behind both evaluator shells: a row to a judge request, a verdict to feedback."""

    def __init__(
        self,
        principle: PrincipleLike,
        judge: Judging | None,
        key: str,
        continuous: bool,
        threshold: float,
        on_judge_error: OnJudgeError,
        options: TrajectoryOptions,
    ) -> None:
        principle_text(principle)  # a blank principle fails here
        self.principle = principle
        self.judge: Judging = judge if judge is not None else Judge()
        self.continuous = continuous
        self.threshold = check_threshold(threshold)
        self.options = options
        self.key = key
        self.on_judge_error = check_on_judge_error(on_judge_error)

    async def evaluate(self, inputs: Any, outputs: Any, reference_outputs: Any) -> dict[str, Any]:
        try:
            prompt, texts = self.request(inputs, outputs, reference_outputs)
        except RAError as exc:
            return self.error(exc)
        try:
            result = await self.judge.ajudge(self.principle, prompt, texts)
        except RAError as exc:
            feedback = judge_failure_feedback(exc, self.key, self.on_judge_error)  # raises with "raise"
            if not self.continuous:
                feedback["score"] = self.on_judge_error == "fail_open"
            return feedback
        return self.feedback(result)

    def request(self, inputs: Any, outputs: Any, reference_outputs: Any) -> tuple[str, dict[str, Any]]:
        output = _trajectory(outputs, "outputs")
        if output is None:
            raise UsageError(
                f"there is no trajectory to judge in the outputs ({outputs!r}); did the agent fail? "
                "Give its messages, or a state with 'messages'"
            )
        trajectories = {OUTPUT: output}
        reference = _trajectory(reference_outputs, "reference_outputs")
        if reference is not None:
            trajectories[REFERENCE] = reference
        return trajectory_request(_task(inputs), trajectories, **self.options)

    def feedback(self, result: JudgeResult) -> dict[str, Any]:
        feedback = verdict_feedback(result, self.key)
        if not self.continuous:
            feedback["score"] = accepts(result, OUTPUT, self.threshold)
        return feedback

    def error(self, exc: RAError) -> dict[str, Any]:
        return {**unread_feedback(exc, self.key), "metadata": {"error": type(exc).__name__}}


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
    """The task in openevals' ``inputs``: messages stay messages (left out of the runs), anything else is text."""
    if _empty(inputs):
        return None
    value = next(iter(inputs.values())) if isinstance(inputs, Mapping) and len(inputs) == 1 else inputs
    if is_trajectory(value) or isinstance(value, str):
        return value
    return prompt_text(inputs)
