"""LangSmith evaluators that score runs with a principle-following judge.

The evaluators are plain functions with the argument names LangSmith recognises, so
``langsmith.evaluate`` (and ``aevaluate`` for the async variants) calls them directly;
nothing here imports ``langsmith`` itself::

    from langsmith import evaluate
    from ra_agents import Judge
    from ra_agents.integrations.langsmith import principle_evaluator

    judge = Judge.from_litellm("hosted_vllm/rewardanything", api_base="http://127.0.0.1:8000/v1")
    concise = principle_evaluator(judge, "Correct first, then as short as possible.", key="concise")
    evaluate(my_app, data="my-dataset", evaluators=[concise])

One evaluation is one listwise judge call. When the example has a reference output,
the run's output and the reference are judged together in that call, so the score is
relative to a known-good answer and the result also says whether the output beat it.

:func:`comparative_evaluator` ranks the outputs of several experiments on the same
example in one call, for ``langsmith.evaluate((experiment_a, experiment_b), ...)``.

A row the evaluator cannot judge (:class:`ra_agents.VerdictError`,
:class:`ra_agents.BackendError`, or a :class:`ra_agents.UsageError` for a row the
extractors cannot read, such as the empty outputs of a target that raised) gives the
shape LangSmith itself records for a failed evaluator: ``{"key", "score": None,
"comment": "<ErrorType>: <what to do>", "extra": {"error": True}}``, so the row stays
visible and averages skip it. Returning it rather than raising keeps it under *your*
key: LangSmith names the feedback of a raising evaluator after the function's source
name. The comparative evaluators let errors propagate (LangSmith logs them).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol, TypedDict, Unpack

from ra_agents import Judge, JudgeResult, MultiResult, PrincipleLike, RAError, UsageError
from ra_agents.multi import MultiMode, PrincipleSet, principle_weights
from ra_agents.principle import principle_text

__all__ = [
    "principle_evaluator",
    "aprinciple_evaluator",
    "comparative_evaluator",
    "acomparative_evaluator",
    "principles_evaluator",
    "aprinciples_evaluator",
    "Extractor",
    "EvaluatorOptions",
    "ComparisonOptions",
]

Extractor = str | Callable[[Mapping[str, Any]], Any] | None
"""How to pick a value out of a LangSmith ``inputs``/``outputs`` dict: a key, a function, or ``None`` (automatic)."""

_OUTPUT = "output"
_REFERENCE = "reference"


class EvaluatorFn(Protocol):
    """What :func:`principle_evaluator` returns (``reference_outputs`` is optional)."""

    def __call__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...


class AsyncEvaluatorFn(Protocol):
    """What :func:`aprinciple_evaluator` returns: a coroutine function."""

    def __call__(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...


class ComparisonOptions(TypedDict, total=False):
    """Options of the comparative evaluators.

    Attributes:
        key: the feedback key LangSmith records the scores under
            (default ``"principle_preference"`` for comparisons, ``"principle"`` for single runs).
        prompt_from: how to read the prompt from the example's ``inputs``: a key, a
            function of ``inputs``, or ``None`` to use the only value (chat messages are
            rendered as a transcript) or else all inputs as JSON.
        candidates_from: how to read the candidate from a run's ``outputs``: a key, a
            function of ``outputs``, or ``None`` to use the only value or else the whole dict.
    """

    key: str
    prompt_from: Extractor
    candidates_from: Extractor


class EvaluatorOptions(ComparisonOptions, total=False):
    """Options of :func:`principle_evaluator` and :func:`aprinciple_evaluator`.

    Attributes:
        reference: how to read a reference answer from ``reference_outputs``: ``True``
            (the default) reads it like the run's output, a key or function picks it,
            ``False`` ignores references. An empty or missing reference means the output
            is judged alone.
    """

    reference: Extractor | bool


def principle_evaluator(judge: Judge, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]) -> EvaluatorFn:
    """An evaluator for ``langsmith.evaluate`` that scores each run under ``principle``.

    Args:
        judge: the judge to call (one listwise call per evaluated run).
        principle: what to value: text or a :class:`~ra_agents.Principle`.
        **options: see :class:`EvaluatorOptions` (``key``, ``prompt_from``,
            ``candidates_from``, ``reference``).

    Returns:
        A function ``(inputs, outputs, reference_outputs) -> {"key", "score", "comment",
        "metadata"}``. ``score`` is the output's score normalised to [0, 1] (the
        logprob-weighted expected score when the backend gives logprobs); ``comment``
        starts with the score and holds the judge's reasoning. ``metadata`` holds the raw
        score, the ranking and, with a reference, ``beats_reference`` (the output ranked
        above the reference) and ``reference_score``.

    Raises:
        UsageError: for an empty principle. Once built, the evaluator never raises
            for a row: see the module docs for the error feedback it returns.
    """
    spec = _Request(principle, options)

    def evaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            prompt, responses = spec.request(inputs, outputs, reference_outputs)
            return spec.feedback(judge.judge(principle, prompt, responses))
        except RAError as exc:
            return spec.error(exc)

    evaluate.__name__ = spec.key
    return evaluate


def aprinciple_evaluator(
    judge: Judge, principle: PrincipleLike, **options: Unpack[EvaluatorOptions]
) -> AsyncEvaluatorFn:
    """The async form of :func:`principle_evaluator`, for ``langsmith.aevaluate``."""
    spec = _Request(principle, options)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            prompt, responses = spec.request(inputs, outputs, reference_outputs)
            return spec.feedback(await judge.ajudge(principle, prompt, responses))
        except RAError as exc:
            return spec.error(exc)

    aevaluate.__name__ = spec.key
    return aevaluate


def comparative_evaluator(
    judge: Judge, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], dict[str, Any]]:
    """A comparative evaluator that ranks several experiments' runs in one listwise call.

    For ``langsmith.evaluate((experiment_a, experiment_b, ...), evaluators=[fn])``.

    Args:
        judge: the judge to call.
        principle: what to value, in natural language.
        **options: see :class:`ComparisonOptions` (``key``, ``prompt_from``, ``candidates_from``).

    Returns:
        A function ``(runs, example) -> {"key", "scores", "comment"}`` where ``scores``
        maps each run's id to its normalised score in [0, 1]. Judge failures propagate
        (LangSmith logs them).
    """
    spec = _Comparison(principle, options)

    def compare(runs: Sequence[Any], example: Any) -> dict[str, Any]:
        prompt, responses = spec.request(runs, example)
        return spec.feedback(judge.judge(principle, prompt, responses), runs)

    compare.__name__ = spec.key
    return compare


def acomparative_evaluator(
    judge: Judge, principle: PrincipleLike, **options: Unpack[ComparisonOptions]
) -> Callable[[Sequence[Any], Any], Awaitable[dict[str, Any]]]:
    """The async form of :func:`comparative_evaluator`."""
    spec = _Comparison(principle, options)

    async def acompare(runs: Sequence[Any], example: Any) -> dict[str, Any]:
        prompt, responses = spec.request(runs, example)
        return spec.feedback(await judge.ajudge(principle, prompt, responses), runs)

    acompare.__name__ = spec.key
    return acompare


def principles_evaluator(
    judge: Judge,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> EvaluatorFn:
    """ONE evaluator that records one feedback key per principle (LangSmith's ``{"results": [...]}`` form).

    Each principle is judged in its own listwise call, concurrently (:meth:`Judge.ajudge_many`);
    every feedback entry has the shape :func:`principle_evaluator` returns, under the
    principle's name as its key.

    Args:
        judge: the judge.
        principles: ``name -> principle`` or ``name -> (principle, weight)``; each name is
            a feedback key.
        weights: ``name -> weight`` for the combined score.
        mode: ``"separate"`` (default): one call per principle, one key each; ``"fold"``:
            one call under the folded principle, recorded under ``combined_key`` only.
        combined_key: also record the weighted combined score under this key (required
            with ``mode="fold"``).
        **options: ``prompt_from``, ``candidates_from``, ``reference`` as for
            :func:`principle_evaluator` (``key`` is not used).

    Returns:
        A function ``(inputs, outputs, reference_outputs) -> {"results": [feedback, ...]}``.
        A row the judge cannot judge gives error feedback (no score) under every key.
    """
    multi = _Multi(principles, weights, mode, combined_key, options)

    def evaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            prompt, responses = multi.spec.request(inputs, outputs, reference_outputs)
            return multi.feedback(judge.judge_many(principles, prompt, responses, weights=weights, mode=mode))
        except RAError as exc:
            return multi.error(exc)

    evaluate.__name__ = multi.name
    return evaluate


def aprinciples_evaluator(
    judge: Judge,
    principles: PrincipleSet,
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    combined_key: str | None = None,
    **options: Unpack[EvaluatorOptions],
) -> AsyncEvaluatorFn:
    """The async form of :func:`principles_evaluator`, for ``langsmith.aevaluate``."""
    multi = _Multi(principles, weights, mode, combined_key, options)

    async def aevaluate(
        inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            prompt, responses = multi.spec.request(inputs, outputs, reference_outputs)
            return multi.feedback(await judge.ajudge_many(principles, prompt, responses, weights=weights, mode=mode))
        except RAError as exc:
            return multi.error(exc)

    aevaluate.__name__ = multi.name
    return aevaluate


# --------------------------------------------------------------------- helpers


def _check_principle(principle: PrincipleLike) -> None:
    principle_text(principle)


class _Request:
    """Turns a LangSmith row into a judge request, and the verdict into feedback."""

    def __init__(self, principle: PrincipleLike | None, options: EvaluatorOptions) -> None:
        if principle is not None:
            _check_principle(principle)
        self.key = options.get("key", "principle")
        self.prompt_from = options.get("prompt_from")
        self.candidates_from = options.get("candidates_from")
        self.reference = options.get("reference", True)

    def request(
        self, inputs: Mapping[str, Any], outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        output = _pick(outputs, self.candidates_from, "outputs") if outputs else None
        if output is None:
            # LangSmith passes {} or {"output": None} for a run whose target raised.
            raise UsageError(
                f"the run has no outputs to judge ({outputs!r}); did the target fail? "
                "The target must return a dict such as {'answer': text}"
            )
        responses = {_OUTPUT: output}
        ref = self._reference(reference_outputs)
        if ref is not None:
            responses[_REFERENCE] = ref
        return _prompt_text(inputs, self.prompt_from), responses

    def _reference(self, reference_outputs: Mapping[str, Any] | None) -> Any:
        if self.reference is False or not reference_outputs:
            return None
        how = self.candidates_from if self.reference is True else self.reference
        if isinstance(how, str) and how not in reference_outputs and self.reference is True:
            how = None  # the reference is shaped differently from the outputs
        value = _pick(reference_outputs, how, "reference_outputs")
        return None if value is None or value == "" or (isinstance(value, (list, dict)) and not value) else value

    def feedback(self, result: JudgeResult, key: str | None = None) -> dict[str, Any]:
        key = key or self.key
        raw = result.scores[_OUTPUT]
        high = result.scale[1]
        metadata: dict[str, Any] = {"raw_score": raw, "scale": list(result.scale), "ranking": list(result.ranking)}
        head = f"{key}: {_fmt(raw)}/{high}"
        if _REFERENCE in result.scores:
            beats = result.ranking.index(_OUTPUT) < result.ranking.index(_REFERENCE)
            metadata.update(beats_reference=beats, reference_score=result.scores[_REFERENCE])
            verb = "beats" if beats else "does not beat"
            head += f" ({verb} the reference, which scored {_fmt(result.scores[_REFERENCE])}/{high})"
        if result.model:
            metadata["judge_model"] = result.model
        comment = f"{head}\n{result.reasoning}".rstrip()
        return {"key": key, "score": result.unit_score(_OUTPUT), "comment": comment, "metadata": metadata}

    def error(self, exc: Exception, key: str | None = None) -> dict[str, Any]:
        # The shape LangSmith itself records for a failed evaluator: no score, flagged.
        return {
            "key": key or self.key,
            "score": None,
            "comment": f"{type(exc).__name__}: {exc}",
            "extra": {"error": True},
        }


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
        self.spec = _Request(None, EvaluatorOptions(**{k: v for k, v in options.items() if k != "key"}))  # type: ignore[typeddict-item]
        self.keys = [*([] if mode == "fold" else principles), *([combined_key] if combined_key else [])]
        self.combined_key = combined_key
        self.name = "_".join(self.keys)

    def feedback(self, result: MultiResult) -> dict[str, Any]:
        results = [self.spec.feedback(verdict, key=name) for name, verdict in result.verdicts.items()]
        if self.combined_key:
            if result.folded is not None:
                results.append(self.spec.feedback(result.folded, key=self.combined_key))
            else:
                weights = ", ".join(f"{n} {w:.2f}" for n, w in result.weights.items())
                results.append(
                    {
                        "key": self.combined_key,
                        "score": result.unit_score(_OUTPUT),
                        "comment": f"{self.combined_key}: weighted over {weights}",
                        "metadata": {"weights": dict(result.weights), "combined_score": result.scores[_OUTPUT]},
                    }
                )
        return {"results": results}

    def error(self, exc: Exception) -> dict[str, Any]:
        return {"results": [self.spec.error(exc, key=key) for key in self.keys]}


class _Comparison:
    """Turns runs of several experiments into one judge request, and back."""

    def __init__(self, principle: PrincipleLike, options: ComparisonOptions) -> None:
        _check_principle(principle)
        self.key = options.get("key", "principle_preference")
        self.prompt_from = options.get("prompt_from")
        self.candidates_from = options.get("candidates_from")

    def request(self, runs: Sequence[Any], example: Any) -> tuple[str, dict[str, Any]]:
        if not runs:
            raise UsageError("no runs to compare; pass the runs of at least one experiment")
        inputs = getattr(example, "inputs", None) or getattr(runs[0], "inputs", None) or {}
        responses = {str(run.id): _pick(run.outputs or {}, self.candidates_from, "outputs") for run in runs}
        return _prompt_text(inputs, self.prompt_from), responses

    def feedback(self, result: JudgeResult, runs: Sequence[Any]) -> dict[str, Any]:
        scores = {run.id: result.unit_score(str(run.id)) for run in runs}
        return {"key": self.key, "scores": scores, "comment": result.reasoning or None}


def _pick(data: Mapping[str, Any], how: Extractor, where: str) -> Any:
    if callable(how):
        return how(data)
    if isinstance(how, str):
        if not isinstance(data, Mapping) or how not in data:
            keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise UsageError(f"no {how!r} in the {where} ({keys}); pass the key that holds the text to judge")
        return data[how]
    if isinstance(data, Mapping) and len(data) == 1:
        return next(iter(data.values()))
    return data


def _prompt_text(inputs: Mapping[str, Any], how: Extractor) -> str:
    value = _pick(inputs, how, "inputs")
    if isinstance(value, str):
        return value
    if _is_messages(value):
        return "\n\n".join(f"{_role(m)}: {_content(m)}" for m in value)
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and bool(value)
        and all((isinstance(m, Mapping) and "content" in m) or hasattr(m, "content") for m in value)
    )


def _role(message: Any) -> str:
    return str(message.get("role", "user") if isinstance(message, Mapping) else getattr(message, "type", "user"))


def _content(message: Any) -> str:
    content = message["content"] if isinstance(message, Mapping) else message.content
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)


def _fmt(score: float) -> str:
    return f"{round(score, 2):g}"
