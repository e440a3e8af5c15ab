"""LangSmith evaluators that score runs with a principle-following judge.

The evaluators are plain functions with the argument names LangSmith recognises, so
``langsmith.evaluate`` (and ``aevaluate`` for the async variants) calls them directly;
nothing here imports ``langsmith`` itself::

    from langsmith import evaluate
    from ra_agents import Judge
    from ra_agents.integrations.langsmith import create_run_evaluator

    judge = Judge.from_litellm("hosted_vllm/rewardanything", api_base="http://127.0.0.1:8000/v1")
    concise = create_run_evaluator(judge, "Correct first, then as short as possible.", key="concise")
    evaluate(my_app, data="my-dataset", evaluators=[concise])

One evaluation is one listwise judge call. When the example has a reference output,
the run's output and the reference are judged together in that call, so the score is
relative to a known-good answer and the result also says whether the output beat it.

:func:`create_comparative_evaluator` ranks the outputs of several experiments on the same
example in one call, for ``langsmith.evaluate((experiment_a, experiment_b), ...)``.

The prompt is read from the example's ``inputs`` by :func:`ra_agents.prompt_text`, as
every ra-agents entry point reads it: text as is, chat messages (OpenAI dicts or
LangChain messages, system messages included) as one transcript, the only value of a
one-key dict, else the inputs as JSON. The feedback's ``comment`` holds the judge's
reasoning (in the candidates' real names: ``output``, ``reference``, or the run ids), and
its ``metadata["verdict"]`` the whole verdict (:func:`ra_agents.verdict_to_dict`, without
the raw answer texts).

When the judge fails (:class:`ra_agents.VerdictError`, :class:`ra_agents.BackendError`
...), ``on_judge_error`` says what the feedback is, as everywhere in ra-agents
(:mod:`ra_agents.acceptance`): ``"fail_closed"`` (the default of the single-run
evaluators) records score 0, ``"fail_open"`` score 1, both with ``"comment":
"<ErrorType>: <message>"`` and ``"extra": {"error": True}`` so the row can be told
apart; ``"raise"`` (the default of the comparative evaluators) lets the error propagate
(LangSmith then logs it, under the function's source name rather than your key).

A row the evaluator cannot read (a :class:`ra_agents.UsageError` from the extractors,
such as the empty outputs of a target that raised) is not a judge failure: nothing is
judged, and the feedback has the shape LangSmith itself records for a failed evaluator,
``{"key", "score": None, "comment": "UsageError: <what to do>", "extra": {"error":
True}}``, so the row stays visible and averages skip it.

The sync evaluators run the async ones (on ra-agents' event-loop thread), so every
judge works with both: a local :class:`ra_agents.Judge`, an HTTP :class:`ra_agents.Client`
or :class:`ra_agents.AsyncClient`, or anything else that implements
:class:`ra_agents.Judging`.

The factories are named as openevals names its own (``create_..._evaluator``, with
``create_async_..._evaluator`` for the async form): a *run* evaluator scores one run, a
*comparative* evaluator ranks the runs of several experiments (LangSmith's own terms), a
*principles* evaluator judges under several principles. The earlier names still work for
one release and warn with a :class:`DeprecationWarning` naming the new one:

=========================  ======================================
deprecated name            use instead
=========================  ======================================
``principle_evaluator``    :func:`create_run_evaluator`
``aprinciple_evaluator``   :func:`create_async_run_evaluator`
``comparative_evaluator``  :func:`create_comparative_evaluator`
``acomparative_evaluator`` :func:`create_async_comparative_evaluator`
``principles_evaluator``   :func:`create_principles_evaluator`
``aprinciples_evaluator``  :func:`create_async_principles_evaluator`
=========================  ======================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypedDict, Unpack

from ra_agents import (
    DEFAULT_ON_JUDGE_ERROR,
    JudgeResult,
    Judging,
    MultiResult,
    OnJudgeError,
    PrincipleLike,
    RAError,
    UsageError,
    prompt_text,
)
from ra_agents.acceptance import check_on_judge_error
from ra_agents.feedback import (
    OUTPUT,
    Extractor,
    judge_failure_feedback,
    pick,
    row_request,
    unread_feedback,
    verdict_feedback,
)
from ra_agents.judging import MultiMode, PrincipleSet, principle_weights
from ra_agents.principles import principle_text
from ra_agents.sync import run_sync
from ra_agents.warn import warn_at_caller

__all__ = [
    "create_run_evaluator",
    "create_async_run_evaluator",
    "create_comparative_evaluator",
    "create_async_comparative_evaluator",
    "create_principles_evaluator",
    "create_async_principles_evaluator",
    "Extractor",
    "EvaluatorOptions",
    "ComparisonOptions",
    "EvaluatorFn",
    "AsyncEvaluatorFn",
    # deprecated aliases (see the module docs)
    "principle_evaluator",
    "aprinciple_evaluator",
    "comparative_evaluator",
    "acomparative_evaluator",
    "principles_evaluator",
    "aprinciples_evaluator",
]


class EvaluatorFn(Protocol):
    """What :func:`create_run_evaluator` returns (``reference_outputs`` is optional)."""

    def __call__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...


class AsyncEvaluatorFn(Protocol):
    """What :func:`create_async_run_evaluator` returns: a coroutine function."""

    def __call__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...


class ComparisonOptions(TypedDict, total=False):
    """Options of the comparative evaluators.

    Attributes:
        key: the feedback key LangSmith records the scores under
            (default ``"principle_preference"`` for comparisons, ``"principle"`` for single runs).
        prompt_from: which value of the example's ``inputs`` holds the prompt: a key, a
            function of ``inputs``, or ``None`` for the only value (or all inputs). The
            value is read by :func:`ra_agents.prompt_text` (messages become one transcript).
        candidates_from: how to read the candidate from a run's ``outputs``: a key, a
            function of ``outputs``, or ``None`` to use the only value or else the whole dict.
        on_judge_error: what a judge failure gives (see the module docs): ``"fail_closed"``
            (score 0), ``"fail_open"`` (score 1) or ``"raise"``. Defaults: ``"fail_closed"``
            for the single-run evaluators, ``"raise"`` for the comparative ones.
    """

    key: str
    prompt_from: Extractor
    candidates_from: Extractor
    on_judge_error: OnJudgeError


class EvaluatorOptions(ComparisonOptions, total=False):
    """Options of :func:`create_run_evaluator` and :func:`create_async_run_evaluator`.

    Attributes:
        reference: how to read a reference answer from ``reference_outputs``: ``True``
            (the default) reads it like the run's output, a key or function picks it,
            ``False`` ignores references. An empty or missing reference means the output
            is judged alone.
    """

    reference: Extractor | bool


def create_run_evaluator(judge: Judging, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]) -> EvaluatorFn:
    """An evaluator for ``langsmith.evaluate`` that scores each run under ``principle``.

    Args:
        judge: the judge to call (one listwise call per evaluated run): a local
            :class:`~ra_agents.Judge`, an HTTP client, or any :class:`~ra_agents.Judging`.
        principle: what to value: text or a :class:`~ra_agents.Principle`.
        **options: see :class:`EvaluatorOptions` (``key``, ``prompt_from``,
            ``candidates_from``, ``reference``, ``on_judge_error``).

    Returns:
        A function ``(inputs, outputs, reference_outputs) -> {"key", "score", "comment",
        "metadata"}``. ``score`` is the output's unit score in [0, 1]
        (:meth:`ra_agents.JudgeResult.unit_score`: the logprob-weighted expected score when
        the backend gives logprobs); ``comment`` starts with the score and holds the judge's
        reasoning. ``metadata`` holds the output's ``raw_score``, the ``verdict``
        (:func:`ra_agents.verdict_to_dict`) and, with a reference, ``beats_reference`` (the
        output ranked above the reference) and ``reference_score``.

    Raises:
        UsageError: for an empty principle or an unknown ``on_judge_error``. Once built,
            the evaluator raises only with ``on_judge_error="raise"``: see the module docs.
    """
    spec = _Request(principle, options, DEFAULT_ON_JUDGE_ERROR)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await spec.evaluate(judge, principle, inputs, outputs, reference_outputs)

    def evaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return run_sync(
            aevaluate(inputs, outputs, reference_outputs), async_name="create_async_run_evaluator(judge, principle)"
        )

    evaluate.__name__ = spec.key
    return evaluate


def create_async_run_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]
) -> AsyncEvaluatorFn:
    """The async form of :func:`create_run_evaluator`, for ``langsmith.aevaluate``."""
    spec = _Request(principle, options, DEFAULT_ON_JUDGE_ERROR)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await spec.evaluate(judge, principle, inputs, outputs, reference_outputs)

    aevaluate.__name__ = spec.key
    return aevaluate


def create_comparative_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], dict[str, Any]]:
    """A comparative evaluator that ranks several experiments' runs in one listwise call.

    For ``langsmith.evaluate((experiment_a, experiment_b, ...), evaluators=[fn])``.

    Args:
        judge: the judge to call (any :class:`~ra_agents.Judging`).
        principle: what to value, in natural language.
        **options: see :class:`ComparisonOptions` (``key``, ``prompt_from``,
            ``candidates_from``, ``on_judge_error``, default ``"raise"``).

    Returns:
        A function ``(runs, example) -> {"key", "scores", "comment"}`` where ``scores``
        maps each run's id to its unit score in [0, 1]. By default judge failures
        propagate (LangSmith logs them).
    """
    spec = _Comparison(principle, options)

    def compare(runs: Sequence[Any], example: Any) -> dict[str, Any]:
        return run_sync(
            spec.compare(judge, principle, runs, example),
            async_name="create_async_comparative_evaluator(judge, principle)",
        )

    compare.__name__ = spec.key
    return compare


def create_async_comparative_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], Awaitable[dict[str, Any]]]:
    """The async form of :func:`create_comparative_evaluator`."""
    spec = _Comparison(principle, options)

    async def acompare(runs: Sequence[Any], example: Any) -> dict[str, Any]:
        return await spec.compare(judge, principle, runs, example)

    acompare.__name__ = spec.key
    return acompare


def create_principles_evaluator(
    judge: Judging,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> EvaluatorFn:
    """ONE evaluator that records one feedback key per principle (LangSmith's ``{"results": [...]}`` form).

    Each principle is judged in its own listwise call, concurrently (``judge.ajudge_many``);
    every feedback entry has the shape :func:`create_run_evaluator` returns, under the
    principle's name as its key.

    Args:
        judge: the judge (any :class:`~ra_agents.Judging`).
        principles: ``name -> principle`` or ``name -> (principle, weight)``; each name is
            a feedback key.
        weights: ``name -> weight`` for the combined score.
        mode: ``"separate"`` (default): one call per principle, one key each; ``"fold"``:
            one call under the folded principle, recorded under ``combined_key`` only.
        combined_key: also record the weighted combined score under this key (required
            with ``mode="fold"``).
        **options: ``prompt_from``, ``candidates_from``, ``reference``, ``on_judge_error``
            as for :func:`create_run_evaluator` (``key`` is not used).

    Returns:
        A function ``(inputs, outputs, reference_outputs) -> {"results": [feedback, ...]}``.
        A judge failure gives the ``on_judge_error`` feedback under every key.
    """
    multi = _Multi(principles, weights, mode, combined_key, options)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await multi.evaluate(judge, inputs, outputs, reference_outputs)

    def evaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return run_sync(
            aevaluate(inputs, outputs, reference_outputs),
            async_name="create_async_principles_evaluator(judge, principles)",
        )

    evaluate.__name__ = multi.name
    return evaluate


def create_async_principles_evaluator(
    judge: Judging,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> AsyncEvaluatorFn:
    """The async form of :func:`create_principles_evaluator`, for ``langsmith.aevaluate``."""
    multi = _Multi(principles, weights, mode, combined_key, options)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await multi.evaluate(judge, inputs, outputs, reference_outputs)

    aevaluate.__name__ = multi.name
    return aevaluate


# ------------------------------------------------------- deprecated aliases


def _renamed(old: str, new: str) -> None:
    warn_at_caller(
        f"ra_agents.integrations.langsmith.{old} is deprecated and will be removed in the next release; "
        f"use {new} (same arguments)",
        DeprecationWarning,
    )


def principle_evaluator(judge: Judging, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]) -> EvaluatorFn:
    """Deprecated: the earlier name of :func:`create_run_evaluator`."""
    _renamed("principle_evaluator", "create_run_evaluator")
    return create_run_evaluator(judge, principle, **options)


def aprinciple_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]
) -> AsyncEvaluatorFn:
    """Deprecated: the earlier name of :func:`create_async_run_evaluator`."""
    _renamed("aprinciple_evaluator", "create_async_run_evaluator")
    return create_async_run_evaluator(judge, principle, **options)


def comparative_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], dict[str, Any]]:
    """Deprecated: the earlier name of :func:`create_comparative_evaluator`."""
    _renamed("comparative_evaluator", "create_comparative_evaluator")
    return create_comparative_evaluator(judge, principle, **options)


def acomparative_evaluator(
    judge: Judging, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], Awaitable[dict[str, Any]]]:
    """Deprecated: the earlier name of :func:`create_async_comparative_evaluator`."""
    _renamed("acomparative_evaluator", "create_async_comparative_evaluator")
    return create_async_comparative_evaluator(judge, principle, **options)


def principles_evaluator(
    judge: Judging,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> EvaluatorFn:
    """Deprecated: the earlier name of :func:`create_principles_evaluator`."""
    _renamed("principles_evaluator", "create_principles_evaluator")
    return create_principles_evaluator(
        judge, principles, weights=weights, mode=mode, combined_key=combined_key, **options
    )


def aprinciples_evaluator(
    judge: Judging,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> AsyncEvaluatorFn:
    """Deprecated: the earlier name of :func:`create_async_principles_evaluator`."""
    _renamed("aprinciples_evaluator", "create_async_principles_evaluator")
    return create_async_principles_evaluator(
        judge, principles, weights=weights, mode=mode, combined_key=combined_key, **options
    )


# --------------------------------------------------------------------- helpers


def _check_principle(principle: PrincipleLike) -> None:
    principle_text(principle)


class _Request:
    """One evaluator's reading of a row (:func:`ra_agents.feedback.row_request`) and its feedback rules."""

    def __init__(
        self, principle: PrincipleLike | None, options: EvaluatorOptions, on_judge_error: OnJudgeError
    ) -> None:
        if principle is not None:
            _check_principle(principle)
        self.key = options.get("key", "principle")
        self.prompt_from = options.get("prompt_from")
        self.candidates_from = options.get("candidates_from")
        self.reference = options.get("reference", True)
        self.on_judge_error = check_on_judge_error(options.get("on_judge_error", on_judge_error))

    async def evaluate(
        self,
        judge: Judging,
        principle: PrincipleLike,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        reference_outputs: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """One row: read it, judge it, and feed the verdict back (see the module docs for failures)."""
        try:
            prompt, responses = self.request(inputs, outputs, reference_outputs)
        except RAError as exc:
            return unread_feedback(exc, self.key)
        try:
            result = await judge.ajudge(principle, prompt, responses)
        except RAError as exc:
            return judge_failure_feedback(exc, self.key, self.on_judge_error)
        return verdict_feedback(result, self.key)

    def request(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        return row_request(
            inputs,
            outputs,
            reference_outputs,
            prompt_from=self.prompt_from,
            candidates_from=self.candidates_from,
            reference=self.reference,
        )


class _Multi:
    """One row judged under several principles, fed back as one entry per principle."""

    def __init__(
        self,
        principles: PrincipleSet,
        weights: Mapping[str, float] | None,
        mode: MultiMode,
        combined_key: str | None,
        options: EvaluatorOptions,
    ) -> None:
        principle_weights(principles, weights)
        for value in principles.values():
            _check_principle(value[0] if isinstance(value, tuple) else value)
        if mode == "fold" and not combined_key:
            raise UsageError("mode='fold' gives one combined verdict: name its feedback key with combined_key=")
        spec_options = EvaluatorOptions(**{k: v for k, v in options.items() if k != "key"})  # type: ignore[typeddict-item]
        self.spec = _Request(None, spec_options, DEFAULT_ON_JUDGE_ERROR)
        self.principles = principles
        self.weights = weights
        self.mode = mode
        self.keys = [*([] if mode == "fold" else principles), *([combined_key] if combined_key else [])]
        self.combined_key = combined_key
        self.name = "_".join(self.keys)

    async def evaluate(
        self,
        judge: Judging,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        reference_outputs: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        try:
            prompt, responses = self.spec.request(inputs, outputs, reference_outputs)
        except RAError as exc:
            return {"results": [unread_feedback(exc, key) for key in self.keys]}
        try:
            result = await judge.ajudge_many(self.principles, prompt, responses, weights=self.weights, mode=self.mode)
        except RAError as exc:
            return {"results": [judge_failure_feedback(exc, key, self.spec.on_judge_error) for key in self.keys]}
        return self.feedback(result)

    def feedback(self, result: MultiResult) -> dict[str, Any]:
        results = [verdict_feedback(verdict, name) for name, verdict in result.verdicts.items()]
        if self.combined_key:
            if result.folded is not None:
                results.append(verdict_feedback(result.folded, self.combined_key))
            else:
                weights = ", ".join(f"{n} {w:.2f}" for n, w in result.weights.items())
                results.append(
                    {
                        "key": self.combined_key,
                        "score": result.unit_score(OUTPUT),
                        "comment": f"{self.combined_key}: weighted over {weights}",
                        "metadata": {"weights": dict(result.weights), "combined_score": result.scores[OUTPUT]},
                    }
                )
        return {"results": results}


class _Comparison:
    """Turns runs of several experiments into one judge request, and back."""

    def __init__(self, principle: PrincipleLike, options: ComparisonOptions) -> None:
        _check_principle(principle)
        self.key = options.get("key", "principle_preference")
        self.prompt_from = options.get("prompt_from")
        self.candidates_from = options.get("candidates_from")
        self.on_judge_error = check_on_judge_error(options.get("on_judge_error", "raise"))

    async def compare(
        self, judge: Judging, principle: PrincipleLike, runs: Sequence[Any], example: Any
    ) -> dict[str, Any]:
        prompt, responses = self.request(runs, example)
        try:
            result = await judge.ajudge(principle, prompt, responses)
        except RAError as exc:
            failed = judge_failure_feedback(exc, self.key, self.on_judge_error)  # raises with "raise"
            return {"key": self.key, "scores": {run.id: failed["score"] for run in runs}, "comment": failed["comment"]}
        return self.feedback(result, runs)

    def request(self, runs: Sequence[Any], example: Any) -> tuple[str, dict[str, Any]]:
        if not runs:
            raise UsageError("no runs to compare; pass the runs of at least one experiment")
        inputs = getattr(example, "inputs", None) or getattr(runs[0], "inputs", None) or {}
        responses = {str(run.id): pick(run.outputs or {}, self.candidates_from, "outputs") for run in runs}
        return prompt_text(pick(inputs, self.prompt_from, "inputs")), responses

    def feedback(self, result: JudgeResult, runs: Sequence[Any]) -> dict[str, Any]:
        scores = {run.id: result.unit_score(str(run.id)) for run in runs}
        return {"key": self.key, "scores": scores, "comment": result.reasoning or None}
