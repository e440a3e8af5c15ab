"""Principle evaluators shaped like openevals' ``create_llm_as_judge``.

Code written for `openevals <https://github.com/langchain-ai/openevals>`_ can swap its
LLM-as-judge for the principle-following judge without changing how it calls or reads
the evaluator (openevals itself is not needed)::

    from ra_agents.integrations.openevals import create_principle_evaluator

    concise = create_principle_evaluator(principle="Correct first, then short.", continuous=True)
    concise(inputs={"question": "2+2?"}, outputs={"answer": "4"})
    # {"key": "score", "score": 1.0, "comment": "score: 5/5\\n...", "metadata": {...}}

What matches openevals (``create_llm_as_judge`` / ``create_async_llm_as_judge`` in
``openevals/llm.py``, ``EvaluatorResult`` in ``openevals/types.py``):

- The factories take keyword-only arguments with openevals' names and defaults:
  ``judge=None``, ``feedback_key="score"``, ``continuous=False``, ``choices=None``,
  ``use_reasoning=True``.
- The evaluator is called with keyword arguments ``inputs``, ``outputs``,
  ``reference_outputs`` (and ``**kwargs``), so ``langsmith.evaluate`` and
  ``aevaluate`` call it directly, and returns ``{"key", "score", "comment", "metadata"}``
  (no ``source_run_id``, as openevals' single-score evaluators leave it out).
- ``key`` is ``feedback_key``. ``continuous=False`` gives a bool score, ``continuous=True``
  a float in [0, 1], and ``choices`` (which wins over ``continuous``) one of the choices.
  ``use_reasoning=False`` gives ``comment: None``. Failures raise by default, as
  openevals' do (``on_judge_error="raise"``).

Where it differs:

- ``principle`` replaces openevals' ``prompt``: the judge has its own listwise prompt;
  there is no ``model``, ``system``, ``few_shot_examples`` or ``output_schema``, and
  ``judge`` is any :class:`ra_agents.Judging` (a local :class:`ra_agents.Judge`, an HTTP
  :class:`ra_agents.Client` or :class:`ra_agents.AsyncClient`; ``None`` builds the
  configured :class:`~ra_agents.Judge`), not a chat model or OpenAI client. Extra
  ``**kwargs`` are accepted and ignored (openevals formats them into its prompt). The
  prompt is read from ``inputs`` by :func:`ra_agents.prompt_text`, as every ra-agents
  entry point reads it.
- The score is derived from the judge's 1-5 score (``unit_score``: the logprob-weighted
  expected score when the backend gives logprobs, else the integer score, mapped to
  [0, 1]) rather than chosen by the model: ``continuous=True`` returns it as is (the same
  number :func:`ra_agents.integrations.langsmith.create_run_evaluator` reports); the bool
  is ra-agents' one acceptance rule, :func:`ra_agents.accepts` (``unit_score >= threshold``,
  default :data:`ra_agents.DEFAULT_THRESHOLD`, 0.5: a 3 of 5) where openevals asks the
  model whether "the criteria are met"; ``choices`` places the unit score linearly on
  ``[min(choices), max(choices)]`` and takes the nearest choice (the lower on a tie), so
  ``[0, 0.5, 1]`` and ``[1, 2, 3, 4, 5]`` both work.
- ``comment`` starts with a one-line summary (``score: 4/5``, and how the output fared
  against the reference) before the judge's reasoning; ``use_reasoning`` only decides
  whether the comment is returned (the judge's own protocol decides whether it reasons).
- ``metadata`` is a dict, not ``None``: ``raw_score``, ``unit_score``, the ``verdict``
  (:func:`ra_agents.verdict_to_dict`) and, with a reference, ``beats_reference`` and
  ``reference_score``.
- ``on_judge_error`` says what a judge failure gives: ``"raise"`` (the default, as
  openevals), ``"fail_closed"`` (a failing score: ``False``, ``0.0`` or the lowest choice)
  or ``"fail_open"`` (``True``, ``1.0`` or the highest choice); the two give the error as
  ``comment`` and ``{"error": "<ErrorType>", "on_judge_error": ...}`` as ``metadata``.
  Outputs the evaluator cannot read always raise :class:`ra_agents.UsageError`.
- With ``reference_outputs``, the output and the reference are judged together in one
  listwise call (as ``create_run_evaluator`` does) and ``score`` is the output's; openevals
  formats the reference into the prompt instead.
- No LangSmith tracing of its own: openevals wraps each call in a ``traceable`` run and
  logs feedback inside LangSmith's pytest integration; this one does neither.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from ra_agents import (
    DEFAULT_THRESHOLD,
    Judge,
    JudgeResult,
    Judging,
    OnJudgeError,
    PrincipleLike,
    RAError,
    UsageError,
    accepts,
)
from ra_agents.acceptance import check_on_judge_error, check_threshold
from ra_agents.feedback import (
    OUTPUT,
    Extractor,
    judge_failure_feedback,
    row_request,
    verdict_feedback,
)
from ra_agents.principles import principle_text
from ra_agents.sync import run_sync

__all__ = [
    "PrincipleEvaluator",
    "AsyncPrincipleEvaluator",
    "create_principle_evaluator",
    "create_async_principle_evaluator",
]


class PrincipleEvaluator(Protocol):
    """What :func:`create_principle_evaluator` returns.

    The result has exactly openevals' ``EvaluatorResult`` keys: ``key``, ``score`` (a bool,
    a float in [0, 1], or one of ``choices``), ``comment`` (text or ``None``) and ``metadata``.
    It is typed as a plain dict so that ``langsmith.evaluate`` accepts the evaluator.
    """

    def __call__(
        self, *, inputs: Any = None, outputs: Any = None, reference_outputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]: ...


class AsyncPrincipleEvaluator(Protocol):
    """What :func:`create_async_principle_evaluator` returns: a coroutine function."""

    def __call__(
        self, *, inputs: Any = None, outputs: Any = None, reference_outputs: Any = None, **kwargs: Any
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...


def create_principle_evaluator(
    *,
    principle: PrincipleLike,
    judge: Judging | None = None,
    feedback_key: str = "score",
    continuous: bool = False,
    choices: Sequence[float] | None = None,
    use_reasoning: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    on_judge_error: OnJudgeError = "raise",
    prompt_from: Extractor = None,
    candidates_from: Extractor = None,
    reference: Extractor | bool = True,
) -> PrincipleEvaluator:
    """An openevals-style evaluator that scores an output under ``principle``.

    Args:
        principle: what to value (text or a :class:`~ra_agents.Principle`).
        judge: the judge (any :class:`~ra_agents.Judging`); ``None`` builds the configured one.
        feedback_key: the result's ``key``.
        continuous: a float score in [0, 1] instead of a bool.
        choices: the score is the choice nearest the judge's score (see the module docs);
            wins over ``continuous``.
        use_reasoning: return the judge's reasoning as ``comment`` (else ``None``).
        threshold: the unit score a bool score needs to be ``True`` (:func:`ra_agents.accepts`).
        on_judge_error: what a judge failure gives: ``"raise"`` (the error propagates, as
            in openevals), ``"fail_closed"`` (a failing score) or ``"fail_open"`` (a passing one).
        prompt_from: which value of ``inputs`` holds the prompt (a key, a function, or
            ``None``: the only value of a dict, or the whole inputs), read by
            :func:`ra_agents.prompt_text`.
        candidates_from: how to read the judged output from ``outputs`` (same rules).
        reference: how to read the reference from ``reference_outputs``: ``True`` like
            the output, a key or a function, ``False`` to ignore references.

    Returns:
        A function ``(*, inputs=None, outputs=None, reference_outputs=None, **kwargs) ->
        {"key", "score", "comment", "metadata"}``, one listwise judge call per call.

    Raises:
        UsageError: a blank principle, a threshold outside [0, 1], an unknown
            ``on_judge_error``, or fewer than two distinct choices. The evaluator raises
            :class:`~ra_agents.UsageError` for outputs it cannot read and, with
            ``on_judge_error="raise"``, the judge's errors as they come.
    """
    scorer = _Scorer(
        principle,
        feedback_key,
        continuous,
        choices,
        use_reasoning,
        threshold,
        on_judge_error,
        prompt_from,
        candidates_from,
        reference,
    )
    used = judge if judge is not None else Judge()

    def evaluate(
        *, inputs: Any = None, outputs: Any = None, reference_outputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        return run_sync(
            scorer.evaluate(used, principle, inputs, outputs, reference_outputs),
            async_name="create_async_principle_evaluator(...)",
        )

    evaluate.__name__ = feedback_key
    return evaluate


def create_async_principle_evaluator(
    *,
    principle: PrincipleLike,
    judge: Judging | None = None,
    feedback_key: str = "score",
    continuous: bool = False,
    choices: Sequence[float] | None = None,
    use_reasoning: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    on_judge_error: OnJudgeError = "raise",
    prompt_from: Extractor = None,
    candidates_from: Extractor = None,
    reference: Extractor | bool = True,
) -> AsyncPrincipleEvaluator:
    """The async form of :func:`create_principle_evaluator` (openevals' ``create_async_llm_as_judge``)."""
    scorer = _Scorer(
        principle,
        feedback_key,
        continuous,
        choices,
        use_reasoning,
        threshold,
        on_judge_error,
        prompt_from,
        candidates_from,
        reference,
    )
    used = judge if judge is not None else Judge()

    async def aevaluate(
        *, inputs: Any = None, outputs: Any = None, reference_outputs: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await scorer.evaluate(used, principle, inputs, outputs, reference_outputs)

    aevaluate.__name__ = feedback_key
    return aevaluate


class _Scorer:
    """The pure part of both evaluators: a row to a judge request, a verdict to a result."""

    def __init__(
        self,
        principle: PrincipleLike,
        feedback_key: str,
        continuous: bool,
        choices: Sequence[float] | None,
        use_reasoning: bool,
        threshold: float,
        on_judge_error: OnJudgeError,
        prompt_from: Extractor,
        candidates_from: Extractor,
        reference: Extractor | bool,
    ) -> None:
        principle_text(principle)  # a blank principle fails here
        if not isinstance(feedback_key, str) or not feedback_key:
            raise UsageError(f"feedback_key must be a non-empty string, got {feedback_key!r}")
        self.key = feedback_key
        self.prompt_from = prompt_from
        self.candidates_from = candidates_from
        self.reference = reference
        self.on_judge_error = check_on_judge_error(on_judge_error)
        self.continuous = continuous
        self.choices = _check_choices(choices)
        self.use_reasoning = use_reasoning
        self.threshold = check_threshold(threshold)

    async def evaluate(
        self, judge: Judging, principle: PrincipleLike, inputs: Any, outputs: Any, reference_outputs: Any
    ) -> dict[str, Any]:
        """One row: unreadable outputs raise; a judge failure goes by ``on_judge_error``."""
        prompt_source: Any = "" if inputs is None else inputs  # openevals allows no inputs
        prompt, responses = row_request(
            prompt_source,
            outputs,
            reference_outputs,
            prompt_from=self.prompt_from,
            candidates_from=self.candidates_from,
            reference=self.reference,
        )
        try:
            verdict = await judge.ajudge(principle, prompt, responses)
        except RAError as exc:
            return self.failed(exc)
        return self.result(verdict)

    def result(self, verdict: JudgeResult) -> dict[str, Any]:
        feedback = verdict_feedback(verdict, self.key)
        unit = feedback["score"]
        return {
            "key": feedback["key"],
            "score": self._score(unit, accepts(verdict, OUTPUT, self.threshold)),
            "comment": feedback["comment"] if self.use_reasoning else None,
            "metadata": {**feedback["metadata"], "unit_score": unit},
        }

    def failed(self, exc: RAError) -> dict[str, Any]:
        feedback = judge_failure_feedback(exc, self.key, self.on_judge_error)  # raises with on_judge_error="raise"
        passing = self.on_judge_error == "fail_open"
        return {
            "key": feedback["key"],
            "score": self._score(feedback["score"], passing),
            "comment": feedback["comment"],
            "metadata": feedback["metadata"],
        }

    def _score(self, unit: float, accepted: bool) -> float | bool:
        if self.choices:
            return _nearest_choice(unit, self.choices)
        return unit if self.continuous else accepted


def _check_choices(choices: Sequence[float] | None) -> tuple[float, ...]:
    if choices is None:
        return ()
    if isinstance(choices, str | bytes) or not all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in choices
    ):
        raise UsageError(f"choices must be a list of numbers, e.g. [0, 0.5, 1], got {choices!r}")
    if len(set(choices)) < 2:
        raise UsageError(f"choices needs at least two distinct numbers to choose between, got {list(choices)!r}")
    return tuple(choices)


def _nearest_choice(unit: float, choices: Sequence[float]) -> float:
    """The choice nearest ``unit`` placed on ``[min(choices), max(choices)]``; the lower one on a tie."""
    low, high = min(choices), max(choices)
    target = low + unit * (high - low)
    return min(sorted(set(choices)), key=lambda c: abs(c - target))
