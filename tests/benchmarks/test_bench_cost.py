"""The cost benchmark's bookkeeping driven by a scripted judge (the real path is in test_bench_cost_real.py)."""

from __future__ import annotations

import json

import pytest

from benchmarks import cost
from ra_agents import Judge, UsageError
from ra_agents.testing import ScriptedBackend, prefer, shown_responses


def second_slot_wins(messages, settings):
    """A judge that always prefers whatever it is shown last (SmolLM2's habit on pairs)."""
    shown = list(shown_responses(messages))
    scores = {m: 5 if m == shown[-1] else 1 for m in shown}
    return json.dumps({"scores": scores, "best-to-worst": sorted(scores, key=lambda m: -scores[m])})


async def test_cost_counts_calls_per_strategy():
    judge = Judge(ScriptedBackend(default=second_slot_wins), seed=0)
    res = await cost.run_cost(judge, sizes=[2, 5, 8], show_progress=False)
    rows = {(r["n"], r["strategy"]): r for r in res["rows"]}
    for n in (2, 5, 8):
        assert (rows[n, "listwise"]["calls"], rows[n, "pointwise"]["calls"], rows[n, "pairwise"]["calls"]) == (
            1,
            n,
            n - 1,
        )
        # the scripted backend reports 10 prompt + 5 completion tokens per call
        for strategy in cost.STRATEGIES:
            r = rows[n, strategy]
            assert (r["prompt_tokens"], r["completion_tokens"]) == (10 * r["calls"], 5 * r["calls"])
            assert r["failures"] == 0 and r["best"] is not None and r["wall_s"] >= 0
    assert (rows[5, "pairwise"]["rounds"], rows[8, "pairwise"]["rounds"]) == (3, 3)
    # pointwise: every single candidate scores 5 under the position picker, so all tie
    assert rows[8, "pointwise"]["tied_at_top"] == 8 and rows[8, "pointwise"]["best"] == "c01"
    assert "8 tied at the top score" in cost.render_markdown(res)


async def test_cost_knockout_follows_the_judge_and_counts_reasks():
    """A correct judge picks the best candidate in every strategy; a re-ask counts as a call."""
    pool = ["bad 1", "bad 2", "GOOD", "bad 3"]
    judge = Judge(ScriptedBackend(["garbage"], default=prefer(lambda t: t == "GOOD")), seed=0, concurrency=1)
    res = await cost.run_cost(judge, sizes=[4], candidates={"prompt": "p", "candidates": pool}, show_progress=False)
    rows = {r["strategy"]: r for r in res["rows"]}
    assert {r["best"] for r in rows.values()} == {"c03"}
    assert rows["listwise"]["calls"] == 2 and rows["listwise"]["requests"] == 1  # one re-ask after "garbage"
    assert rows["pairwise"]["calls"] == 3 and rows["pairwise"]["rounds"] == 2


async def test_cost_rejects_too_few_candidates_and_bad_files(tmp_path):
    judge = Judge(ScriptedBackend())
    with pytest.raises(UsageError, match="N=4 needs 4 candidates"):
        await cost.run_cost(judge, sizes=[4], candidates={"prompt": "p", "candidates": ["a", "b"]}, show_progress=False)
    bad = tmp_path / "c.json"
    bad.write_text('{"prompt": "p"}')
    with pytest.raises(UsageError, match="candidates"):
        cost.load_candidates(bad)
    bad.write_text("{")
    with pytest.raises(UsageError, match="is not JSON"):
        cost.load_candidates(bad)
    assert len(cost.load_candidates()["candidates"]) == 16
