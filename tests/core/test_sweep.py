"""Principle sweeps: tau-b by hand, exact winners from scripted verdicts, errors in place, outputs, CLI.

The scripted backend proves what the sweep does with verdicts; the one test marked
``vllm`` runs the whole command against the real served model.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ra_agents import (
    GenerationSettings,
    Judge,
    JudgeResult,
    Message,
    MissingDependencyError,
    Principle,
    PrincipleLike,
    UsageError,
    VerdictError,
    principles,
)
from ra_agents.cli import main
from ra_agents.cli import sweep as sweep_cli
from ra_agents.sweep import PairAgreement, SweepCase, SweepReport, asweep, kendall_tau_b, ranking_tau, sweep
from ra_agents.testing import ScriptedBackend

SHORT = "Prefer the shortest answer."
LONG = "Prefer the longest answer."
ALPHA = "Prefer the answer that comes first alphabetically."
FLAT = "Every answer is equally fine."

# Rule text -> sort key (best first). Scores are 5, 4, 3 ... down the order, so distinct.
RULES: dict[str, Callable[[str], Any]] = {SHORT: len, LONG: lambda t: -len(t), ALPHA: lambda t: t}

CASES: list[dict[str, Any]] = [
    # short: a b c   long: c b a   alpha ("a bit longer" < "ok" < "the ..."): b a c
    {"id": "c1", "prompt": "Say something.", "responses": {"a": "ok", "b": "a bit longer", "c": "the longest answer"}},
    # short: x y   long: y x   alpha: y x
    {"id": "c2", "prompt": "Reply, please.", "responses": {"x": "zzz", "y": "a much longer reply"}},
]
PRINCIPLES = {"short": SHORT, "long": LONG, "alpha": ALPHA}


def by_principle(broken: tuple[str, str] | None = None) -> Callable[[Sequence[Message], GenerationSettings], str]:
    """An answer that ranks the shown texts by the rule its principle names (order-blind).

    ``broken=(prompt, principle)`` answers that one pair with text that is no verdict.
    """

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        user = json.loads(messages[1]["content"])
        shown: dict[str, str] = user["responses"]
        if broken is not None and (user["prompt"], user["principle"]) == broken:
            return "I would rather not say."
        if user["principle"] == FLAT:
            scores = dict.fromkeys(shown, 3)
            return json.dumps({"scores": scores, "best-to-worst": list(shown)})
        key = RULES.get(user["principle"], len)
        order = sorted(shown, key=lambda m: key(shown[m]))
        return json.dumps({"scores": {m: 5 - i for i, m in enumerate(order)}, "best-to-worst": order})

    return answer


def scripted_judge(broken: tuple[str, str] | None = None) -> Judge:
    return Judge(ScriptedBackend(default=by_principle(broken)), seed=3, max_retries=0)


# -------------------------------------------------------------------- tau-b


def test_tau_of_identical_and_reversed_rankings() -> None:
    assert ranking_tau(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == 1.0
    assert ranking_tau(["a", "b", "c", "d"], ["d", "c", "b", "a"]) == -1.0
    assert kendall_tau_b([1, 2, 3], [10, 20, 30]) == 1.0
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1.0


def test_tau_hand_computed() -> None:
    # One adjacent swap among 4: 5 concordant, 1 discordant of 6 pairs -> 4/6.
    assert ranking_tau(["a", "b", "c", "d"], ["b", "a", "c", "d"]) == pytest.approx(2 / 3)
    # a b c vs b a c: 2 concordant, 1 discordant of 3 -> 1/3.
    assert ranking_tau(["a", "b", "c"], ["b", "a", "c"]) == pytest.approx(1 / 3)
    # Ties: x=[1,2,2,3], y=[1,2,3,3]: 4 concordant, 0 discordant, one pair tied in each:
    # 4 / sqrt((6-1)(6-1)) = 0.8 (tau-a would say 4/6).
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    # A pair tied in both sides counts in both tie terms: x=[1,1,2], y=[5,5,9] -> 2/sqrt(2*2) = 1.
    assert kendall_tau_b([1, 1, 2], [5, 5, 9]) == pytest.approx(1.0)


def test_tau_undefined_is_none_and_bad_input_raises() -> None:
    assert kendall_tau_b([3, 3, 3], [1, 2, 3]) is None  # one side all tied: 0 / 0
    assert kendall_tau_b([1], [1]) is None
    assert ranking_tau(["a"], ["a"]) is None
    with pytest.raises(UsageError, match="paired"):
        kendall_tau_b([1, 2], [1, 2, 3])
    with pytest.raises(UsageError, match="same names"):
        ranking_tau(["a", "b"], ["a", "c"])


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=12))
def test_tau_b_is_symmetric_bounded_and_flips_sign(pairs: list[tuple[int, int]]) -> None:
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    tau = kendall_tau_b(x, y)
    assert tau == kendall_tau_b(y, x)
    flipped = kendall_tau_b(x, [-v for v in y])
    if tau is None:
        assert flipped is None
    else:
        assert -1.0 - 1e-12 <= tau <= 1.0 + 1e-12
        assert flipped == pytest.approx(-tau)


def test_tau_b_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    x = [1, 2, 2, 3, 5, 4, 4, 1]
    y = [2, 2, 3, 1, 5, 5, 4, 1]
    expected = stats.kendalltau(x, y, variant="b").statistic
    assert kendall_tau_b(x, y) == pytest.approx(expected)


# --------------------------------------------------------- scripted sweeps


async def test_winners_wins_and_agreement_exactly() -> None:
    seen: list[tuple[str, str, bool]] = []
    report = await asweep(
        scripted_judge(),
        PRINCIPLES,
        CASES,
        on_result=lambda cid, name, item: seen.append((cid, name, isinstance(item, JudgeResult))),
    )

    assert report.ok and report.failures == []
    assert sorted(seen) == sorted((c["id"], p, True) for c in CASES for p in PRINCIPLES)
    assert report.winners() == {
        "c1": {"short": "a", "long": "c", "alpha": "b"},
        "c2": {"short": "x", "long": "y", "alpha": "y"},
    }
    assert report.wins() == {
        "short": {"a": 1, "b": 0, "c": 0, "x": 1, "y": 0},
        "long": {"a": 0, "b": 0, "c": 1, "x": 0, "y": 1},
        "alpha": {"a": 0, "b": 1, "c": 0, "x": 0, "y": 1},
    }
    c1 = report.result("c1", "alpha")
    assert isinstance(c1, JudgeResult)
    assert c1.ranking == ("b", "a", "c") and dict(c1.scores) == {"b": 5, "a": 4, "c": 3}

    tau = report.agreement()
    assert tau["short"]["short"] == PairAgreement(1.0, 2)
    assert tau["short"]["long"] == PairAgreement(-1.0, 2)
    # short vs alpha: c1 a b c / b a c -> 1/3; c2 x y / y x -> -1; mean -1/3.
    assert tau["short"]["alpha"].tau == pytest.approx(-1 / 3) and tau["short"]["alpha"].cases == 2
    # long vs alpha: c1 c b a / b a c -> -1/3; c2 y x / y x -> 1; mean 1/3.
    assert tau["alpha"]["long"].tau == pytest.approx(1 / 3)
    assert tau["long"]["alpha"] == tau["alpha"]["long"]
    assert list(tau) == ["short", "long", "alpha"] and list(tau["alpha"]) == ["short", "long", "alpha"]


async def test_scores_basis_leaves_out_cases_with_all_scores_tied() -> None:
    report = await asweep(scripted_judge(), {"short": SHORT, "flat": FLAT}, CASES)
    scores = report.agreement("scores")
    assert scores["short"]["flat"] == PairAgreement(None, 0)
    assert scores["flat"]["flat"] == PairAgreement(None, 0)
    assert scores["short"]["short"] == PairAgreement(1.0, 2)
    # Rankings are strict even when scores tie, so the ranking basis counts both cases.
    assert report.agreement("ranking")["short"]["flat"].cases == 2
    with pytest.raises(UsageError, match="basis"):
        report.agreement("votes")  # type: ignore[arg-type]


async def test_one_failure_keeps_every_other_result_and_is_marked() -> None:
    report = await asweep(scripted_judge(broken=("Reply, please.", LONG)), PRINCIPLES, CASES)

    assert not report.ok
    ((cid, name, err),) = report.failures
    assert (cid, name) == ("c2", "long") and isinstance(err, VerdictError)
    assert report.result("c2", "long") is err
    for case in CASES:
        for principle in PRINCIPLES:
            if (case["id"], principle) != ("c2", "long"):
                assert isinstance(report.result(case["id"], principle), JudgeResult)
    assert report.winners()["c2"] == {"short": "x", "long": None, "alpha": "y"}
    assert report.wins()["long"] == {"a": 0, "b": 0, "c": 1, "x": 0, "y": 0}
    tau = report.agreement()
    assert tau["short"]["long"] == PairAgreement(-1.0, 1)  # only c1 has both
    assert tau["long"]["long"] == PairAgreement(1.0, 1)
    assert tau["short"]["alpha"].cases == 2

    data = report.to_dict()
    assert data["summary"] == {"cases": 2, "principles": 3, "judged": 5, "failed": 1}
    cell = data["cases"][1]["results"]["long"]
    assert cell["ok"] is False and cell["error"] == "VerdictError" and cell["message"] == str(err)

    md = report.to_markdown()
    assert "| c2 | x (5) | **error** (VerdictError) | y (5) |" in md
    assert "| *failed* | 0 | 1 | 0 |" in md
    assert "### Errors" in md and "- c2 / long: VerdictError: " in md


async def test_markdown_holds_the_three_tables() -> None:
    md = (await asweep(scripted_judge(), PRINCIPLES, CASES)).to_markdown()
    assert md.startswith("## Principle sweep\n")
    assert "2 cases x 3 principles: 6 judged, 0 failed." in md
    for line in [
        "| case | short | long | alpha |",
        "| c1 | a (5) | c (5) | b (5) |",
        "| c2 | x (5) | y (5) | y (5) |",
        "| candidate | short | long | alpha |",
        "| a | 1 | 0 | 0 |",
        "| y | 0 | 1 | 1 |",
        "|  | short | long | alpha |",
        "| short | +1.00 (n=2) | -1.00 (n=2) | -0.33 (n=2) |",
        "| alpha | -0.33 (n=2) | +0.33 (n=2) | +1.00 (n=2) |",
        f"- **short**: {SHORT}",
    ]:
        assert line + "\n" in md, line
    assert "*failed*" not in md and "### Errors" not in md


async def test_json_round_trips() -> None:
    report = await asweep(scripted_judge(), PRINCIPLES, CASES)
    data = report.to_dict()
    assert json.loads(report.to_json()) == data
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["principles"] == PRINCIPLES
    assert data["wins"] == report.wins()
    ranking = data["agreement"]["ranking"]
    assert ranking["method"] == "kendall_tau_b"
    assert ranking["matrix"]["short"]["long"] == {"tau": -1.0, "cases": 2}
    c1 = data["cases"][0]
    assert c1["id"] == "c1" and c1["candidates"] == ["a", "b", "c"]
    assert c1["results"]["short"]["ok"] is True
    assert c1["results"]["short"]["ranking"] == ["a", "b", "c"]
    assert c1["results"]["short"]["best"] == "a"
    assert "principle" not in c1["results"]["short"]  # stated once at the top
    assert [SweepCase.from_dict(c).to_dict() for c in CASES] == CASES


def test_heatmap_is_a_png(tmp_path: Path) -> None:
    report = sweep(scripted_judge(), PRINCIPLES, CASES)
    out = report.save_heatmap(tmp_path / "sub" / "tau.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 2000  # a drawn figure, not an empty image
    scores = report.save_heatmap(tmp_path / "scores.png", basis="scores")
    assert scores.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = sweep(scripted_judge(), {"short": SHORT}, CASES[:1])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(MissingDependencyError, match=r"ra-agents\[eval\]"):
        report.save_heatmap(tmp_path / "tau.png")
    assert not (tmp_path / "tau.png").exists()


async def test_sync_and_async_agree() -> None:
    # The sync entry point refuses a running loop, so it runs in a thread here.
    principles: dict[str, PrincipleLike] = {"short": Principle("Prefer the shortest answer."), "long": LONG}
    via_async = await asweep(scripted_judge(), principles, CASES)
    via_sync = await asyncio.to_thread(sweep, scripted_judge(), principles, CASES)
    assert via_sync.winners() == via_async.winners()
    assert via_sync.agreement() == via_async.agreement()
    assert via_sync.principles == {"short": SHORT, "long": LONG}
    with pytest.raises(UsageError, match=r"await ra_agents\.sweep\.asweep"):
        sweep(scripted_judge(), principles, CASES)


async def test_list_responses_and_default_ids() -> None:
    report = await asweep(scripted_judge(), {"short": SHORT}, [{"prompt": "Hi.", "responses": ["hello there", "hi"]}])
    assert [c.id for c in report.cases] == ["1"]
    assert report.winners() == {"1": {"short": "1"}}
    assert report.wins() == {"short": {"0": 0, "1": 1}}


@pytest.mark.parametrize(
    ("principles", "cases", "message"),
    [
        ({}, CASES, "at least one principle"),
        ({"short": "  "}, CASES, "principle 'short'"),
        ({"": SHORT}, CASES, "non-empty strings"),
        (PRINCIPLES, [], "at least one case"),
        (PRINCIPLES, [CASES[0], CASES[0]], "'c1' appears twice"),
        (PRINCIPLES, [{"prompt": "q", "responses": {}}], "case 1: .*responses is empty"),
        (PRINCIPLES, [{"prompt": "q", "response": {"a": "x"}}], "unknown case field"),
        (PRINCIPLES, [{"prompt": "q", "responses": "text"}], "responses must be"),
    ],
)
async def test_bad_arguments_raise_usage_errors(principles, cases, message) -> None:
    judge = Judge(ScriptedBackend())  # no answers queued: nothing may be judged
    with pytest.raises(UsageError, match=message):
        await asweep(judge, principles, cases)
    assert judge.backend.calls == []  # type: ignore[attr-defined]


def test_report_is_a_plain_value() -> None:
    case = SweepCase("k", "q", {"a": "x"})
    report = SweepReport(principles={"p": "t"}, cases=(case,), results={"k": {"p": UsageError("bad")}})
    assert report.winners() == {"k": {"p": None}} and report.wins() == {"p": {"a": 0}}
    assert report.agreement()["p"]["p"] == PairAgreement(None, 0)
    assert "n/a (n=0)" in report.to_markdown()


# ---------------------------------------------------------------------- CLI


@pytest.fixture
def fake_flags(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Route the CLI's judge to the scripted one; records what the flags asked for."""
    calls: list[dict[str, Any]] = []

    def judge_from_flags(model: str | None, api_base: str | None, **options: Any) -> Judge:
        calls.append({"model": model, "api_base": api_base, **options})
        broken = ("Reply, please.", LONG) if model == "broken" else None
        return scripted_judge(broken)

    monkeypatch.setattr(sweep_cli, "judge_from_flags", judge_from_flags)
    return calls


def _cases_file(tmp_path: Path, lines: Sequence[Any] = CASES) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_cli_writes_every_output(tmp_path, capsys, fake_flags) -> None:
    cases = _cases_file(tmp_path)
    argv = ["sweep", "--principle", f"short={SHORT}", "--principles", f"long={LONG}", "--principle", f"alpha={ALPHA}"]
    argv += ["-i", str(cases), "-o", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]
    argv += ["--png", str(tmp_path / "h.png"), "--model", "m", "--api-base", "http://h/v1", "--max-tokens", "96"]
    argv += ["--concurrency", "3", "--seed", "5", "--permutations", "2"]

    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.out == ""  # the markdown went to its file
    assert "swept 2 cases x 3 principles: 6 judged, 0 failed" in out.err
    assert fake_flags == [
        {"model": "m", "api_base": "http://h/v1", "permutations": 2, "seed": 5, "max_tokens": 96, "concurrency": 3}
    ]
    assert main([*argv, "--cache", str(tmp_path / "cache")]) == 0
    assert fake_flags[-1]["cache"] == str(tmp_path / "cache")
    data = json.loads((tmp_path / "r.json").read_text())
    assert list(data["principles"]) == ["short", "long", "alpha"]  # command-line order
    assert data["wins"]["alpha"] == {"a": 0, "b": 1, "c": 0, "x": 0, "y": 1}
    assert "| c1 | a (5) | c (5) | b (5) |" in (tmp_path / "r.md").read_text()
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_prints_markdown_and_exits_1_on_a_failure(tmp_path, capsys, fake_flags) -> None:
    cases = _cases_file(tmp_path)
    argv = ["sweep", "--principles", f"short={SHORT},long={LONG}", "-i", str(cases), "--model", "broken"]
    assert main([*argv, "-o", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("## Principle sweep\n")
    assert "| c2 | x (5) | **error** (VerdictError) |" in out.out
    assert "3 judged, 1 failed" in out.err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["cases"][1]["results"]["long"]["error"] == "VerdictError"
    assert data["cases"][0]["results"]["long"]["ok"] is True


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        ([CASES[0], "{not json"], [], "cases.jsonl line 2 is not valid JSON"),
        ([CASES[0], "", {"id": "z", "prompt": "q"}], [], "cases.jsonl line 3: a case needs responses"),
        ([CASES[0], CASES[0]], [], "line 2: case id 'c1' is already used on line 1"),
        ([[1, 2]], [], "line 1: a case must be a JSON object"),
        ([""], [], "holds no cases"),
        ([CASES[0]], ["--principle", "short=again"], "'short' is given twice"),
        ([CASES[0]], ["--principle", "empty="], "NAME=TEXT with both parts"),
    ],
)
def test_cli_usage_errors_exit_2(lines, extra, message, tmp_path, capsys, fake_flags) -> None:
    cases = _cases_file(tmp_path, lines)
    assert main(["sweep", "--principle", f"short={SHORT}", *extra, "-i", str(cases)]) == 2
    assert message in capsys.readouterr().err
    assert fake_flags == []  # no judge was made


def test_cli_needs_principles_and_an_existing_file(tmp_path, capsys, fake_flags) -> None:
    assert main(["sweep", "-i", str(_cases_file(tmp_path))]) == 2
    assert "one --principle each" in capsys.readouterr().err
    assert main(["sweep", "--principle", "a=b", "-i", str(tmp_path / "none.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_png_without_matplotlib_fails_before_judging(tmp_path, capsys, fake_flags, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    cases = _cases_file(tmp_path)
    assert main(["sweep", "--principle", f"s={SHORT}", "-i", str(cases), "--png", str(tmp_path / "h.png")]) == 2
    assert "pip install 'ra-agents[eval]'" in capsys.readouterr().err
    assert fake_flags == []


def test_cli_resolves_bare_items_as_library_ids(tmp_path, capsys, fake_flags) -> None:
    cases = _cases_file(tmp_path)
    argv = ["sweep", "--principles", "concise,accuracy-then-brevity", "--principle", f"long={LONG}"]
    assert main([*argv, "-i", str(cases), "-o", str(tmp_path / "r.json")]) == 0
    assert "| case | concise | accuracy-then-brevity | long |" in capsys.readouterr().out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["principles"] == {
        "concise": principles.get("concise").render(),
        "accuracy-then-brevity": principles.get("accuracy-then-brevity").render(),
        "long": LONG,
    }
    # The scripted judge ranks by length under any principle it does not know: as "short".
    assert data["wins"]["concise"] == {"a": 1, "b": 0, "c": 0, "x": 1, "y": 0}


def test_cli_unknown_library_id_exits_2_with_a_suggestion(tmp_path, capsys, fake_flags) -> None:
    assert main(["sweep", "--principles", "concise,concize", "-i", str(_cases_file(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "unknown principle id 'concize'" in err and "did you mean 'concise'" in err
    assert fake_flags == []


# ------------------------------------------------------------- real model


@pytest.mark.vllm
def test_cli_sweep_on_the_served_model(vllm_server, tmp_path, capsys) -> None:
    cases = _cases_file(
        tmp_path,
        [
            {"id": "capital", "prompt": "What is the capital of France?", "responses": {"a": "Paris.", "b": "Rome."}},
            {"id": "sum", "prompt": "What is 2 + 2?", "responses": {"a": "4", "b": "It is four, of course."}},
        ],
    )
    argv = ["sweep", "--principle", "correct=Correctness first.", "--principle", "brief=The shortest answer is best."]
    argv += ["-i", str(cases), "-o", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")]
    argv += ["--png", str(tmp_path / "h.png"), "--model", vllm_server.litellm_model]
    argv += ["--api-base", vllm_server.api_base, "--max-tokens", "96", "--seed", "0"]
    code = main(argv)
    err = capsys.readouterr().err
    data = json.loads((tmp_path / "r.json").read_text())
    assert code == (0 if data["summary"]["failed"] == 0 else 1), err
    assert data["summary"]["cases"] == 2 and data["summary"]["principles"] == 2
    assert [c["id"] for c in data["cases"]] == ["capital", "sum"]
    for case in data["cases"]:
        assert set(case["results"]) == {"correct", "brief"}
        for cell in case["results"].values():
            if cell["ok"]:
                assert cell["best"] in ("a", "b") and sorted(cell["ranking"]) == ["a", "b"]
                assert cell["usage"]["completion_tokens"] > 0
            else:
                assert cell["error"] in ("VerdictError", "BackendError", "BackendTimeout", "ContextLengthError")
                assert cell["message"]
    for row in data["agreement"]["ranking"]["matrix"].values():
        for pair in row.values():
            assert pair["tau"] is None or -1.0 <= pair["tau"] <= 1.0
    assert "### Winner by case" in (tmp_path / "r.md").read_text()
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{data['summary']['judged']} judged" in err
