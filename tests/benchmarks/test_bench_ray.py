"""``python -m benchmarks ray`` at a tiny size, on the session's local Ray cluster (started here if none runs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.cli import main
from ra_agents.integrations.ray import ray_session


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """The cluster tests/integrations/test_ray.py started, or a like one (2 CPUs, a small object store)."""
    with ray_session(
        "local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False
    ) as ray:
        yield ray


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
