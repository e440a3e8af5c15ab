"""Agreement statistics for calibration and panels: pure functions, no model, no I/O.

- :func:`confusion` / :class:`Confusion`: accuracy, precision, recall and false-pass rate of
  a pass decision against human pass/fail labels.
- :func:`cohen_kappa`: chance-corrected agreement between two raters on categories.
- :func:`krippendorff_alpha`: reliability among any number of raters with missing values,
  with the **interval** metric (squared differences; used for unit scores) or the
  **nominal** metric (equal or not; used for pass decisions).
- :func:`threshold_table` / :func:`suggest_threshold`: the pass decision at every threshold
  on the judge's unit score, and the lowest threshold that meets a false-pass target.
- :func:`bootstrap` / :func:`paired_bootstrap`: percentile confidence intervals by resampling
  cases with replacement, seeded.

Kendall's tau-b is :func:`ra_agents.sweep.kendall_tau_b` (one implementation in the core).

The bootstrap draws its resamples with Python's :class:`random.Random`, so one seed gives the
same intervals on every installation, with or without numpy; the statistics are sums over a
few thousand cases, under a second for 1000 resamples.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .._errors import UsageError
from ..evals.metrics import percentile

__all__ = [
    "Estimate",
    "Confusion",
    "ThresholdRow",
    "confusion",
    "cohen_kappa",
    "krippendorff_alpha",
    "threshold_grid",
    "threshold_table",
    "suggest_threshold",
    "bootstrap",
    "paired_bootstrap",
]

T = TypeVar("T")

Metric = Literal["interval", "nominal"]


# ----------------------------------------------------------------- estimates


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap confidence interval.

    Attributes:
        value: the statistic on all the cases (``None`` when undefined, e.g. a precision
            with no predicted pass).
        low: the interval's lower bound (``None`` when no resample gave a value).
        high: the interval's upper bound.
        n: the number of cases the statistic is over.
        level: the interval's confidence level (0.95 for a 95% interval).
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    level: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies strictly on one side of 0 (for differences: a real one)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"value", "low", "high", "n", "level"}``."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n, "level": self.level}

    def __str__(self) -> str:
        if self.value is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _resamples(n: int, resamples: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    population = range(n)
    return [rng.choices(population, k=n) for _ in range(resamples)]


def _interval(values: list[float], level: float) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    tail = (1 - level) / 2 * 100
    return percentile(values, tail), percentile(values, 100 - tail)


def _check(resamples: int, level: float) -> None:
    if resamples < 1:
        raise UsageError(f"resamples must be at least 1, got {resamples}")
    if not 0 < level < 1:
        raise UsageError(f"level must be in (0, 1), e.g. 0.95, got {level}")


def bootstrap(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """``statistic(items)`` with a percentile bootstrap interval over resampled ``items``.

    Each resample draws ``len(items)`` items with replacement (seeded by ``seed``); a resample
    where the statistic is undefined (``None``) is left out of the interval.
    """
    _check(resamples, level)
    value = statistic(items) if items else None
    if not items:
        return Estimate(None, n=0, level=level)
    draws = []
    for rows in _resamples(len(items), resamples, seed):
        v = statistic([items[i] for i in rows])
        if v is not None and not math.isnan(v):
            draws.append(v)
    low, high = _interval(draws, level)
    return Estimate(value, low, high, len(items), level)


def paired_bootstrap(
    a: Sequence[T],
    b: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """``statistic(a) - statistic(b)`` over paired items, with a paired bootstrap interval.

    ``a[i]`` and ``b[i]`` are the same case judged two ways; every resample draws the same
    cases for both, so the interval is on the difference itself (it says whether the
    difference is real: :attr:`Estimate.excludes_zero`).

    Raises:
        UsageError: ``a`` and ``b`` differ in length.
    """
    _check(resamples, level)
    if len(a) != len(b):
        raise UsageError(f"paired_bootstrap needs paired items, got {len(a)} and {len(b)}")

    def difference(rows: Sequence[int]) -> float | None:
        x = statistic([a[i] for i in rows])
        y = statistic([b[i] for i in rows])
        return None if x is None or y is None else x - y

    if not a:
        return Estimate(None, n=0, level=level)
    value = difference(range(len(a)))
    draws = [d for rows in _resamples(len(a), resamples, seed) if (d := difference(rows)) is not None]
    low, high = _interval(draws, level)
    return Estimate(value, low, high, len(a), level)


# ------------------------------------------------------------ pass decisions


@dataclass(frozen=True)
class Confusion:
    """Counts of a pass decision against human labels (a pass is the positive class).

    Attributes:
        tp: human pass, judge pass.
        fp: human fail, judge pass (a false pass: what a guardrail must avoid).
        tn: human fail, judge fail.
        fn: human pass, judge fail.
    """

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    @property
    def precision(self) -> float | None:
        """Share of judge passes that humans passed; ``None`` when the judge passed nothing."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """Share of human passes the judge passed; ``None`` when humans passed nothing."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def false_pass_rate(self) -> float | None:
        """Share of human fails the judge passed; ``None`` when humans failed nothing."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa of the two raters (see :func:`cohen_kappa`)."""
        n = self.n
        if not n:
            return None
        observed = (self.tp + self.tn) / n
        human_pass, judge_pass = (self.tp + self.fn) / n, (self.tp + self.fp) / n
        chance = human_pass * judge_pass + (1 - human_pass) * (1 - judge_pass)
        return None if chance >= 1 else (observed - chance) / (1 - chance)


def confusion(decisions: Sequence[tuple[bool, bool]]) -> Confusion:
    """The confusion counts of ``(human_pass, judge_pass)`` pairs."""
    counts = Counter((bool(h), bool(j)) for h, j in decisions)
    return Confusion(tp=counts[True, True], fp=counts[False, True], tn=counts[False, False], fn=counts[True, False])


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa between two raters' categories: ``(p_o - p_e) / (1 - p_e)``.

    ``p_o`` is the share of items both put in the same category, ``p_e`` the share expected by
    chance from each rater's own category frequencies. 1 is perfect agreement, 0 chance level.

    Returns:
        Kappa, or ``None`` when it is undefined (no items, or both raters used one and the
        same category everywhere, so ``p_e = 1``).

    Raises:
        UsageError: ``a`` and ``b`` differ in length.
    """
    if len(a) != len(b):
        raise UsageError(f"cohen_kappa needs paired ratings, got {len(a)} and {len(b)}")
    n = len(a)
    if not n:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    chance = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def krippendorff_alpha(units: Sequence[Sequence[Any]], metric: Metric = "interval") -> float | None:
    """Krippendorff's alpha: ``1 - D_o / D_e`` over units rated by several raters.

    Args:
        units: for each unit (an item, a candidate), the values its raters gave; ``None``
            marks a missing rating. Units with fewer than two values are not pairable and
            are left out.
        metric: ``"interval"`` (distance ``(a - b)²``, for scores) or ``"nominal"``
            (distance 0 when equal, else 1, for categories).

    ``D_o`` is the mean distance between values within a unit (each unit's ordered pairs
    weighted by ``1 / (m_u - 1)``), ``D_e`` the mean distance between any two pairable values.

    Returns:
        Alpha (1 perfect, 0 chance, negative systematic disagreement), or ``None`` when it is
        undefined: no pairable unit, or no variation at all (``D_e = 0``).
    """
    if metric not in ("interval", "nominal"):
        raise UsageError(f"metric must be 'interval' or 'nominal', got {metric!r}")
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    n = sum(len(unit) for unit in pairable)
    if n < 2:
        return None
    within = sum(_pair_distance(unit, metric) / (len(unit) - 1) for unit in pairable) / n
    everything = [v for unit in pairable for v in unit]
    expected = _pair_distance(everything, metric) / (n * (n - 1))
    if expected == 0:
        return None
    return 1 - within / expected


def _pair_distance(values: Sequence[Any], metric: Metric) -> float:
    """Sum of the distance over ordered pairs ``i != j`` of ``values``, in linear time."""
    m = len(values)
    if metric == "nominal":
        return float(m * m - sum(c * c for c in Counter(values).values()))
    mean = sum(values) / m
    return 2 * m * sum((v - mean) ** 2 for v in values)  # sum over i != j of (v_i - v_j)^2


# --------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdRow:
    """The pass decision ``unit_score >= threshold`` against the human labels.

    Attributes:
        threshold: the lowest passing unit score.
        passed: how many outputs the judge passes at this threshold.
        confusion: the confusion counts.
    """

    threshold: float
    passed: int
    confusion: Confusion

    @property
    def precision(self) -> float | None:
        return self.confusion.precision

    @property
    def recall(self) -> float | None:
        return self.confusion.recall

    @property
    def false_pass_rate(self) -> float | None:
        return self.confusion.false_pass_rate

    @property
    def accuracy(self) -> float | None:
        return self.confusion.accuracy

    def to_dict(self) -> dict[str, Any]:
        c = self.confusion
        return {
            "threshold": self.threshold,
            "passed": self.passed,
            "precision": self.precision,
            "recall": self.recall,
            "false_pass_rate": self.false_pass_rate,
            "accuracy": self.accuracy,
            "tp": c.tp,
            "fp": c.fp,
            "tn": c.tn,
            "fn": c.fn,
        }


def threshold_grid(step: float = 0.05) -> list[float]:
    """Thresholds from 0 to 1 by ``step`` (rounded to 6 places, 1 included)."""
    if not 0 < step <= 1:
        raise UsageError(f"the threshold step must be in (0, 1], got {step}")
    count = round(1 / step)
    grid = sorted({round(min(1.0, i * step), 6) for i in range(count + 1)} | {1.0})
    return grid


def threshold_table(scored: Sequence[tuple[bool, float]], thresholds: Sequence[float]) -> list[ThresholdRow]:
    """One row per threshold for ``(human_pass, judge_unit_score)`` pairs."""
    rows = []
    for t in sorted(set(thresholds)):
        decided = [(human, unit >= t) for human, unit in scored]
        rows.append(ThresholdRow(t, sum(j for _, j in decided), confusion(decided)))
    return rows


def suggest_threshold(rows: Sequence[ThresholdRow], max_false_pass: float) -> ThresholdRow | None:
    """The lowest threshold whose false-pass rate is at most ``max_false_pass``.

    The lowest such threshold passes the most outputs (the best recall) within the target.
    ``None`` when no row meets it, or the labels hold no human fail (no false-pass rate).
    """
    for row in sorted(rows, key=lambda r: r.threshold):
        fpr = row.false_pass_rate
        if fpr is not None and fpr <= max_false_pass + 1e-12:
            return row
    return None
