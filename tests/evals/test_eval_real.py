"""``ra-agents eval`` on a tiny slice against the real served model (CPU: about ten calls in all).

These prove the harness runs end to end and writes sane outputs; they never assert that
the bundled model judges well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ra_agents.cli.eval import main
from tests.harness_outputs import outputs, run_on_served_model

pytestmark = pytest.mark.vllm

RM_BENCH_FIXTURE = Path(__file__).parent / "data" / "rm-bench"


def _run(vllm_server, tmp_path, capsys, *args: str) -> str:
    return run_on_served_model(main, vllm_server, tmp_path, capsys, *args)


def _rate(value) -> bool:
    return value is not None and 0.0 <= value <= 1.0


def test_rm_bench_slice(vllm_server, tmp_path, capsys):
    out = _run(
        vllm_server,
        tmp_path,
        capsys,
        "rm-bench",
        "--data",
        str(RM_BENCH_FIXTURE),
        "--domains",
        "chat",
        "--limit",
        "1",
        "--cells",
        "00,02",
        "--permutations",
        "2",
    )
    assert "| domain | items | pairs | hard | normal | easy | overall |" in out and "| chat | 1 | 2 |" in out
    chat = outputs(tmp_path, "rm-bench")["summary"]["domains"]["chat"]
    assert chat["judged"] + chat["parse_failures"] + chat["backend_errors"] == 2
    assert chat["backend_errors"] == 0
    assert chat["pass_verdicts"] == 2 * chat["judged"] and chat["multi_pass_cases"] == chat["judged"]
    assert 0 <= chat["winner_flips"] <= chat["judged"] and 0 <= chat["ties"] <= chat["judged"]
    for key in ("normal", "hard", "overall"):
        assert _rate(chat["accuracy"][key]) and _rate(chat["single_pass_accuracy"][key])
    assert chat["accuracy"]["easy"] is None  # no easy cell judged: NaN, written as null
    if chat["judged"]:
        assert _rate(chat["first_slot_win_rate"]) and _rate(chat["pass_agreement"])
        assert chat["first_slot_win_rate"] + chat["last_slot_win_rate"] == pytest.approx(1.0)
    assert chat["prompt_tokens"] > 0 and chat["completion_tokens"] > 0


def test_listwise_slice(vllm_server, tmp_path, capsys):
    out = _run(vllm_server, tmp_path, capsys, "listwise", "--limit", "1", "--permutations", "2")
    assert "| case | N | Kendall tau | NDCG | pairwise acc. |" in out and "### Position bias" in out
    data = outputs(tmp_path, "listwise")
    assert data["cases"] == 1 and data["failures"] == 0
    row = data["rows"][0]
    assert row["id"] == "arith" and sorted(row["ranking"]) == ["right-long", "right-short", "wrong"]
    assert -1.0 <= row["kendall_tau"] <= 1.0 and 0.0 < row["ndcg"] <= 1.0 and _rate(row["pairwise_accuracy"])
    assert len(row["passes"]) == 2 and row["passes"][0]["order"] != row["passes"][1]["order"]
    assert data["position_bias"]["pass_verdicts"] == 2 and data["mean"]["ndcg"] is not None
