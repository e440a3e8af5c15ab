"""Pure metric functions of the benchmarks."""

from __future__ import annotations

import math

import pytest

from ra_agents.evals.metrics import (
    ndcg,
    pair_credit,
    pairwise_accuracy,
    percentile,
    ranking_to_scores,
    style_summary,
)


def test_listwise_tau_is_the_core_tau_b_and_nan_when_undefined():
    from ra_agents.evals.listwise import case_metrics

    # predicted b > a > c (scores 3, 2, 1) against reference a > b > c: one discordant pair of three
    assert case_metrics(["b", "a", "c"], {"a": 3.0, "b": 2.0, "c": 1.0})["kendall_tau"] == pytest.approx(1 / 3)
    assert math.isnan(case_metrics(["a", "b"], {"a": 1.0, "b": 1.0})["kendall_tau"])


def test_ndcg():
    rel = {"a": 3, "b": 2, "c": 0}
    assert ndcg(["a", "b", "c"], rel) == pytest.approx(1.0)
    worst = ndcg(["c", "b", "a"], rel)
    expected = (2 / math.log2(3) + 3 / math.log2(4)) / (3 + 2 / math.log2(3))
    assert worst == pytest.approx(expected)
    assert ndcg(["a", "b"], {"a": 0, "b": 0}) == 1.0
    assert ndcg(["b", "a", "c"], rel, k=1) == pytest.approx(2 / 3)


def test_pairwise_accuracy_counts_ties_half_and_skips_reference_ties():
    ref = {"a": 3, "b": 2, "c": 1}
    assert pairwise_accuracy({"a": 3, "b": 2, "c": 1}, ref) == 1.0
    assert pairwise_accuracy({"a": 1, "b": 2, "c": 3}, ref) == 0.0
    assert pairwise_accuracy({"a": 2, "b": 2, "c": 1}, ref) == pytest.approx((0.5 + 1 + 1) / 3)
    assert pairwise_accuracy({"a": 1, "b": 2}, {"a": 1, "b": 1, "c": 0}) != pairwise_accuracy(
        {"a": 1, "b": 2}, {"a": 1, "b": 2}
    )
    assert math.isnan(pairwise_accuracy({"a": 1, "b": 2}, {"a": 1, "b": 1}))


def test_ranking_to_scores_and_pair_credit():
    assert ranking_to_scores(["x", "y", "z"]) == {"x": 3.0, "y": 2.0, "z": 1.0}
    assert (pair_credit(5, 1), pair_credit(1, 5), pair_credit(3, 3)) == (1.0, 0.0, 0.5)


def test_style_summary_uses_rm_bench_triangles():
    # rows: chosen style (concise, detailed, markdown); columns: rejected style
    m = [[0.9, 0.1, 0.2], [0.8, 0.5, 0.3], [0.7, 0.6, 0.4]]
    s = style_summary(m)
    assert s["hard"] == pytest.approx((0.1 + 0.2 + 0.3) / 3)
    assert s["normal"] == pytest.approx((0.9 + 0.5 + 0.4) / 3)
    assert s["easy"] == pytest.approx((0.8 + 0.7 + 0.6) / 3)
    assert s["overall"] == pytest.approx(sum(sum(r) for r in m) / 9)
    with pytest.raises(ValueError, match="square matrix"):
        style_summary([[1, 2]])


def test_percentile():
    assert percentile([3, 1, 2], 50) == 2
    assert percentile([0, 10], 90) == pytest.approx(9)
    assert math.isnan(percentile([], 50))


def test_a_saved_plot_leaves_the_processs_matplotlib_backend_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from ra_agents.evals.report import plot

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's own backend
    try:
        path = plot(tmp_path / "p.png", lambda fig: fig.add_subplot().plot([1, 2], [2, 1]))
        assert path is not None and path.stat().st_size > 1000
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
