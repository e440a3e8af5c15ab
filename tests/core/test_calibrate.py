"""Calibration against labels: hand-checked statistics, the labels format, the report, the CLI.

Every figure asserted here is worked out by hand in the comment above it. The scripted judge
scores a text by its tag: ``"[4]"`` scores 4 (unit score (4 - 1) / 4 = 0.75).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from ra_agents import BackendUnavailable, GenerationSettings, Judge, Message, UsageError
from ra_agents.calibration import (
    LabelledCase,
    calibrate,
    case_from_dict,
    cases_from_dicts,
    labels_from_langsmith,
    labels_from_rm_bench,
    read_labels,
)
from ra_agents.calibration.stats import (
    Confusion,
    bootstrap,
    cohen_kappa,
    confusion,
    krippendorff_alpha,
    paired_bootstrap,
    suggest_threshold,
    threshold_grid,
    threshold_table,
)
from ra_agents.cli import main
from ra_agents.panel import Panel
from ra_agents.testing import ScriptedBackend, shown_responses

ROOT = Path(__file__).resolve().parents[2]
GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


def _tag(text: str) -> int:
    found = re.search(r"\[(\d)\]", text)
    if found is None:
        raise BackendUnavailable(f"no tag in {text!r} (scripted failure)")
    return int(found.group(1))


def tag_judge(transform: Any = None, **options: Any) -> Judge:
    """A judge that scores each candidate by its ``[n]`` tag (``transform(principle, n)`` when given)."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        principle = json.loads(messages[1]["content"])["principle"]
        shown = shown_responses(messages)
        scores = {m: (transform(principle, _tag(t)) if transform else _tag(t)) for m, t in shown.items()}
        return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])})

    return Judge(ScriptedBackend(default=answer), max_retries=0, **options)


def label(cid: str, tag: int, passed: bool) -> dict[str, Any]:
    return {"id": cid, "prompt": "q", "principle": "P", "response": f"answer [{tag}]", "label": passed}


# Six outputs: (tag, human label). Unit scores 1, .75, .75, .5, .25, 0.
SIX = [
    label("A", 5, True),
    label("B", 4, True),
    label("C", 4, False),
    label("D", 3, False),
    label("E", 2, True),
    label("F", 1, False),
]


# ------------------------------------------------------------------ statistics


def test_confusion_and_kappa_by_hand() -> None:
    # human [P, P, F, F] vs judge [P, F, F, F]: tp 1, fn 1, tn 2, fp 0.
    # accuracy 3/4; precision 1/1; recall 1/2; false-pass 0/2.
    # kappa: p_o = .75; p_e = .5 * .25 + .5 * .75 = .5; (.75 - .5) / .5 = .5.
    c = confusion([(True, True), (True, False), (False, False), (False, False)])
    assert c == Confusion(tp=1, fp=0, tn=2, fn=1)
    assert (c.accuracy, c.precision, c.recall, c.false_pass_rate) == (0.75, 1.0, 0.5, 0.0)
    assert c.kappa == pytest.approx(0.5)
    assert cohen_kappa([True, True, False, False], [True, False, False, False]) == pytest.approx(0.5)
    # Three categories: p_o = 4/5; counts a {a2 b2 c1}, b {a1 b3 c1}:
    # p_e = (2*1 + 2*3 + 1*1) / 25 = 9/25; kappa = (.8 - .36) / .64 = .6875.
    assert cohen_kappa(list("aabbc"), list("abbbc")) == pytest.approx(0.6875)
    # Undefined: both raters always say the same one category (p_e = 1); and no items.
    assert cohen_kappa([1, 1], [1, 1]) is None
    assert Confusion(tp=2).kappa is None and Confusion().accuracy is None
    # No judge pass: precision undefined; no human fail: false-pass rate undefined.
    assert Confusion(fn=2).precision is None and Confusion(tp=1).false_pass_rate is None
    with pytest.raises(UsageError):
        cohen_kappa([1], [1, 2])


def test_krippendorff_alpha_by_hand() -> None:
    # Interval, units [1, 2] and [3, 3]: n = 4 pairable values.
    # D_o = (ordered pairs within units: (1-2)² * 2 = 2, over m_u - 1 = 1; plus 0) / n = 2 / 4 = .5.
    # D_e: all ordered pairs of [1, 2, 3, 3]: unordered sums 1 + 4 + 4 + 1 + 1 + 0 = 11, ordered 22,
    # over n(n-1) = 12: 11/6. alpha = 1 - .5 / (11/6) = 8/11.
    assert krippendorff_alpha([[1, 2], [3, 3]]) == pytest.approx(8 / 11)
    # [1, 1] and [0, 1]: D_o = 2/4 = .5; D_e: the 0 against three 1s, ordered 6, / 12 = .5: alpha 0.
    assert krippendorff_alpha([[1, 1], [0, 1]]) == pytest.approx(0.0)
    # Missing values and a unit with one value (not pairable) change nothing.
    assert krippendorff_alpha([[1, 1, None], [0, 1], [5]]) == pytest.approx(0.0)
    # Perfect agreement with variation: D_o = 0, alpha 1; no variation at all: undefined.
    assert krippendorff_alpha([[1, 1], [0, 0]]) == 1.0
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha([[1], [2]]) is None
    # Nominal, [a, a] and [a, b]: D_o = 2/4; D_e = (16 - (9 + 1)) / 12 = .5: alpha 0.
    assert krippendorff_alpha([["a", "a"], ["a", "b"]], "nominal") == pytest.approx(0.0)
    # Systematic disagreement is negative: [1, 0] and [0, 1]: D_o = (2 + 2) / 4 = 1;
    # D_e: two 0s and two 1s, ordered different pairs 8, / 12 = 2/3; alpha = 1 - 1.5 = -.5.
    assert krippendorff_alpha([[1, 0], [0, 1]]) == pytest.approx(-0.5)
    with pytest.raises(UsageError):
        krippendorff_alpha([[1, 2]], "ordinal")  # type: ignore[arg-type]


def test_threshold_table_and_suggestion_by_hand() -> None:
    scored = [(True, 1.0), (True, 0.5), (False, 0.75), (False, 0.25), (False, 0.0)]
    rows = {r.threshold: r for r in threshold_table(scored, [0.0, 0.5, 0.8])}
    # 0: all five pass: tp 2, fp 3: precision .4, recall 1, false-pass 1.
    assert (rows[0.0].passed, rows[0.0].precision, rows[0.0].recall, rows[0.0].false_pass_rate) == (5, 0.4, 1.0, 1.0)
    # .5: 1.0, .75, .5 pass: tp 2, fp 1: precision 2/3, recall 1, false-pass 1/3.
    assert rows[0.5].passed == 3 and rows[0.5].precision == pytest.approx(2 / 3)
    assert rows[0.5].false_pass_rate == pytest.approx(1 / 3)
    # .8: only 1.0 passes: precision 1, recall .5, false-pass 0.
    assert (rows[0.8].precision, rows[0.8].recall, rows[0.8].false_pass_rate) == (1.0, 0.5, 0.0)
    table = list(rows.values())
    assert suggest_threshold(table, 0.02).threshold == 0.8  # type: ignore[union-attr]
    assert suggest_threshold(table, 0.4).threshold == 0.5  # type: ignore[union-attr]
    assert suggest_threshold(threshold_table([(True, 0.3)], [0.5]), 0.02) is None  # no human fail
    assert threshold_grid(0.25) == GRID
    assert len(threshold_grid()) == 21 and threshold_grid()[-1] == 1.0


def test_bootstrap_is_seeded_and_brackets_the_value() -> None:
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]

    def mean(rows: Sequence[float]) -> float:
        return sum(rows) / len(rows)

    a = bootstrap(values, mean, resamples=300, seed=7)
    assert a == bootstrap(values, mean, resamples=300, seed=7)
    assert a.value == 0.625 and a.n == 8
    assert a.low is not None and a.high is not None and a.low < 0.625 < a.high
    assert bootstrap([1.0] * 5, mean, resamples=50).low == 1.0  # no spread, no interval
    assert bootstrap([], mean).value is None
    # Paired: the same items judged alike differ by exactly 0; always right vs always wrong by 1.
    same = paired_bootstrap(values, values, mean, resamples=100)
    assert (same.value, same.low, same.high, same.excludes_zero) == (0.0, 0.0, 0.0, False)
    apart = paired_bootstrap([1.0] * 6, [0.0] * 6, mean, resamples=100)
    assert (apart.value, apart.low, apart.high, apart.excludes_zero) == (1.0, 1.0, 1.0, True)
    with pytest.raises(UsageError):
        paired_bootstrap([1.0], [], mean)


# ---------------------------------------------------------------------- labels


def test_the_four_kinds_and_shape_inference() -> None:
    rows: list[dict[str, Any]] = [
        {"prompt": "q", "response": "r", "label": "pass"},
        {"prompt": "q", "response": "r", "score": 0.25},
        {"prompt": [{"role": "user", "content": "q"}], "chosen": "c", "rejected": "r"},
        {"prompt": "q", "responses": ["x", "y", "z"], "ranking": [["1", "0"], "2"]},
        {"kind": "score", "prompt": "q", "response": "r", "score": 4, "scale": [1, 5], "label": False},
    ]
    a, b, c, d, e = cases_from_dicts(rows)
    assert (a.kind, a.label, a.id) == ("label", True, "1")
    assert (b.kind, b.scale, b.human_unit(), b.human_pass(0.5)) == ("score", (0.0, 1.0), 0.25, False)
    assert (c.kind, c.chosen, c.rejected) == ("pair", "c", "r")
    # A tie group shares its place: "1" and "0" both 3, "2" gets 3 - 2 = 1.
    assert (d.kind, d.reference) == ("ranking", {"1": 3.0, "0": 3.0, "2": 1.0})
    assert e.human_pass(0.5) is False  # the label wins over the score's 0.75
    # Scores without a scale: any above 1 makes the file 1-5.
    assert cases_from_dicts([{"prompt": "q", "response": "r", "score": s} for s in (1, 3)])[0].scale == (1.0, 5.0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": "q", "response": "r", "lable": True}, "unknown field"),
        ({"prompt": "q", "response": "r", "label": "maybe"}, "label must be"),
        ({"prompt": "q", "response": "r"}, "cannot tell the kind"),
        ({"response": "r", "label": True}, "needs a prompt"),
        ({"prompt": "q", "chosen": "c"}, "needs rejected"),
        ({"prompt": "q", "responses": {"a": "x", "b": "y"}, "ranking": ["a"]}, "every response once"),
        ({"prompt": "q", "response": "r", "score": 7, "scale": [1, 5]}, "outside its scale"),
        ({"kind": "vote", "prompt": "q"}, "kind must be"),
    ],
)
def test_bad_cases_say_what_is_wrong(row: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        case_from_dict(row, default_id="1")


def test_read_labels_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"prompt": "q", "response": "r", "label": true}\n\n{"prompt": "q", "chosen": "c"}\n')
    with pytest.raises(UsageError, match=r"labels\.jsonl line 3: a pair case needs rejected"):
        read_labels(path)
    path.write_text(
        '{"prompt": "q", "response": "r", "label": true}\n\n{"prompt": "q", "chosen": "c", "rejected": "r"}\n'
    )
    assert [c.id for c in read_labels(path)] == ["1", "3"]  # ids from line numbers
    with pytest.raises(UsageError, match="does not exist"):
        read_labels(tmp_path / "missing.jsonl")


def test_the_shipped_example_reads() -> None:
    cases = read_labels(ROOT / "examples" / "calibration_labels.jsonl")
    assert {c.kind for c in cases} == {"label", "score", "pair", "ranking"}
    assert all(c.principle for c in cases)


def test_rm_bench_items_become_pairs() -> None:
    cases = labels_from_rm_bench(ROOT / "tests" / "evals" / "data" / "rm-bench", limit=1, cells=[(0, 0), (0, 2)])
    assert len(cases) == 8  # 4 domains x 1 item x 2 cells
    assert {c.kind for c in cases} == {"pair"} and cases[0].metadata["cell"] == "00"
    assert "Correctness and safety come first" in str(cases[0].principle)


# ------------------------------------------------------------------ LangSmith


class FakeLangSmith:
    """The methods of ``langsmith.Client`` the loader calls, over local data; records the calls."""

    def __init__(self, examples: list[Any] = (), runs: list[Any] = (), feedback: list[Any] = ()) -> None:  # type: ignore[assignment]
        self.examples, self.runs, self.feedback = list(examples), list(runs), list(feedback)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_examples(self, dataset_id: Any = None, dataset_name: str | None = None, **kwargs: Any) -> Any:
        self.calls.append(("list_examples", {"dataset_id": dataset_id, "dataset_name": dataset_name, **kwargs}))
        return iter(self.examples)

    def list_runs(self, **kwargs: Any) -> Any:
        self.calls.append(("list_runs", kwargs))
        return iter(self.runs)

    def list_feedback(self, **kwargs: Any) -> Any:
        self.calls.append(("list_feedback", kwargs))
        wanted = {str(r) for r in kwargs["run_ids"]}
        return iter(f for f in self.feedback if str(f.run_id) in wanted and f.key in kwargs["feedback_key"])


def test_langsmith_examples_hold_the_labels() -> None:
    from langsmith import schemas

    dataset = uuid4()
    examples = [
        schemas.Example(
            id=uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={"response": "4", "label": "pass"}
        ),
        schemas.Example(
            id=uuid4(), dataset_id=dataset, inputs={"prompt": "2+3?"}, outputs={"chosen": "5", "rejected": "6"}
        ),
    ]
    client = FakeLangSmith(examples=examples)
    cases = labels_from_langsmith(client, dataset_name="support-labels")
    assert [(c.kind, c.prompt) for c in cases] == [("label", "2+2?"), ("pair", "2+3?")]
    assert cases[0].id == str(examples[0].id) and cases[0].label is True
    assert client.calls == [("list_examples", {"dataset_id": None, "dataset_name": "support-labels", "limit": None})]


def test_langsmith_feedback_labels_the_runs() -> None:
    now = datetime.now(UTC)
    runs = [
        SimpleNamespace(id=uuid4(), inputs={"question": "2+2?"}, outputs={"output": "4"}),
        SimpleNamespace(id=uuid4(), inputs={"question": "2+3?"}, outputs={"output": "7"}),
        SimpleNamespace(id=uuid4(), inputs={"question": "unlabelled"}, outputs={"output": "?"}),
    ]

    def fb(run: Any, score: Any, value: Any = None, minutes: int = 0) -> Any:
        return SimpleNamespace(
            run_id=run.id,
            key="correctness",
            score=score,
            value=value,
            comment=None,
            created_at=now + timedelta(minutes=minutes),
            modified_at=None,
        )

    feedback = [fb(runs[0], 0, minutes=0), fb(runs[0], 1, minutes=5), fb(runs[1], None, "fail")]
    client = FakeLangSmith(runs=runs, feedback=feedback)
    cases = labels_from_langsmith(client, project_name="exp-1", feedback_key="correctness")
    # The latest feedback counts (1 after 0): a 0-1 score of 1; the value "fail" a label.
    assert [(c.kind, c.response, c.score, c.label) for c in cases] == [
        ("score", "4", 1.0, None),
        ("label", "7", None, False),
    ]
    assert cases[0].scale == (0.0, 1.0)
    assert client.calls[0] == ("list_runs", {"project_name": "exp-1", "is_root": True, "limit": None})
    assert client.calls[1][1]["feedback_key"] == ["correctness"]
    with pytest.raises(UsageError, match="both project_name and feedback_key"):
        labels_from_langsmith(client, project_name="exp-1")


# ---------------------------------------------------------------- calibration


def test_pass_decisions_figures_and_threshold_table() -> None:
    report = calibrate(tag_judge(), SIX, thresholds=GRID, resamples=200)
    p = report.principles[0]
    d = p.decisions
    assert d is not None and p.name == "labels" and report.ok
    # At .5 the judge passes A, B, C, D (units 1, .75, .75, .5): tp 2 (A, B), fp 2 (C, D),
    # tn 1 (F), fn 1 (E). accuracy 3/6, precision 2/4, recall 2/3, false-pass 2/3.
    # kappa: p_o = .5; humans pass 1/2, judge 2/3: p_e = .5 * 2/3 + .5 * 1/3 = .5: kappa 0.
    assert d.accuracy.value == 0.5 and d.precision.value == 0.5
    assert d.recall.value == pytest.approx(2 / 3) and d.false_pass_rate.value == pytest.approx(2 / 3)
    assert d.kappa.value == pytest.approx(0.0)
    assert p.agreement.value == 0.5  # one 1/0 per output: the accuracy
    rows = {r.threshold: (r.passed, r.precision, r.recall, r.false_pass_rate) for r in d.table}
    # 0: all pass (tp 3, fp 3); .25: E joins the fails' C, D (tp 3, fp 2); .75: A, B, C (tp 2, fp 1); 1: A alone.
    assert rows[0.0] == (6, 0.5, 1.0, 1.0)
    assert rows[0.25] == pytest.approx((5, 0.6, 1.0, 2 / 3))
    assert rows[0.75] == pytest.approx((3, 2 / 3, 2 / 3, 1 / 3))
    assert rows[1.0] == pytest.approx((1, 1.0, 1 / 3, 0.0))
    assert d.suggested is not None and d.suggested.threshold == 1.0  # the only one with no false pass
    assert d.suggested_false_pass is not None and d.suggested_false_pass.value == 0.0
    loose = calibrate(tag_judge(), SIX, thresholds=GRID, max_false_pass=0.34, resamples=20)
    assert loose.principles[0].decisions.suggested.threshold == 0.75  # type: ignore[union-attr]
    markdown = report.to_markdown()
    assert "Suggested threshold for at most 2% false passes: **1.00**" in markdown
    assert "| Cohen's kappa | 0.000 [" in markdown


def test_score_cases_give_kendall_tau() -> None:
    rows = [
        {"prompt": "q", "principle": "P", "response": "[4]", "score": 5},
        {"prompt": "q", "principle": "P", "response": "[5]", "score": 4},
        {"prompt": "q", "principle": "P", "response": "[1]", "score": 2},
    ]
    p = calibrate(tag_judge(), rows, resamples=50).principles[0]
    # Human 5, 4, 2 vs judge .75, 1, 0: (1,2) discordant, (1,3) and (2,3) concordant: (2 - 1) / 3.
    assert p.score_tau is not None and p.score_tau.value == pytest.approx(1 / 3)
    # Human passes (unit >= .5): 1, .75, .25 -> T, T, F; judge .75, 1, 0 -> T, T, F: all agree.
    assert p.decisions is not None and p.decisions.accuracy.value == 1.0


def test_pairs_give_accuracy_ties_and_position_bias(tmp_path: Path) -> None:
    rows = [
        {"id": "win", "prompt": "q", "principle": "P", "chosen": "[5]", "rejected": "[2]"},
        {"id": "tie", "prompt": "q", "principle": "P", "chosen": "[3]", "rejected": "[3]"},
        {"id": "loss", "prompt": "q", "principle": "P", "chosen": "[1]", "rejected": "[4]"},
    ]
    report = calibrate(tag_judge(), rows, resamples=50)
    p = report.principles[0]
    assert p.pairs is not None
    # Credits 1, .5 (equal scores, each order won by the text shown first: 1 win each), 0.
    assert p.pairs.accuracy.value == pytest.approx(0.5) and p.pairs.ties == 1
    # Only the tie's winner flips with the order: 1 of 3.
    assert p.pairs.position_bias is not None and p.pairs.position_bias.value == pytest.approx(1 / 3)
    # Pass verdicts won by the first slot: win 1 of 2, tie 2 of 2, loss 1 of 2: 4/6.
    assert p.pairs.first_slot_win_rate == pytest.approx(2 / 3)
    assert [len(o.result.passes) for o in p.outcomes] == [2, 2, 2]  # type: ignore[union-attr]
    single = calibrate(tag_judge(), rows, both_orders=False, resamples=10).principles[0]
    assert single.pairs is not None and single.pairs.position_bias is None
    assert report.save_plot(tmp_path / "pairs.png") is not None  # pairs alone: their own panel


def test_rankings_give_mean_tau() -> None:
    row = {
        "prompt": "q",
        "principle": "P",
        "responses": {"a": "[5]", "b": "[3]", "c": "[3]"},
        "ranking": ["a", "b", "c"],
    }
    p = calibrate(tag_judge(), [row], resamples=10).principles[0]
    # Reference 3, 2, 1 vs judge 1, .5, .5: (a,b), (a,c) concordant, (b,c) tied in the judge:
    # tau-b = 2 / sqrt(3 * 2).
    assert p.ranking_tau is not None and p.ranking_tau.value == pytest.approx(2 / math.sqrt(6))
    assert p.agreement.value == pytest.approx((1 + 2 / math.sqrt(6)) / 2)


def test_principle_selection_says_whether_the_difference_is_real() -> None:
    def reverse(principle: str, tag: int) -> int:
        return 6 - tag if principle == "Reverse." else tag

    rows = [label(f"{i}", 5 if i % 2 else 1, bool(i % 2)) for i in range(10)]
    for row in rows:
        del row["principle"]
    report = calibrate(
        tag_judge(reverse),
        rows,
        principles={"tags": "By tag.", "same": "Also by tag.", "reverse": "Reverse."},
        resamples=200,
    )
    assert report.best == "tags"
    assert report.principle("reverse").agreement.value == 0.0
    by_other = {c.other: c for c in report.comparisons}
    # tags agrees on all 10, reverse on none: the difference is 1 in every resample.
    assert by_other["reverse"].difference.value == 1.0 and by_other["reverse"].real
    # The same judgement under another wording: a difference of 0 is not real.
    assert by_other["same"].difference.value == 0.0 and not by_other["same"].real
    assert "| reverse | 0.000 [0.000, 0.000] | 10 | 1.000 [1.000, 1.000] | yes |" in report.to_markdown()
    # Library ids and Principle objects name themselves.
    from ra_agents import principles as library

    named = calibrate(tag_judge(), rows, principles=[library.get("helpful-and-harmless"), "Text."], resamples=10)
    assert [p.name for p in named.principles] == ["helpful-and-harmless", "p2"]


def test_a_failed_case_is_kept_and_left_out() -> None:
    rows = [*SIX, {"id": "broken", "prompt": "q", "principle": "P", "response": "no tag", "label": True}]
    report = calibrate(tag_judge(), rows, thresholds=GRID, resamples=20)
    p = report.principles[0]
    assert not report.ok and [o.case.id for o in p.failures] == ["broken"]
    assert p.decisions is not None and p.decisions.accuracy.n == 6 and p.decisions.accuracy.value == 0.5
    assert "### Errors" in report.to_markdown() and "broken / labels: BackendUnavailable" in report.to_markdown()
    data = json.loads(report.to_json())
    assert data["principles"][0]["failed"] == 1
    assert data["principles"][0]["outcomes"][-1]["error"]["type"] == "BackendUnavailable"


def test_a_case_needs_a_principle() -> None:
    with pytest.raises(UsageError, match="have no principle"):
        calibrate(tag_judge(), [{"id": "x", "prompt": "q", "response": "[3]", "label": True}])


def test_a_panel_gives_krippendorff_alpha() -> None:
    # Members: the tag judge and one that scores 3 always. Case 1 "[5]": units 1 and .5;
    # case 2 "[1]": 0 and .5. D_o = (2 * .25 + 2 * .25) / 4 = .25; D_e: values 1, .5, 0, .5,
    # ordered pairs sum 2 * 4 * .5 = 4, / 12 = 1/3; alpha = 1 - .25 * 3 = .25.
    panel = Panel([tag_judge(), tag_judge(lambda _p, _t: 3)])
    rows = [label("1", 5, True), label("2", 1, False)]
    p = calibrate(panel, rows, resamples=50).principles[0]
    assert p.reliability is not None and p.reliability.value == pytest.approx(0.25)
    assert [o.judge_unit for o in p.outcomes] == [0.75, 0.25]  # the panel's unit: the members' mean
    assert (
        "Krippendorff's alpha among judges (interval, unit scores) | 0.250"
        in calibrate(panel, rows, resamples=5).to_markdown()
    )


def test_report_outputs(tmp_path: Path) -> None:
    report = calibrate(tag_judge(), SIX, resamples=20)
    data = json.loads(report.to_json())
    assert data["cases"] == 6 and data["kinds"] == {"label": 6} and data["best"] == "labels"
    assert data["principles"][0]["decisions"]["kappa"]["value"] == pytest.approx(0.0)
    assert data["principles"][0]["outcomes"][0]["verdict"]["scores"] == {"output": 5.0}
    assert report.save_plot(tmp_path / "plot.png") == tmp_path / "plot.png"
    assert (tmp_path / "plot.png").stat().st_size > 1000


# ----------------------------------------------------------------------- CLI


def test_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import ra_agents.cli.flags as flags

    monkeypatch.setattr(flags, "judge_from_flags", lambda *_a, **_k: tag_judge())
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "principle"}) + "\n" for r in SIX))
    out = tmp_path / "report.json"
    code = main(
        [
            "calibrate",
            "-i",
            str(labels),
            "--principle",
            "a=By tag.",
            "--principle",
            "b=Also by tag.",
            "-o",
            str(out),
            "--png",
            str(tmp_path / "p.png"),
            "--resamples",
            "20",
            "--repeats",
            "2",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert [p["name"] for p in data["principles"]] == ["a", "b"]
    assert data["principles"][0]["reliability"]["value"] == 1.0  # two seeds of a deterministic judge
    assert "### Principle selection" in capsys.readouterr().out
    assert (tmp_path / "p.png").exists()
    assert main(["calibrate", "-i", str(labels), "--rm-bench", "x"]) == 2
    assert "give one source of labels" in capsys.readouterr().err


def test_help_documents_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    text = capsys.readouterr().out
    for words in ('"label"', '"score"', '"pair"', '"ranking"', "chosen", "--langsmith-dataset"):
        assert words in text


def test_labelled_case_is_a_value() -> None:
    case = LabelledCase(id="x", kind="label", prompt="q", response="r", label=True)
    assert case.human_pass(0.5) is True and case.human_unit() is None


# ------------------------------------------------------------- the real path


@pytest.mark.vllm
def test_calibrate_on_the_served_model(vllm_server: Any, tmp_path: Path) -> None:
    """``ra-agents calibrate`` end to end against the real served model: three tiny cases."""
    rows = [
        {"id": "ok", "prompt": "What is 2+2?", "response": "4", "label": True},
        {"id": "wrong", "prompt": "What is 2+2?", "response": "5", "label": False},
        {"id": "pair", "prompt": "What is 3+3?", "chosen": "6", "rejected": "7"},
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report.json"
    code = main(
        [
            "calibrate", "-i", str(labels), "--principle", "correct=The correct answer is best.",
            "--model", vllm_server.litellm_model, "--api-base", vllm_server.api_base,
            "--max-tokens", "96", "--resamples", "50", "-o", str(out), "--markdown", str(tmp_path / "r.md"),
        ]
    )  # fmt: skip
    data = json.loads(out.read_text())
    [principle] = data["principles"]
    failed = [o for o in principle["outcomes"] if not o["ok"]]
    assert code == (1 if failed else 0)
    assert len(failed) <= 1, failed  # the tiny model may miss one verdict; never most of them
    judged = [o for o in principle["outcomes"] if o["ok"]]
    assert all(o["verdict"]["model"] for o in judged)
    pair = next((o for o in judged if o["kind"] == "pair"), None)
    if pair is not None:
        assert len(pair["verdict"]["passes"]) == 2  # both orders
    assert principle["agreement"]["value"] is not None
    assert "## Judge calibration" in (tmp_path / "r.md").read_text()
