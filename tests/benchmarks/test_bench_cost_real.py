"""``python -m benchmarks cost`` on a tiny slice against the real served model (CPU: a few calls).

These prove the harness runs end to end and writes sane outputs; they never assert that
the bundled model judges well.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.cli import main

pytestmark = pytest.mark.vllm


def _run(vllm_server, tmp_path, capsys, *args: str) -> str:
    code = main(
        [
            *args,
            "--model",
            vllm_server.litellm_model,
            "--api-base",
            vllm_server.api_base,
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def _outputs(tmp_path, name: str) -> dict:
    assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / f"{name}.md").read_text().startswith("## ")
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data["machine"]["cpus"] >= 1 and data["argv"][0] == name
    return data


def test_cost_slice(vllm_server, tmp_path, capsys):
    out = _run(vllm_server, tmp_path, capsys, "cost", "--sizes", "2")
    assert "| N | strategy | requests | calls |" in out
    rows = _outputs(tmp_path, "cost")["rows"]
    assert [(r["n"], r["strategy"], r["requests"]) for r in rows] == [
        (2, "listwise", 1),
        (2, "pointwise", 2),
        (2, "pairwise", 1),
    ]
    for r in rows:
        assert r["calls"] >= r["requests"]  # re-asks only add
        assert r["prompt_tokens"] > 0 and r["wall_s"] > 0
        assert r["failures"] > 0 or r["best"] in {"c01", "c02"}
