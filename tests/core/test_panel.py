"""Judge panels: rank and score aggregation worked by hand, the Judging protocol, a real adapter."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from ra_agents import (
    BackendUnavailable,
    GenerationSettings,
    Judge,
    JudgeResult,
    Judging,
    Message,
    Policy,
    RAError,
    Rule,
    UsageError,
    accepts,
    protocol,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.panel import Panel, PanelResult, borda_ranking, kemeny_ranking
from ra_agents.policy import acheck_policy
from ra_agents.testing import ScriptedBackend, shown_responses
from tests.contract.drivers import decision_judge

CANDIDATES = {"A": "text A", "B": "text B"}


def prefers(word: str | None, high: int = 5, low: int = 1) -> Judge:
    """A judge scoring texts that contain ``word`` ``high``, the others ``low`` (``None``: all ``high``)."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        scores = {m: (high if word is None or word in t else low) for m, t in shown.items()}
        return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])})

    return Judge(ScriptedBackend(default=answer), max_retries=0)


def down() -> Judge:
    return Judge(ScriptedBackend(default=BackendUnavailable("member down")), max_retries=0)


# ------------------------------------------------------------------ rankings


def test_kemeny_finds_the_condorcet_winner_that_borda_misses() -> None:
    # 3 x [a, b, c] and 2 x [b, c, a]. Borda: a 3*2 = 6, b 3*1 + 2*2 = 7, c 2*1 = 2: b, a, c.
    # Pairwise: a>b 3-2, a>c 3-2, b>c 5-0. Disagreements of a,b,c: b>a 2 + c>a 2 + c>b 0 = 4;
    # b,a,c: a>b 3 + c>b 0 + c>a 2 = 5; b,c,a: 0 + 3 + 3 = 6 ... a, b, c is the Kemeny ranking.
    rankings = [["a", "b", "c"]] * 3 + [["b", "c", "a"]] * 2
    assert borda_ranking(rankings, ["a", "b", "c"]) == ("b", "a", "c")
    assert kemeny_ranking(rankings, ["b", "a", "c"]) == ("a", "b", "c")
    # Beyond the exact size: from Borda's b, a, c, the majority swaps b and a, then nothing.
    assert kemeny_ranking(rankings, ["b", "a", "c"], max_exact=2) == ("a", "b", "c")
    # Among equally good orders, the tie-break order decides: [a,b] and [b,a] once each.
    assert kemeny_ranking([["a", "b"], ["b", "a"]], ["b", "a"]) == ("b", "a")
    assert kemeny_ranking([["x"]], ["x"]) == ("x",)


def test_a_panel_combines_its_members_by_hand() -> None:
    panel = Panel({"one": prefers("A"), "two": prefers("B"), "three": prefers("A")})
    result = panel.judge("P", "q", CANDIDATES)
    assert isinstance(result, PanelResult) and isinstance(result, JudgeResult)
    # Scores: A (5 + 1 + 5) / 3 = 11/3, B 7/3; unit A (1 + 0 + 1) / 3.
    assert result.scores == pytest.approx({"A": 11 / 3, "B": 7 / 3})
    assert result.unit_score("A") == pytest.approx(2 / 3) and result.ranking == ("A", "B")
    # Two of three members picked A; member pairs' shared orders: (one, two) 0, (one, three) 1, (two, three) 0.
    assert result.agreement == pytest.approx(2 / 3) and result.pairwise_agreement == pytest.approx(1 / 3)
    # Alpha (interval), units A [1, 0, 1] and B [0, 1, 0]: within each unit, ordered pairs sum
    # 2 * 3 * (2/3) = 4, over m - 1 = 2: 2; D_o = (2 + 2) / 6 = 2/3. All six values: three 0s, three 1s,
    # sum 2 * 6 * 1.5 = 18 over 30: D_e = .6; alpha = 1 - (2/3) / .6 = -1/9.
    assert result.alpha == pytest.approx(-1 / 9)
    assert set(result.members) == {"one", "two", "three"} and result.members["two"].best == "B"
    assert len(result.passes) == 3 and result.model == "panel(scripted, scripted, scripted)"
    assert result.reasoning == "" and result.usage.total_tokens == 45
    assert Panel([prefers("A"), prefers("B"), prefers("A")], scores="median").judge("P", "q", CANDIDATES).scores == {
        "A": 5.0,
        "B": 1.0,
    }


def test_unanimous_members_agree_perfectly() -> None:
    result = Panel([prefers("A"), prefers("A")]).judge("P", "q", CANDIDATES)
    assert (result.alpha, result.agreement, result.pairwise_agreement) == (1.0, 1.0, 1.0)
    one = Panel([prefers("A")]).judge("P", "q", CANDIDATES)
    assert (one.alpha, one.agreement, one.pairwise_agreement) == (None, None, None)


def test_the_panel_is_a_judging_and_serialises() -> None:
    panel = Panel([prefers("A"), prefers("B")], ranking="borda")
    assert isinstance(panel, Judging)
    result = panel.judge("P", "q", CANDIDATES)
    assert result.method == "borda"
    data = result.to_dict()
    assert set(data["panel"]["members"]) == {"member-1", "member-2"}
    assert data["panel"]["alpha"] == result.alpha and data["panel"]["errors"] == {}
    # The wire form is the verdict's: it reads back as a JudgeResult.
    back = verdict_from_dict(verdict_to_dict(result))
    assert back.scores == result.scores and "panel" not in verdict_to_dict(result)


async def test_sync_and_async_give_the_same_verdict() -> None:
    panel = Panel([prefers("A"), prefers("B"), prefers("A")])
    a = await panel.ajudge("P", "q", CANDIDATES)
    b = await __import__("asyncio").to_thread(panel.judge, "P", "q", CANDIDATES)
    assert (a.scores, a.ranking, a.alpha) == (b.scores, b.ranking, b.alpha)


def test_batch_keeps_one_bad_request_in_place() -> None:
    panel = Panel([prefers("A"), prefers("A")])
    items = panel.judge_batch(
        [
            {"principle": "P", "prompt": "q", "responses": CANDIDATES},
            {"principle": "P", "prompt": "q", "responses": []},
            {"principle": "P", "prompt": "q", "responses": {"B": "text B", "A": "text A"}},
        ]
    )
    assert isinstance(items[0], PanelResult) and items[0].best == "A"
    assert isinstance(items[1], RAError)
    assert isinstance(items[2], PanelResult) and items[2].best == "A"


def test_many_principles_through_the_panel() -> None:
    result = Panel([prefers("A"), prefers("A")]).judge_many({"x": "P", "y": ("Q", 3.0)}, "q", CANDIDATES)
    assert result.best == "A" and isinstance(result.verdicts["x"], PanelResult)


def test_a_failing_member_fails_the_panel_unless_skipped() -> None:
    with pytest.raises(BackendUnavailable, match="member down") as info:
        Panel({"ok": prefers("A"), "bad": down()}).judge("P", "q", CANDIDATES)
    assert "panel member 'bad'" in "".join(info.value.__notes__)
    result = Panel({"ok": prefers("A"), "bad": down()}, on_member_error="skip").judge("P", "q", CANDIDATES)
    assert list(result.members) == ["ok"] and isinstance(result.member_errors["bad"], BackendUnavailable)
    assert result.to_dict()["panel"]["errors"]["bad"]["type"] == "BackendUnavailable"
    with pytest.raises(BackendUnavailable):
        Panel([down(), down()], on_member_error="skip").judge("P", "q", CANDIDATES)
    [item] = Panel([prefers("A"), down()]).judge_batch([{"principle": "P", "prompt": "q", "responses": CANDIDATES}])
    assert isinstance(item, BackendUnavailable)


def test_repeat_asks_one_judge_with_each_seed() -> None:
    judge = prefers(None)  # every text 5: the pass orders show the seeds
    panel = Panel.repeat(judge, [0, 1, 2])
    names = ["a", "b", "c", "d"]
    result = panel.judge("P", "q", dict.fromkeys(names, "x"))
    assert list(result.members) == ["seed-0", "seed-1", "seed-2"]
    for seed, member in zip([0, 1, 2], result.members.values(), strict=True):
        assert list(member.passes[0].order) == protocol.request_orders(names, 1, seed)[0]
    [item] = panel.judge_batch([{"principle": "P", "prompt": "q", "responses": dict.fromkeys(names, "x"), "seed": 9}])
    assert isinstance(item, PanelResult)
    assert [list(m.passes[0].order) for m in item.members.values()] == [
        protocol.request_orders(names, 1, s)[0] for s in (0, 1, 2)
    ]
    with pytest.raises(UsageError, match="distinct seeds"):
        Panel.repeat(judge, [1, 1])


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="ranking"):
        Panel([prefers("A")], ranking="copeland")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="scores"):
        Panel([prefers("A")], scores="max")  # type: ignore[arg-type]


def test_the_acceptance_rule_reads_the_panel_as_any_judge() -> None:
    # Both members: the output scores 4 with expected 3.9 (unit .725); the panel's unit is .725 too.
    result = Panel([decision_judge(), decision_judge()]).judge("P", "q", {"output": "Four."})
    assert result.unit_score("output") == pytest.approx(0.725)
    assert result.expected_scores == pytest.approx({"output": 3.9})
    assert accepts(result, "output", 0.72) and not accepts(result, "output", 0.73)


async def test_a_panel_drives_a_real_adapter() -> None:
    # acheck_policy with a panel: members unit 1.0 (5) and .5 (3): the panel's unit is .75.
    panel = Panel([prefers("Four"), prefers("Four", high=3)])
    passing = await acheck_policy(panel, Policy((Rule("main", "Correct first.", 0.75),)), "2+2?", "Four.")
    failing = await acheck_policy(panel, Policy((Rule("main", "Correct first.", 0.8),)), "2+2?", "Four.")
    assert passing.passed and not failing.passed
    assert failing.scores["main"] == pytest.approx(0.75)
