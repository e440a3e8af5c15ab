"""``python -m benchmarks ray`` at a tiny size, on the session's local Ray cluster (started here if none runs)."""

from __future__ import annotations

import json

from benchmarks.cli import main


def test_ray_bench_end_to_end(ray_cluster, tmp_path, capsys) -> None:
    argv = ["ray", "--rows", "40", "--actors", "1,2", "--batch-size", "10", "--out", str(tmp_path)]
    assert main([*argv, "--no-progress", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "## Batch judging on Ray Data" in out and "| mode | actors | rows |" in out
    data = json.loads((tmp_path / "ray.json").read_text())
    assert data["ray_init_s"] == 0  # the session's cluster was reused
    assert [(r["mode"], r["actors"]) for r in data["results"]] == [
        ("judge_batch, one process", None),
        ("Ray Data", 1),
        ("Ray Data", 2),
    ]
    for row in data["results"]:
        assert row["rows"] == 40 and row["errors"] == 0 and row["rows_per_s"] > 0
    assert all(r["first_rows_s"] is not None for r in data["results"][1:])
