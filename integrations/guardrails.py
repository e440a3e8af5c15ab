"""A guardrails-ai validator that judges an output under a principle.

Registered as ``ra-agents/principle`` for string outputs::

    from guardrails import Guard
    from ra_agents import Judge
    from ra_agents.integrations.guardrails import PrincipleValidator

    judge = Judge.from_litellm("hosted_vllm/rewardanything", api_base="http://127.0.0.1:8000/v1")
    # or any ra_agents.Judging, e.g. ra_agents.Client("http://judge:8080")
    guard = Guard().use(
        PrincipleValidator(judge, "Never give medical dosages.", threshold=0.5,
                           fallback="Please ask a pharmacist.", on_fail="fix")
    )
    guard.configure(allow_metrics_collection=False)  # see "Telemetry" below
    guard.validate(answer, metadata={"prompt": question})

The validator makes one listwise judge call per validation. Alone, the output is scored
on its own; with ``metadata={"reference": text}`` (a known-good or alternative answer)
the output and the reference are judged together, so the score is relative to it, and
``require_beats_reference=True`` also fails outputs ranked below it. The prompt (the
validator's, or ``metadata["prompt"]``) may be text or chat messages: it reaches the judge
as :func:`ra_agents.prompt_text` reads it. The output passes when
:func:`ra_agents.accepts` does (its unit score, 0-1, the logprob-weighted expected score
when available, reaches ``threshold``); a failure carries the judge's score and reasoning
in its error message. A judge failure is answered by ``on_judge_error`` (see
:data:`ra_agents.OnJudgeError`).

``on_fail="fix"`` replaces the output with ``fix_value``: the ``fallback`` given to the
validator (a text, or a function of the output and the :class:`ra_agents.JudgeResult`),
else the reference when it passed the threshold itself, else ``None``.

Sync guards run validators on an event loop of their own through ``async_validate``,
which awaits the judge directly; with ``GUARDRAILS_RUN_SYNC=true`` they call
``validate``, which runs the same judge call synchronously. Inside a running event loop
use ``AsyncGuard``.

Metadata: a judged output's validation result carries ``score`` (the unit score),
``raw_score``, ``ranking`` and the whole ``verdict`` (:func:`ra_agents.verdict_to_dict`,
without raw answer texts); a judge failure's carries ``judge_error``
(:func:`ra_agents.error_to_dict`: the error's type, message and fields).

Telemetry:
    guardrails-ai sends anonymous usage traces to its own endpoint unless told not to,
    and with no ``~/.guardrailsrc`` it is ON. ``Guard()`` re-reads that file when it is
    built, so setting ``guardrails.settings.rc.enable_metrics = False`` beforehand does
    not stick. Turn it off for good with ``enable_metrics=false`` in ``~/.guardrailsrc``
    (``guardrails configure --disable-metrics``), or per guard, after building it, with
    ``guard.configure(allow_metrics_collection=False)``. This module changes no global
    setting for you.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from ra_agents import (
    DEFAULT_ON_JUDGE_ERROR,
    DEFAULT_THRESHOLD,
    BackendError,
    JudgeResult,
    Judging,
    MissingDependencyError,
    OnJudgeError,
    Policy,
    PolicyOutcome,
    PrincipleLike,
    PromptLike,
    RAError,
    Rule,
    UsageError,
    VerdictError,
    accepts,
    error_to_dict,
    prompt_text,
    verdict_to_dict,
)
from ra_agents.acceptance import check_on_judge_error, check_threshold
from ra_agents.policy import acheck_policy, check_policy
from ra_agents.principles import principle_text

try:
    from guardrails.validators import FailResult, PassResult, ValidationResult, Validator, register_validator
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "guardrails-ai", "guardrails", "ra_agents.integrations.guardrails (the principle validator)"
    ) from _exc

__all__ = ["PrincipleValidator", "PolicyValidator", "VALIDATOR_NAME", "POLICY_VALIDATOR_NAME"]

VALIDATOR_NAME = "ra-agents/principle"
"""The name the validator is registered under with guardrails."""

POLICY_VALIDATOR_NAME = "ra-agents/policy"
"""The name the ordered-policy validator is registered under with guardrails."""

Fallback = str | Callable[[str, JudgeResult], str]
"""A fix value: a text, or a function of (the failing output, the verdict)."""

_OUTPUT = "output"
_REFERENCE = "reference"


@register_validator(name=VALIDATOR_NAME, data_type="string")
class PrincipleValidator(Validator):
    """Fails outputs that a principle-following judge scores below a threshold.

    Args:
        judge: the judge to call: any :class:`ra_agents.Judging` (a local judge, or the
            HTTP client of a judge server).
        principle: what to value, in natural language.
        threshold: the lowest passing unit score, in [0, 1] (on the 1-5 scale 0.5 is a 3,
            0.75 a 4); see :func:`ra_agents.accepts`.
        prompt: the prompt the output answers (text or chat messages), when the guard's
            metadata has none (``metadata["prompt"]`` wins).
        require_beats_reference: with a reference, also fail when the output is ranked
            below it.
        fallback: the fix value for ``on_fail="fix"``: a text, or a function of the
            output and the verdict.
        on_judge_error: what a judge failure (no usable verdict, backend down) means:
            ``"fail_closed"`` (the validation fails, the default), ``"fail_open"`` (it
            passes) or ``"raise"`` (the error propagates). The earlier spellings
            ``"fail"`` and ``"pass"`` are still read.
        on_fail: the guardrails on-fail action (``"exception"``, ``"fix"``, ``"noop"``,
            ``"reask"``, ... or a function).

    Metadata read at validation time:
        ``prompt``: the prompt the output answers.
        ``reference``: a reference or alternative answer to judge the output against.
        ``principle``: overrides the validator's principle for this call.
    """

    def __init__(
        self,
        judge: Judging,
        principle: PrincipleLike,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        prompt: PromptLike = "",
        require_beats_reference: bool = False,
        fallback: Fallback | None = None,
        on_judge_error: OnJudgeError | Literal["fail", "pass"] = DEFAULT_ON_JUDGE_ERROR,
        on_fail: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(principle, str) and not principle.strip():
            raise UsageError("principle is empty; state what the output must respect, e.g. 'no medical dosages'")
        text = principle_text(principle)
        threshold = check_threshold(threshold)
        self.on_judge_error: OnJudgeError = check_on_judge_error(on_judge_error)
        # Only plain values go to guardrails: it records these kwargs in its traces.
        super().__init__(on_fail=_check_on_fail(on_fail), principle=text, threshold=threshold, **kwargs)
        self.judge = judge
        self.principle = principle
        self.threshold = threshold
        self.prompt = prompt
        self.require_beats_reference = require_beats_reference
        self.fallback = fallback

    async def async_validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        """Judge ``value``; the path guardrails takes (sync guards included)."""
        principle, prompt, responses = self._request(value, metadata)
        try:
            result = await self.judge.ajudge(principle, prompt, responses)
        except (VerdictError, BackendError) as exc:
            return self._judge_failed(exc)
        return self._outcome(responses, result)

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        """The synchronous path (``validator.validate(...)``, ``GUARDRAILS_RUN_SYNC=true``)."""
        principle, prompt, responses = self._request(value, metadata)
        try:
            result = self.judge.judge(principle, prompt, responses)
        except (VerdictError, BackendError) as exc:
            return self._judge_failed(exc)
        return self._outcome(responses, result)

    # ------------------------------------------------------------------ helpers

    def _request(self, value: Any, metadata: Mapping[str, Any] | None) -> tuple[PrincipleLike, str, dict[str, str]]:
        metadata = metadata or {}
        responses = {_OUTPUT: str(value)}
        reference = metadata.get("reference")
        if reference not in (None, ""):
            responses[_REFERENCE] = str(reference)
        return metadata.get("principle") or self.principle, _prompt(metadata, self.prompt), responses

    def _outcome(self, responses: Mapping[str, str], result: JudgeResult) -> ValidationResult:
        score = result.unit_score(_OUTPUT)
        _, high = result.scale
        details: dict[str, Any] = {
            "score": score,
            "raw_score": result.scores[_OUTPUT],
            "ranking": list(result.ranking),
            "verdict": verdict_to_dict(result, raw=False),
        }
        problems = []
        if not accepts(result, _OUTPUT, self.threshold):
            problems.append(
                f"scored {round(result.scores[_OUTPUT], 2):g}/{high} under the principle "
                f"({score:.2f} normalised, below the threshold {self.threshold:g})"
            )
        fix: str | None = None
        if _REFERENCE in result.scores:
            beats = result.ranking.index(_OUTPUT) < result.ranking.index(_REFERENCE)
            if accepts(result, _REFERENCE, self.threshold):
                fix = responses[_REFERENCE]
            details.update(beats_reference=beats, reference_score=result.scores[_REFERENCE])
            if self.require_beats_reference and not beats:
                problems.append(f"ranked below the reference ({round(result.scores[_REFERENCE], 2):g}/{high})")
        if not problems:
            return PassResult(metadata=details)
        message = "The output " + " and ".join(problems) + "."
        if result.reasoning:
            message += f" Judge's reasoning: {result.reasoning}"
        return FailResult(
            error_message=message, fix_value=self._fix_value(responses[_OUTPUT], result, fix), metadata=details
        )

    def _fix_value(self, value: str, result: JudgeResult, passing_reference: str | None) -> str | None:
        if callable(self.fallback):
            return self.fallback(value, result)
        if self.fallback is not None:
            return self.fallback
        return passing_reference

    def _judge_failed(self, exc: RAError) -> ValidationResult:
        if self.on_judge_error == "raise":
            raise exc
        if self.on_judge_error == "fail_open":
            return PassResult(metadata={"judge_error": error_to_dict(exc)})
        return FailResult(
            error_message=f"The judge could not judge the output ({type(exc).__name__}: {exc}).",
            fix_value=self.fallback if isinstance(self.fallback, str) else None,
            metadata={"judge_error": error_to_dict(exc)},
        )


@register_validator(name=POLICY_VALIDATOR_NAME, data_type="string")
class PolicyValidator(Validator):
    """Checks an output against an ordered policy: each rule a principle with its own threshold.

    Rules are judged in order and judging stops at the first failing rule, so, for
    example, safety must pass before tone is even judged (one listwise call per judged
    rule). The failure message names the rule, its score and threshold, and the judge's
    reasoning; the rules not judged are listed.

    Args:
        judge: the judge to call: any :class:`ra_agents.Judging`.
        policy: a :class:`ra_agents.Policy`, rules, or ``name -> (principle, threshold)``
            in order (see :meth:`ra_agents.Policy.of`).
        prompt: the prompt the output answers (text or chat messages), when the guard's
            metadata has none.
        fallback: the fix value for ``on_fail="fix"``: a text, or a function of the
            output and the :class:`ra_agents.PolicyOutcome`.
        on_judge_error: ``"fail_closed"`` (the default), ``"fail_open"`` or ``"raise"``
            (``"fail"`` and ``"pass"`` are still read).
        on_fail: the guardrails on-fail action.

    Metadata read at validation time: ``prompt``, and ``reference`` (judged beside the
    output under every rule).
    """

    def __init__(
        self,
        judge: Judging,
        policy: Policy | Sequence[Rule] | Mapping[str, Any],
        *,
        prompt: PromptLike = "",
        fallback: str | Callable[[str, PolicyOutcome], str] | None = None,
        on_judge_error: OnJudgeError | Literal["fail", "pass"] = DEFAULT_ON_JUDGE_ERROR,
        on_fail: Any = None,
        **kwargs: Any,
    ) -> None:
        self.policy = Policy.of(policy)
        self.on_judge_error: OnJudgeError = check_on_judge_error(on_judge_error)
        # Only plain values go to guardrails: it records these kwargs in its traces.
        rules = [{"name": r.name, "threshold": r.threshold} for r in self.policy.rules]
        super().__init__(on_fail=_check_on_fail(on_fail), rules=rules, **kwargs)
        self.judge = judge
        self.prompt = prompt
        self.fallback = fallback

    async def async_validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        """Check ``value`` rule by rule; the path guardrails takes (sync guards included)."""
        prompt, reference = self._request(metadata)
        try:
            outcome = await acheck_policy(self.judge, self.policy, prompt, str(value), reference=reference)
        except (VerdictError, BackendError) as exc:
            return self._judge_failed(exc)
        return self._outcome(str(value), outcome)

    def _validate(self, value: Any, metadata: dict[str, Any]) -> ValidationResult:
        """The synchronous path."""
        prompt, reference = self._request(metadata)
        try:
            outcome = check_policy(self.judge, self.policy, prompt, str(value), reference=reference)
        except (VerdictError, BackendError) as exc:
            return self._judge_failed(exc)
        return self._outcome(str(value), outcome)

    def _request(self, metadata: Mapping[str, Any] | None) -> tuple[str, str | None]:
        metadata = metadata or {}
        reference = metadata.get("reference")
        return _prompt(metadata, self.prompt), None if reference in (None, "") else str(reference)

    def _outcome(self, value: str, outcome: PolicyOutcome) -> ValidationResult:
        details = outcome.to_dict()
        if outcome.passed:
            return PassResult(metadata=details)
        fix = self.fallback(value, outcome) if callable(self.fallback) else self.fallback
        return FailResult(error_message=outcome.message(self.policy), fix_value=fix, metadata=details)

    def _judge_failed(self, exc: RAError) -> ValidationResult:
        if self.on_judge_error == "raise":
            raise exc
        notes = " ".join(getattr(exc, "__notes__", []))  # names the rule being judged
        details = {"judge_error": {**error_to_dict(exc), "notes": notes}}
        if self.on_judge_error == "fail_open":
            return PassResult(metadata=details)
        return FailResult(
            error_message=f"The judge could not check the policy ({type(exc).__name__}: {exc}) {notes}".strip(),
            fix_value=self.fallback if isinstance(self.fallback, str) else None,
            metadata=details,
        )


def _check_on_fail(on_fail: Any) -> Any:
    """``on_fail`` if guardrails knows it; else a :class:`UsageError` listing its actions.

    guardrails itself takes any unknown string for a function and fails with
    ``TypeError: unsupported callable`` deep in its own code.
    """
    from guardrails.types import OnFailAction

    if on_fail is None or isinstance(on_fail, OnFailAction) or callable(on_fail):
        return on_fail
    if isinstance(on_fail, str) and on_fail.upper() in OnFailAction.__members__:
        return on_fail
    choices = ", ".join(repr(action.value) for action in OnFailAction)
    raise UsageError(
        f"on_fail={on_fail!r} is not a guardrails on-fail action; choose one of {choices}, "
        "or a function (value, fail_result) -> fixed value, e.g. on_fail='exception'"
    )


def _prompt(metadata: Mapping[str, Any], default: PromptLike) -> str:
    """The prompt the output answers: ``metadata["prompt"]``, else the validator's, as the judge reads it."""
    prompt = metadata.get("prompt", default)
    return "" if prompt is None or prompt == "" else prompt_text(prompt)
