"""``python -m benchmarks cost`` on a tiny slice against the real served model (CPU: a few calls).

These prove the harness runs end to end and writes sane outputs; they never assert that
the bundled model judges well.
"""

from __future__ import annotations

import pytest

from benchmarks.cli import main
from tests.harness_outputs import outputs, run_on_served_model

pytestmark = pytest.mark.vllm


def _run(vllm_server, tmp_path, capsys, *args: str) -> str:
    return run_on_served_model(main, vllm_server, tmp_path, capsys, *args)


def test_cost_slice(vllm_server, tmp_path, capsys):
    out = _run(vllm_server, tmp_path, capsys, "cost", "--sizes", "2")
    assert "| N | strategy | requests | calls |" in out
    rows = outputs(tmp_path, "cost")["rows"]
    assert [(r["n"], r["strategy"], r["requests"]) for r in rows] == [
        (2, "listwise", 1),
        (2, "pointwise", 2),
        (2, "pairwise", 1),
    ]
    for r in rows:
        assert r["calls"] >= r["requests"]  # re-asks only add
        assert r["prompt_tokens"] > 0 and r["wall_s"] > 0
        assert r["failures"] > 0 or r["best"] in {"c01", "c02"}
