"""One acceptance rule: when a verdict accepts a candidate, and what a judge failure means.

Every adapter that turns a verdict into a yes or no (the LangGraph guard and policy node,
:class:`~ra_agents.Policy`, the guardrails validators, the LiteLLM proxy guardrail, the
evaluators' pass flags) decides with :func:`accepts`, and reads what to do when the judge
fails from one vocabulary, :data:`OnJudgeError`:

- a candidate is accepted when its **unit score** (:meth:`ra_agents.JudgeResult.unit_score`:
  the logprob-weighted expected score in [0, 1] when the backend gave logprobs, else the
  normalised integer score) is at least the threshold;
- the default threshold is :data:`DEFAULT_THRESHOLD` (0.5: a 3 on the 1-5 scale);
- a judge failure (no usable verdict, backend down) is ``"fail_closed"`` (treated as a
  rejection), ``"fail_open"`` (treated as an acceptance) or ``"raise"`` (the error
  propagates).

>>> from ra_agents import JudgeResult
>>> r = JudgeResult(names=("a",), scores={"a": 4}, ranking=("a",), normalized={"a": 0.75},
...                 reasoning="", passes=(), expected_scores={"a": 3.9})
>>> accepts(r, "a", 0.75)  # (3.9 - 1) / 4 = 0.725
False
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from ._errors import UsageError
from ._types import JudgeResult
from .warn import warn_at_caller

__all__ = [
    "DEFAULT_THRESHOLD",
    "OnJudgeError",
    "DEFAULT_ON_JUDGE_ERROR",
    "accepts",
    "check_threshold",
    "check_on_judge_error",
    "resolve_on_judge_error",
]

DEFAULT_THRESHOLD = 0.5
"""The lowest accepted unit score unless an adapter is given another (a 3 on the 1-5 scale)."""

OnJudgeError: TypeAlias = Literal["fail_closed", "fail_open", "raise"]
"""What a judge failure means: reject, accept, or let the error propagate."""

DEFAULT_ON_JUDGE_ERROR: OnJudgeError = "fail_closed"
"""Gates fail closed unless told otherwise: an unjudged output is not a passing one."""

_CHOICES = get_args(OnJudgeError)
_OLD_SPELLINGS: dict[str, OnJudgeError] = {"fail": "fail_closed", "pass": "fail_open"}


def accepts(result: JudgeResult, name: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether ``result`` accepts candidate ``name``: its unit score is at least ``threshold``."""
    return result.unit_score(name) >= threshold


def check_threshold(threshold: object, what: str = "threshold") -> float:
    """``threshold`` as a float in [0, 1], or a :class:`UsageError` that says what a threshold is."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise UsageError(f"{what} must be a number in [0, 1] (a unit score), got {threshold!r}")
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(
            f"{what} is a unit score in [0, 1] (on 1-5, 0.5 is a 3 and 0.75 a 4), got {threshold}; "
            "to think in raw scores use (score - low) / (high - low)"
        )
    return float(threshold)


def check_on_judge_error(value: object, what: str = "on_judge_error") -> OnJudgeError:
    """``value`` as an :data:`OnJudgeError`; the earlier spellings ``"fail"`` and ``"pass"`` are still read."""
    if isinstance(value, str) and value in _CHOICES:
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value in _OLD_SPELLINGS:
        return _OLD_SPELLINGS[value]
    raise UsageError(
        f"{what} must be one of {list(_CHOICES)} (reject, accept, or propagate the judge's error), got {value!r}"
    )


def resolve_on_judge_error(
    value: object,
    *,
    default: OnJudgeError = DEFAULT_ON_JUDGE_ERROR,
    old_name: str | None = None,
    old_value: object = None,
    what: str = "",
) -> OnJudgeError:
    """An adapter's ``on_judge_error``: ``value`` if given, else its deprecated spelling, else ``default``.

    Args:
        value: the ``on_judge_error`` argument (``None``: not given).
        default: the adapter's default.
        old_name: the adapter's earlier name for the setting (``"record_errors"``, ``"on_error"``).
        old_value: that setting's value, already mapped onto the vocabulary by the caller
            (``None``: not given). Giving it warns with a :class:`DeprecationWarning`.
        what: who is asking, for messages (``"guardrail 'ra'"``).

    Raises:
        UsageError: both spellings given, or a value outside the vocabulary.
    """
    prefix = f"{what}: " if what else ""
    if old_value is not None:
        mapped = check_on_judge_error(old_value, f"{prefix}{old_name}")
        warn_at_caller(f"{prefix}{old_name} is deprecated; use on_judge_error={mapped!r} instead", DeprecationWarning)
        if value is not None:
            raise UsageError(f"{prefix}give on_judge_error only, not both it and its deprecated name {old_name}")
        value = mapped
    return default if value is None else check_on_judge_error(value, f"{prefix}on_judge_error")
