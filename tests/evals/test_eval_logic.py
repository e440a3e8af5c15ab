"""Evaluation bookkeeping driven by a scripted judge (the real path is in test_eval_real.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ra_agents import Judge, UsageError
from ra_agents.evals import listwise, rmbench
from ra_agents.testing import ScriptedBackend, prefer, shown_responses


def verdict(scores: dict[str, int]) -> str:
    return json.dumps({"scores": scores, "best-to-worst": sorted(scores, key=lambda m: -scores[m])})


def second_slot_wins(messages, settings):
    """A judge that always prefers whatever it is shown last (SmolLM2's habit on pairs)."""
    shown = list(shown_responses(messages))
    return verdict({m: 5 if m == shown[-1] else 1 for m in shown})


def equal_scores_first_ranked(messages, settings):
    """Equal scores for all, strict ranking in shown order."""
    shown = list(shown_responses(messages))
    return json.dumps({"scores": dict.fromkeys(shown, 3), "best-to-worst": shown})


ITEM = {"id": 1, "prompt": "2+2?", "chosen": ["4", "It is 4.", "**4**"], "rejected": ["5", "It is 5.", "**5**"]}


def _mini_rmbench(tmp_path: Path, items: list | None = None) -> Path:
    (tmp_path / "chat.json").write_text(json.dumps(items if items is not None else [ITEM, {**ITEM, "id": 2}]))
    return tmp_path


# ------------------------------------------------------------------ RM-Bench


async def test_rm_bench_exposes_a_position_picker(tmp_path):
    judge = Judge(ScriptedBackend(default=second_slot_wins), seed=0)
    res = await rmbench.run_rm_bench(
        judge, data_dir=_mini_rmbench(tmp_path), domains=["chat"], permutations=2, show_progress=False
    )
    chat = res["summary"]["domains"]["chat"]
    assert (chat["items"], chat["pairs"], chat["judged"], chat["pass_verdicts"]) == (2, 18, 18, 36)
    assert chat["first_slot_win_rate"] == 0.0 and chat["last_slot_win_rate"] == 1.0 and chat["chance_slot_rate"] == 0.5
    assert chat["multi_pass_cases"] == 18 and chat["winner_flips"] == 18 and chat["pass_agreement"] == 0.0
    assert chat["same_slot_every_pass"] == 18
    assert chat["chosen_win_rate_strict"] == 0.5
    # both orders: one win each and mean scores 3 vs 3, a tie worth 0.5 in every cell
    assert chat["ties"] == 18 and chat["accuracy"] == {"hard": 0.5, "normal": 0.5, "easy": 0.5, "overall": 0.5}
    # the first pass alone is right exactly when the chosen text happened to be shown last
    first_pass_right = sum(p["passes"][0]["order"][-1] == "chosen" for p in res["pairs"])
    assert 0 < first_pass_right < 18
    assert chat["single_pass_accuracy"]["overall"] == pytest.approx(first_pass_right / 18)
    assert chat["score_ties"] == 0
    md = rmbench.render_markdown(res)
    assert "| chat | 2 | 18 |" in md and "first-slot win rate" in md and "winner flips" in md


async def test_rm_bench_a_good_judge_scores_one_and_agrees_with_itself(tmp_path):
    judge = Judge(ScriptedBackend(default=prefer(lambda t: "4" in t)), seed=0)
    res = await rmbench.run_rm_bench(
        judge, data_dir=_mini_rmbench(tmp_path), domains=["chat"], permutations=2, show_progress=False
    )
    chat = res["summary"]["domains"]["chat"]
    assert chat["accuracy"]["overall"] == 1.0 and chat["single_pass_accuracy"]["overall"] == 1.0
    assert chat["ties"] == 0 and chat["winner_flips"] == 0 and chat["pass_agreement"] == 1.0
    assert chat["first_slot_win_rate"] == 0.5 and chat["same_slot_every_pass"] == 0
    assert res["summary"]["domain_mean_accuracy"]["overall"] == 1.0


async def test_rm_bench_style_matrix_follows_the_cells(tmp_path):
    """A judge that likes markdown: right when chosen is markdown, wrong when rejected is."""

    def likes_markdown(messages, settings):
        shown = shown_responses(messages)
        return verdict({m: 5 if "**" in t else (4 if "4" in t else 2) for m, t in shown.items()})

    judge = Judge(ScriptedBackend(default=likes_markdown), seed=0)
    res = await rmbench.run_rm_bench(
        judge, data_dir=_mini_rmbench(tmp_path), domains=["chat"], limit=1, permutations=2, show_progress=False
    )
    chat = res["summary"]["domains"]["chat"]
    # rows: chosen style; columns: rejected style. Markdown wins; otherwise correctness.
    # Markdown vs markdown scores 5 vs 5: each pass ranks the first shown first, so one
    # win each over the two orders and equal mean scores: a tie.
    assert chat["matrix"] == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.5]]
    assert chat["ties"] == 1 and chat["score_ties"] == 2 and chat["winner_flips"] == 1
    assert chat["accuracy"]["hard"] == pytest.approx(1 / 3)
    assert chat["accuracy"]["easy"] == 1.0
    assert chat["accuracy"]["normal"] == pytest.approx(2.5 / 3)
    cell22 = next(p for p in res["pairs"] if (p["chosen_style"], p["rejected_style"]) == (2, 2))
    assert chat["single_pass_accuracy"]["normal"] == pytest.approx(
        (2 + (cell22["passes"][0]["order"][0] == "chosen")) / 3
    )


async def test_rm_bench_counts_parse_failures_and_backend_errors_as_wrong(tmp_path):
    from ra_agents import BackendError

    answers = ["no verdict here"] * 5 + [BackendError("down", status=503)] * 4
    judge = Judge(ScriptedBackend(answers), max_retries=0, concurrency=1)
    res = await rmbench.run_rm_bench(
        judge, data_dir=_mini_rmbench(tmp_path), domains=["chat"], limit=1, permutations=1, show_progress=False
    )
    chat = res["summary"]["domains"]["chat"]
    assert (chat["parse_failures"], chat["backend_errors"], chat["judged"]) == (5, 4, 0)
    assert chat["accuracy"]["overall"] == 0.0 and chat["pass_verdicts"] == 0
    assert all(p["error"] for p in res["pairs"])


async def test_rm_bench_cells_subset(tmp_path):
    judge = Judge(ScriptedBackend(default=prefer(lambda t: "4" in t)), seed=0)
    res = await rmbench.run_rm_bench(
        judge, data_dir=_mini_rmbench(tmp_path), domains=["chat"], cells=[(0, 2)], permutations=1, show_progress=False
    )
    chat = res["summary"]["domains"]["chat"]
    assert chat["pairs"] == 2 and chat["accuracy"]["hard"] == 1.0 and chat["accuracy"]["overall"] == 1.0
    assert chat["accuracy"]["normal"] != chat["accuracy"]["normal"]  # nan: no diagonal cell judged
    with pytest.raises(UsageError, match="style cells"):
        await rmbench.run_rm_bench(judge, data_dir=tmp_path, domains=["chat"], cells=[(0, 3)], show_progress=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('{"a": 1}', "expected a JSON list"),
        (json.dumps([{**ITEM, "chosen": ["only one"]}]), "'chosen' must hold 3 texts"),
        (
            json.dumps([ITEM, {"id": 7, "chosen": ITEM["chosen"], "rejected": ITEM["rejected"]}]),
            r"item 1 \(id 7\) needs a string 'prompt'",
        ),
    ],
)
def test_rm_bench_data_errors_are_clear(tmp_path, content, message):
    (tmp_path / "chat.json").write_text(content)
    with pytest.raises(UsageError, match=message):
        rmbench.load_domain(tmp_path, "chat")


def test_rm_bench_missing_file_and_unknown_domain(tmp_path):
    with pytest.raises(UsageError, match="not found; pass --data"):
        rmbench.load_domain(tmp_path, "chat")
    judge = Judge(ScriptedBackend())
    run = rmbench.run_rm_bench(judge, data_dir=tmp_path, domains=["math"], show_progress=False)
    with pytest.raises(UsageError, match="unknown RM-Bench domains"):
        asyncio.run(run)


# ----------------------------------------------------------------- listwise


async def test_listwise_sample_loads_and_scores():
    cases = listwise.load_cases()
    assert [c.id for c in cases] == ["arith", "refuse", "capital", "tone"]
    first = cases[0]
    perfect = listwise.case_metrics(["right-short", "right-long", "wrong"], first.reference)
    assert perfect == {"kendall_tau": 1.0, "ndcg": 1.0, "pairwise_accuracy": 1.0}
    judge = Judge(ScriptedBackend(default=prefer(lambda t: t == "102")), seed=0)
    res = await listwise.run_listwise(judge, [first], permutations=1, show_progress=False)
    assert res["failures"] == 0 and res["mean"]["pairwise_accuracy"] >= 2 / 3
    assert res["position_bias"]["multi_pass_cases"] == 0


async def test_listwise_position_bias_single_pass_vs_aggregated():
    """A judge that ranks in shown order: each pass is random, the Borda aggregate is a tie-break."""
    cases = listwise.load_cases()
    judge = Judge(ScriptedBackend(default=equal_scores_first_ranked), seed=0)
    res = await listwise.run_listwise(judge, cases, permutations=2, show_progress=False)
    bias = res["position_bias"]
    assert bias["pass_verdicts"] == 8 and bias["multi_pass_cases"] == 4
    assert bias["first_slot_win_rate"] == 1.0 and bias["last_slot_win_rate"] == 0.0
    assert bias["chance_slot_rate"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 4 + 1 / 3) / 4)
    # the winner flips exactly when the two orders put different candidates first
    flips = sum(row["passes"][0]["order"][0] != row["passes"][1]["order"][0] for row in res["rows"])
    assert bias["winner_flips"] == flips and bias["pass_agreement"] == 1 - flips / 4
    assert bias["same_slot_every_pass"] == 4
    for row in res["rows"]:
        first_pass = listwise.case_metrics(
            row["passes"][0]["ranking"], cases[[c.id for c in cases].index(row["id"])].reference
        )
        assert row["single_pass"] == first_pass
    md = listwise.render_markdown(res)
    assert "mean, 1st pass alone" in md and f"{flips} of 4" in md


def _write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


GOOD = {"principle": "p", "prompt": "q", "responses": {"a": "x", "b": "y"}, "reference_ranking": ["b", "a"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"line 2 is not valid JSON: .* at column 2"),
        ("[1, 2]", r":2: expected a JSON object, got list"),
        ({**GOOD, "principle": "  "}, r":2: principle: principle is blank"),
        ({k: v for k, v in GOOD.items() if k != "prompt"}, r":2: prompt: Field required"),
        ({**GOOD, "responses": {"a": "x"}}, r":2: responses: needs at least two candidates"),
        (
            {k: v for k, v in GOOD.items() if k != "reference_ranking"},
            "exactly one of 'reference_scores' and 'reference_ranking'",
        ),
        ({**GOOD, "reference_scores": {"a": 1, "b": 2}}, "exactly one of"),
        ({**GOOD, "reference_ranking": ["a", "c"]}, r"missing \['b'\], unknown \['c'\]"),
        ({**GOOD, "reference_ranking": ["a", "a"]}, "names a candidate twice"),
        (
            {**{k: v for k, v in GOOD.items() if k != "reference_ranking"}, "reference_scores": {"a": "high", "b": 1}},
            r"reference_scores\.a: Input should be a valid number",
        ),
    ],
)
def test_listwise_jsonl_errors_name_the_line_and_the_problem(tmp_path, line, message):
    path = _write(tmp_path, GOOD, line)
    with pytest.raises(UsageError, match=message) as info:
        listwise.load_cases(path)
    assert str(path) in str(info.value)


def test_listwise_jsonl_accepts_both_reference_forms_and_skips_blank_lines(tmp_path):
    scores = {
        **{k: v for k, v in GOOD.items() if k != "reference_ranking"},
        "id": "s",
        "reference_scores": {"a": 1, "b": 2.5},
    }
    cases = listwise.load_cases(_write(tmp_path, GOOD, "", scores))
    assert [c.id for c in cases] == [1, "s"]  # line number when no id
    assert cases[0].reference == {"b": 2.0, "a": 1.0} and cases[1].reference == {"a": 1.0, "b": 2.5}
    with pytest.raises(UsageError, match="holds no cases"):
        listwise.load_cases(_write(tmp_path, ""))
    with pytest.raises(UsageError, match="cannot read"):
        listwise.load_cases(tmp_path / "missing.jsonl")
