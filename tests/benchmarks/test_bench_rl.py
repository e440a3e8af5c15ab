"""``python -m benchmarks rl`` with small numbers: every group judged whole, in one call, in every configuration."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cli import main


def test_rl_bench_small(tmp_path: Path) -> None:
    argv = ["rl", "--prompts", "3", "--group", "4", "--workers", "1,2", "--threads", "4"]
    assert main([*argv, "--out", str(tmp_path), "--no-plot", "--no-progress"]) == 0

    results = json.loads((tmp_path / "rl.json").read_text())
    rows = {r["config"]: r for r in results["rows"]}
    assert list(rows) == ["http-workers1", "http-workers2", "reward-func-threads4"]
    for row in rows.values():
        assert (row["ok"], row["errors"]) == (12, 0), row["first_error"]
        assert row["judge_calls"] == 3 and row["calls_per_group"] == 1.0 and row["judged_group_sizes"] == [4]
        assert row["rewards_per_s"] > 0 and row["wait_p50_ms"] >= 0
    assert "| http-workers2 |" in (tmp_path / "rl.md").read_text()
