"""Ordered principle policies: each rule a principle with its own threshold, checked in order.

A :class:`Policy` says, for example, "safety must reach 0.75, and only then is tone judged
(it must reach 0.5)". :func:`acheck_policy` judges an output rule by rule, in order, and
stops at the first rule it fails: later rules are not judged (no cost, no verdict). The
guardrails policy validator and the LangGraph policy node are built on it.

Scores are unit scores in [0, 1] (:meth:`ra_agents.JudgeResult.unit_score`: the
logprob-weighted expected score when the backend gives logprobs, else the normalised
integer score). With a reference, each rule judges the output and the reference together
in one listwise call, so the score is relative to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import UsageError
from ._types import JudgeResult
from .acceptance import DEFAULT_THRESHOLD, accepts, check_threshold
from .principles import PrincipleLike, principle_text
from .sync import run_sync

if TYPE_CHECKING:
    from .judging import Judging

__all__ = ["Rule", "Policy", "PolicyOutcome", "acheck_policy", "check_policy", "OUTPUT", "REFERENCE"]

OUTPUT = "output"
"""The output's candidate name in the policy's judge calls."""
REFERENCE = "reference"
"""The reference's candidate name in the policy's judge calls."""


@dataclass(frozen=True)
class Rule:
    """One rule of a policy.

    Attributes:
        name: short name, unique in the policy (``"safety"``); names the failure.
        principle: what the output must respect (text or :class:`~ra_agents.Principle`).
        threshold: the lowest passing unit score, in [0, 1] (on 1-5, 0.5 is a 3, 0.75 a 4).
    """

    name: str
    principle: PrincipleLike
    threshold: float = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise UsageError("a policy rule has an empty name; name every rule, e.g. 'safety'")
        try:
            principle_text(self.principle)
        except UsageError as exc:
            raise UsageError(f"rule {self.name!r}: {exc}") from None
        check_threshold(self.threshold, f"rule {self.name!r}: threshold")


@dataclass(frozen=True)
class Policy:
    """Rules checked in order; the first failing rule fails the policy.

    Build one from rules, or from ``name -> (principle, threshold)`` (or ``name ->
    principle`` with the default threshold) with :meth:`of`.
    """

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if not self.rules:
            raise UsageError("a policy needs at least one rule")
        seen: set[str] = set()
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise UsageError(f"policy rules must be ra_agents.policy.Rule, got {type(rule).__name__}")
            if rule.name in seen:
                raise UsageError(f"rule {rule.name!r} appears twice in the policy; rule names must be unique")
            seen.add(rule.name)

    @classmethod
    def of(
        cls,
        rules: Policy | Iterable[Rule] | Mapping[str, PrincipleLike | tuple[PrincipleLike, float]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> Policy:
        """A policy from rules, or from ``name -> principle`` / ``name -> (principle, threshold)`` in order."""
        if isinstance(rules, Policy):
            return rules
        if isinstance(rules, Mapping):
            built = []
            for name, value in rules.items():
                principle, limit = value if isinstance(value, tuple) else (value, threshold)
                built.append(Rule(name, principle, limit))
            return cls(tuple(built))
        return cls(tuple(rules))

    @property
    def names(self) -> tuple[str, ...]:
        """Rule names in order."""
        return tuple(r.name for r in self.rules)


@dataclass(frozen=True)
class PolicyOutcome:
    """What :func:`acheck_policy` found.

    Attributes:
        passed: every rule passed.
        failed: the first failing rule's name, or ``None``.
        scores: the output's unit score under each judged rule, in order.
        verdicts: each judged rule's verdict; rules after the failing one are absent.
        skipped: rules not judged because an earlier rule failed.
        beats_reference: per judged rule, whether the output ranked above the reference
            (empty without a reference).
    """

    passed: bool
    failed: str | None
    scores: Mapping[str, float]
    verdicts: Mapping[str, JudgeResult]
    skipped: tuple[str, ...] = ()
    beats_reference: Mapping[str, bool] = field(default_factory=dict)

    def message(self, policy: Policy) -> str:
        """A one-paragraph account for error messages and feedback: the failing rule, its score and why."""
        if self.failed is None:
            return "The output passed every rule: " + ", ".join(f"{n} {s:.2f}" for n, s in self.scores.items()) + "."
        rule = next(r for r in policy.rules if r.name == self.failed)
        verdict = self.verdicts[self.failed]
        high = verdict.scale[1]
        text = (
            f"The output failed rule {rule.name!r}: it scored {round(verdict.scores[OUTPUT], 2):g}/{high} "
            f"({self.scores[rule.name]:.2f} normalised, below the threshold {rule.threshold:g})"
        )
        if self.skipped:
            text += f"; not judged: {', '.join(self.skipped)}"
        text += "."
        if verdict.reasoning:
            text += f" Judge's reasoning: {verdict.reasoning}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for state, logs and metadata)."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "scores": dict(self.scores),
            "skipped": list(self.skipped),
            "beats_reference": dict(self.beats_reference),
            "reasoning": {n: v.reasoning for n, v in self.verdicts.items()},
        }


async def acheck_policy(
    judge: Judging,
    policy: Policy | Iterable[Rule] | Mapping[str, PrincipleLike | tuple[PrincipleLike, float]],
    prompt: Any,
    output: Any,
    *,
    reference: Any = None,
) -> PolicyOutcome:
    """Judge ``output`` rule by rule, in order, stopping at the first failure.

    Args:
        judge: the judge, local or remote (one listwise call per judged rule).
        policy: the rules (see :meth:`Policy.of`).
        prompt: what the output answers (text or messages, see :func:`ra_agents.prompt_text`).
        output: the output (a text or a structured candidate).
        reference: a reference or alternative answer judged beside the output, or ``None``.

    Raises:
        UsageError: a bad policy or request.
        BackendError, VerdictError: the judge failed on a rule (callers choose fail-open
            or fail-closed).
    """
    policy = Policy.of(policy)
    responses = {OUTPUT: output}
    if reference is not None and reference != "":
        responses[REFERENCE] = reference
    scores: dict[str, float] = {}
    verdicts: dict[str, JudgeResult] = {}
    beats: dict[str, bool] = {}
    for i, rule in enumerate(policy.rules):
        try:
            result = await judge.ajudge(rule.principle, prompt, responses)
        except Exception as exc:
            exc.add_note(f"(while judging policy rule {rule.name!r})")
            raise
        verdicts[rule.name] = result
        scores[rule.name] = result.unit_score(OUTPUT)
        if REFERENCE in responses:
            beats[rule.name] = result.ranking.index(OUTPUT) < result.ranking.index(REFERENCE)
        if not accepts(result, OUTPUT, rule.threshold):
            skipped = tuple(r.name for r in policy.rules[i + 1 :])
            return PolicyOutcome(False, rule.name, scores, verdicts, skipped, beats)
    return PolicyOutcome(True, None, scores, verdicts, (), beats)


def check_policy(
    judge: Judging,
    policy: Policy | Iterable[Rule] | Mapping[str, PrincipleLike | tuple[PrincipleLike, float]],
    prompt: Any,
    output: Any,
    *,
    reference: Any = None,
) -> PolicyOutcome:
    """Synchronous :func:`acheck_policy`."""
    return run_sync(acheck_policy(judge, policy, prompt, output, reference=reference), async_name="acheck_policy")
