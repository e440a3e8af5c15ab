"""Aggregate several judging passes (different candidate orders) into one verdict."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from ._types import PassVerdict

__all__ = ["aggregate", "borda_points", "normalize"]


def normalize(score: float, scale: tuple[int, int]) -> float:
    """Map a score on ``scale`` to [0, 1]."""
    low, high = scale
    return (score - low) / (high - low) if high > low else 1.0


def borda_points(rankings: Sequence[Sequence[str]], names: Sequence[str]) -> dict[str, int]:
    """THE Borda count: each best-to-worst ranking gives a candidate ``n - 1 - position`` points."""
    n = len(names)
    points = dict.fromkeys(names, 0)
    for ranking in rankings:
        for pos, name in enumerate(ranking):
            points[name] += n - 1 - pos
    return points


def aggregate(
    names: Sequence[str], passes: Sequence[PassVerdict]
) -> tuple[dict[str, float], tuple[str, ...], float | None, float | None, dict[str, float] | None]:
    """Combine passes into (scores, ranking, agreement, pairwise_agreement, expected_scores).

    Scores are means over passes (plain ints for one pass). The ranking is a Borda count
    (a candidate gets ``n - 1 - position`` points per pass); ties go to the higher mean
    score, then to request order. ``agreement`` is the share of passes whose winner is
    the overall winner; ``pairwise_agreement`` the share of candidate pairs that two
    passes order alike, averaged over pairs of passes. Both are ``None`` for one pass.
    """
    if len(passes) == 1:
        only = passes[0]
        expected = dict(only.expected_scores) if only.expected_scores else None
        return {n: only.scores[n] for n in names}, tuple(only.ranking), None, None, expected

    k = len(passes)
    n = len(names)
    scores = {name: sum(p.scores[name] for p in passes) / k for name in names}
    borda = borda_points([p.ranking for p in passes], names)
    position = {name: i for i, name in enumerate(names)}
    ranking = tuple(sorted(names, key=lambda m: (-borda[m], -scores[m], position[m])))

    winner = ranking[0]
    agreement = sum(p.ranking[0] == winner for p in passes) / k
    pairwise = None
    if n > 1:
        ranks = [{name: i for i, name in enumerate(p.ranking)} for p in passes]
        pair_scores = []
        for a, b in combinations(ranks, 2):
            same = sum((a[x] < a[y]) == (b[x] < b[y]) for x, y in combinations(names, 2))
            pair_scores.append(same / (n * (n - 1) / 2))
        pairwise = sum(pair_scores) / len(pair_scores)

    expected = None
    tables = [p.expected_scores for p in passes if p.expected_scores]
    if len(tables) == k:  # every pass has expected scores
        expected = {name: sum(t[name] for t in tables) / k for name in names}
    return scores, ranking, agreement, pairwise, expected
