"""Pure metric functions of the evaluations, calibration and the benchmarks (no model, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

__all__ = [
    "ndcg",
    "pairwise_accuracy",
    "ranking_to_scores",
    "pair_credit",
    "style_summary",
    "position_bias",
    "mean",
    "percentile",
]


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def ndcg(ranking: Sequence[str], relevance: Mapping[str, float], k: int | None = None) -> float:
    """Normalised discounted cumulative gain of ``ranking`` (best first) at ``k``.

    Gain is the reference relevance itself (linear gain), discount ``1 / log2(rank + 1)``.
    Items missing from ``relevance`` count as 0. Returns 1.0 when every relevance is 0.
    """
    k = len(ranking) if k is None else k
    gains = [float(relevance.get(name, 0.0)) for name in ranking[:k]]
    ideal = sorted((float(v) for v in relevance.values()), reverse=True)[:k]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 1.0


def pairwise_accuracy(predicted: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """Share of reference-ordered pairs the prediction orders alike.

    Only pairs with a strict reference preference count; a predicted tie earns 0.5.
    Returns ``nan`` when the reference orders no pair.
    """
    names = [n for n in reference if n in predicted]
    total = credit = 0.0
    for a, b in combinations(names, 2):
        ref = _sign(reference[a] - reference[b])
        if ref == 0:
            continue
        total += 1
        pred = _sign(predicted[a] - predicted[b])
        credit += 1.0 if pred == ref else 0.5 if pred == 0 else 0.0
    return credit / total if total else float("nan")


def ranking_to_scores(ranking: Sequence[str]) -> dict[str, float]:
    """Scores from a best-to-worst ranking: the best of N gets N, the worst 1."""
    n = len(ranking)
    return {name: float(n - i) for i, name in enumerate(ranking)}


def pair_credit(chosen_score: float, rejected_score: float) -> float:
    """Credit for one chosen-vs-rejected verdict: 1 right, 0 wrong, 0.5 a tie."""
    if chosen_score > rejected_score:
        return 1.0
    if chosen_score < rejected_score:
        return 0.0
    return 0.5


def style_summary(matrix: Sequence[Sequence[float]]) -> dict[str, float]:
    """RM-Bench hard/normal/easy/overall from a 3x3 accuracy matrix.

    ``matrix[i][j]`` is the accuracy of chosen style ``i`` against rejected style ``j``
    (styles: concise, detailed plain, detailed markdown). Hard is the strict upper
    triangle (chosen plainer than rejected), normal the diagonal, easy the strict lower
    triangle; overall the mean of all nine cells.
    """
    n = len(matrix)
    if n == 0 or any(len(row) != n for row in matrix):
        raise ValueError("style_summary needs a square matrix")
    upper = [matrix[i][j] for i in range(n) for j in range(n) if i < j]
    diag = [matrix[i][i] for i in range(n)]
    lower = [matrix[i][j] for i in range(n) for j in range(n) if i > j]
    cells = [v for row in matrix for v in row]
    return {
        "hard": mean(upper),
        "normal": mean(diag),
        "easy": mean(lower),
        "overall": mean(cells),
    }


def position_bias(cases: Sequence[Sequence[tuple[Sequence[str], str]]]) -> dict[str, float | int]:
    """Position-bias figures over judged cases, each given as its passes ``(order shown, winner)``.

    Returns:
        ``pass_verdicts``: passes counted;
        ``first_slot_win_rate`` / ``last_slot_win_rate``: share of passes whose winner was
        shown first / last;
        ``chance_slot_rate``: what a position-blind judge would show for either (mean 1/N);
        ``multi_pass_cases``: cases judged in two or more orders;
        ``winner_flips``: those whose passes did not all pick the same winner;
        ``pass_agreement``: the share of them whose passes all agreed (1 - flips / cases);
        ``same_slot_every_pass``: those whose every pass picked the same *slot* although
        the order changed (for pairs: a pure position pick).
    """
    passes = [(list(order), winner) for case in cases for order, winner in case]
    multi = [case for case in cases if len(case) >= 2]
    flips = sum(len({winner for _, winner in case}) > 1 for case in multi)
    same_slot = sum(
        len({list(order).index(winner) for order, winner in case}) == 1 and len({tuple(order) for order, _ in case}) > 1
        for case in multi
    )
    return {
        "pass_verdicts": len(passes),
        "first_slot_win_rate": mean([float(o[0] == w) for o, w in passes]),
        "last_slot_win_rate": mean([float(o[-1] == w) for o, w in passes]),
        "chance_slot_rate": mean([1 / len(o) for o, _ in passes]),
        "multi_pass_cases": len(multi),
        "winner_flips": flips,
        "pass_agreement": 1 - flips / len(multi) if multi else float("nan"),
        "same_slot_every_pass": same_slot,
    }


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean skipping NaN; ``nan`` when nothing is left."""
    kept = [v for v in values if v == v]
    return sum(kept) / len(kept) if kept else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; ``nan`` when empty."""
    if not values:
        return float("nan")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)
