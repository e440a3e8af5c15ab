"""Evaluator feedback: how a dataset row becomes a judge request, and a verdict becomes feedback.

Every evaluator adapter (the LangSmith evaluators, the openevals-style evaluator, the
trajectory evaluator) reads a row and hands back a feedback dict in LangSmith's shape,
``{"key", "score", "comment", "metadata"}``, which openevals and agentevals share. They
build it here, so one row reads, scores and fails the same whichever evaluator carries
it. Nothing here imports a framework.

- :func:`row_request`: a row's ``inputs``, ``outputs`` and ``reference_outputs`` become
  the judge's prompt (:func:`ra_agents.prompt_text`) and candidates, the output named
  :data:`OUTPUT` and the reference, when there is one, :data:`REFERENCE`; both are judged
  in one listwise call.
- :func:`verdict_feedback`: the output's unit score in [0, 1]
  (:meth:`ra_agents.JudgeResult.unit_score`), a comment that starts with the score and how
  the output fared against the reference, then the judge's reasoning, and the whole
  verdict in ``metadata["verdict"]`` (:func:`ra_agents.verdict_to_dict`, without the raw
  answer texts).
- :func:`unread_feedback`: a row that was not judged because it could not be read (a
  :class:`ra_agents.UsageError`, such as the empty outputs of a target that raised). It
  has the shape LangSmith records for a failed evaluator: ``"score": None``, the error
  as the comment, ``"extra": {"error": True}``, so averages skip the row.
- :func:`judge_failure_feedback`: the judge failed (:class:`ra_agents.BackendError`,
  :class:`ra_agents.VerdictError` ...); the evaluator's ``on_judge_error``
  (:data:`ra_agents.OnJudgeError`) decides: ``"fail_closed"`` scores 0, ``"fail_open"``
  scores 1, ``"raise"`` lets the error through.

:data:`JUDGE_RUN_NAME` is the name under which the LangChain-based adapters record the
judge call in callbacks, traces and ``astream_events``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from ._errors import RAError, UsageError
from ._types import JudgeResult, verdict_to_dict
from .acceptance import OnJudgeError, check_on_judge_error
from .prompt import prompt_text

__all__ = [
    "OUTPUT",
    "REFERENCE",
    "JUDGE_RUN_NAME",
    "Extractor",
    "Feedback",
    "pick",
    "row_request",
    "verdict_feedback",
    "unread_feedback",
    "judge_failure_feedback",
]

OUTPUT = "output"
"""The name the judged output has among the candidates (and in the verdict)."""

REFERENCE = "reference"
"""The name the reference answer has among the candidates, when the row has one."""

JUDGE_RUN_NAME = "ra_judge"
"""The name of the judge's run in LangChain callbacks, traces and ``astream_events``."""

Extractor: TypeAlias = str | Callable[[Mapping[str, Any]], Any] | None
"""How to pick a value out of an ``inputs``/``outputs`` dict: a key, a function of the dict, or ``None`` (automatic)."""

Feedback: TypeAlias = dict[str, Any]
"""One feedback entry: ``{"key", "score", "comment"[, "metadata"][, "extra"]}``, as LangSmith records it."""


def pick(data: Any, how: Extractor, where: str) -> Any:
    """The value ``how`` picks out of ``data``.

    Args:
        data: a row's ``inputs``, ``outputs`` or ``reference_outputs``.
        how: a key; a function of ``data``; or ``None``: the only value of a one-key
            mapping, else ``data`` itself.
        where: what ``data`` is, for the error message (``"outputs"``).

    Raises:
        UsageError: ``how`` is a key that ``data`` does not hold.
    """
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


def row_request(
    inputs: Any,
    outputs: Any,
    reference_outputs: Mapping[str, Any] | None = None,
    *,
    prompt_from: Extractor = None,
    candidates_from: Extractor = None,
    reference: Extractor | bool = True,
) -> tuple[str, dict[str, Any]]:
    """The judge's prompt and candidates for one row.

    Args:
        inputs: the row's inputs; the prompt is ``pick(inputs, prompt_from)`` read by
            :func:`ra_agents.prompt_text`.
        outputs: the run's outputs; the judged output is ``pick(outputs, candidates_from)``.
        reference_outputs: the example's reference outputs, if any.
        prompt_from: which value of ``inputs`` holds the prompt (see :func:`pick`).
        candidates_from: which value of ``outputs`` is the output (see :func:`pick`).
        reference: how to read the reference: ``True`` like the output (or the only value
            when the reference is shaped differently), a key or a function, ``False`` to
            ignore it. An empty or missing reference means the output is judged alone.

    Returns:
        ``(prompt, {OUTPUT: output[, REFERENCE: reference]})``.

    Raises:
        UsageError: the run has no outputs (its target failed), or a key is missing.
    """
    output = pick(outputs, candidates_from, "outputs") if outputs else None
    if output is None:
        # LangSmith passes {} or {"output": None} for a run whose target raised.
        raise UsageError(
            f"the run has no outputs to judge ({outputs!r}); did the target fail? "
            "The target must return a dict such as {'answer': text}"
        )
    responses = {OUTPUT: output}
    ref = _reference(reference_outputs, reference, candidates_from)
    if ref is not None:
        responses[REFERENCE] = ref
    return prompt_text(pick(inputs, prompt_from, "inputs")), responses


def _reference(reference_outputs: Mapping[str, Any] | None, reference: Extractor | bool, like: Extractor) -> Any:
    if reference is False or not reference_outputs:
        return None
    how = like if reference is True else reference
    if isinstance(how, str) and how not in reference_outputs and reference is True:
        how = None  # the reference is shaped differently from the outputs
    value = pick(reference_outputs, how, "reference_outputs")
    return None if value is None or value == "" or (isinstance(value, (list, dict)) and not value) else value


def verdict_feedback(result: JudgeResult, key: str) -> Feedback:
    """The feedback on the candidate :data:`OUTPUT` of ``result`` (see the module docs).

    Returns:
        ``{"key", "score", "comment", "metadata"}``: ``score`` is the output's unit score;
        ``metadata`` holds its ``raw_score``, the ``verdict`` and, when :data:`REFERENCE`
        was judged too, ``beats_reference`` (ranked above it) and ``reference_score``.
    """
    raw = result.scores[OUTPUT]
    high = result.scale[1]
    metadata: dict[str, Any] = {"raw_score": raw}
    head = f"{key}: {_fmt(raw)}/{high}"
    if REFERENCE in result.scores:
        beats = result.ranking.index(OUTPUT) < result.ranking.index(REFERENCE)
        metadata.update(beats_reference=beats, reference_score=result.scores[REFERENCE])
        verb = "beats" if beats else "does not beat"
        head += f" ({verb} the reference, which scored {_fmt(result.scores[REFERENCE])}/{high})"
    metadata["verdict"] = verdict_to_dict(result, raw=False)
    comment = f"{head}\n{result.reasoning}".rstrip()
    return {"key": key, "score": result.unit_score(OUTPUT), "comment": comment, "metadata": metadata}


def unread_feedback(exc: Exception, key: str) -> Feedback:
    """A row that was not judged: the shape LangSmith records for a failed evaluator (no score)."""
    return {"key": key, "score": None, "comment": f"{type(exc).__name__}: {exc}", "extra": {"error": True}}


def judge_failure_feedback(exc: RAError, key: str, on_judge_error: OnJudgeError) -> Feedback:
    """The feedback for a judge failure, as ``on_judge_error`` says.

    Returns:
        :func:`unread_feedback`'s shape with ``score`` 0.0 (``"fail_closed"``) or 1.0
        (``"fail_open"``) and ``metadata`` ``{"error": "<ErrorType>", "on_judge_error": ...}``.

    Raises:
        RAError: ``exc`` itself, with ``on_judge_error="raise"``.
        UsageError: ``on_judge_error`` is not an :data:`~ra_agents.OnJudgeError`.
    """
    mode = check_on_judge_error(on_judge_error)
    if mode == "raise":
        raise exc
    return {
        **unread_feedback(exc, key),
        "score": 1.0 if mode == "fail_open" else 0.0,
        "metadata": {"error": type(exc).__name__, "on_judge_error": mode},
    }


def _fmt(score: float) -> str:
    return f"{round(score, 2):g}"
