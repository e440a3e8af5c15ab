"""Multi-principle judging and ordered policies, driven by a scripted backend for exact outcomes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from ra_agents import BackendUnavailable, GenerationSettings, Judge, Message, Policy, Principle, Rule, UsageError
from ra_agents.policy import acheck_policy, check_policy
from ra_agents.testing import ScriptedBackend, shown_responses

PROMPT = "How do I reset my router?"
SAFE = "Never suggest anything dangerous."
SHORT = "Prefer the shortest correct answer."
RESPONSES = {"a": "Unplug it for ten seconds.", "b": "Open it and short the capacitor, then unplug.", "c": "Reboot."}

# principle -> text -> score; the answer scores what the judge was shown, so masking is irrelevant.
TABLE: dict[str, dict[str, int]] = {
    SAFE: {RESPONSES["a"]: 5, RESPONSES["b"]: 1, RESPONSES["c"]: 4},
    SHORT: {RESPONSES["a"]: 3, RESPONSES["b"]: 2, RESPONSES["c"]: 5},
}


def principle_of(messages: Sequence[Message]) -> str:
    return str(json.loads(messages[1]["content"])["principle"])


def by_principle(table: Mapping[str, Mapping[str, int]]):
    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        scores_of = table[principle_of(messages)]
        shown = shown_responses(messages)
        scores = {m: scores_of[t] for m, t in shown.items()}
        ranking = sorted(shown, key=lambda m: (-scores[m], m))
        return json.dumps({"scores": scores, "best-to-worst": ranking})

    return answer


def make_judge(table: Mapping[str, Mapping[str, int]] = TABLE) -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=by_principle(table))
    return Judge(backend, seed=0), backend


async def test_separate_mode_combines_by_weight_exactly():
    judge, backend = make_judge()
    result = await judge.ajudge_many({"safe": (SAFE, 3), "short": (SHORT, 1)}, PROMPT, RESPONSES)
    assert len(backend.calls) == 2  # one listwise call per principle
    assert result.mode == "separate"
    assert result.weights == {"safe": 0.75, "short": 0.25}
    # a: .75*5 + .25*3 = 4.5; b: .75*1 + .25*2 = 1.25; c: .75*4 + .25*5 = 4.25
    assert result.scores == pytest.approx({"a": 4.5, "b": 1.25, "c": 4.25})
    assert result.ranking == ("a", "c", "b")
    assert result.best == "a"
    assert result.normalized["a"] == pytest.approx(0.875)
    assert result.verdicts["safe"].best == "a" and result.verdicts["short"].best == "c"
    assert result.verdicts["safe"].principle == SAFE
    assert result.unit_score("c") == pytest.approx(0.75 * 0.75 + 0.25 * 1.0)
    assert json.loads(json.dumps(result.to_dict()))["ranking"] == ["a", "c", "b"]


async def test_weights_argument_overrides_and_changes_the_winner():
    judge, _ = make_judge()
    result = await judge.ajudge_many({"safe": SAFE, "short": SHORT}, PROMPT, RESPONSES, weights={"short": 3})
    # a: (5 + 3*3)/4 = 3.5; c: (4 + 3*5)/4 = 4.75
    assert result.best == "c"
    assert result.scores["c"] == pytest.approx(4.75)


async def test_ties_go_to_the_heaviest_principles_ranking():
    table = {SAFE: {"x": 5, "y": 3}, SHORT: {"x": 3, "y": 5}}
    judge, _ = make_judge(table)
    result = await judge.ajudge_many({"short": SHORT, "safe": (SAFE, 1.0)}, PROMPT, {"x": "x", "y": "y"})
    assert result.scores == {"x": 4.0, "y": 4.0}
    assert result.ranking == ("y", "x")  # equal weights: the first listed (short) decides


def test_sync_twin_gives_the_same_result():
    judge, _ = make_judge()
    result = judge.judge_many({"safe": SAFE, "short": SHORT}, PROMPT, RESPONSES)
    assert result.ranking == ("c", "a", "b")  # a: 4, b: 1.5, c: 4.5


async def test_fold_mode_is_one_call_under_one_prioritised_principle():
    judge, backend = make_judge({})
    backend.default = None
    backend.enqueue(
        lambda messages, settings: json.dumps(
            {
                "scores": {m: {"Reboot.": 5}.get(t, 2) for m, t in shown_responses(messages).items()},
                "best-to-worst": sorted(
                    shown_responses(messages), key=lambda m: shown_responses(messages)[m] != "Reboot."
                ),
            }
        )
    )
    result = await judge.ajudge_many({"safe": (SAFE, 2), "short": (SHORT, 1)}, PROMPT, RESPONSES, mode="fold")
    assert len(backend.calls) == 1
    sent = principle_of(backend.calls[0][0])
    assert SAFE in sent and SHORT in sent
    assert "(66.7%)" in sent and "(33.3%)" in sent
    assert "prioritize: safe > short" in sent
    assert result.folded is not None and result.folded.principle == sent
    assert result.verdicts == {}
    assert result.best == "c"


async def test_a_failure_under_one_principle_fails_the_call_naming_it():
    judge, backend = make_judge()

    def flaky(messages: Sequence[Message], settings: GenerationSettings) -> str:
        if principle_of(messages) == SHORT:
            raise BackendUnavailable("judge server down")
        return by_principle(TABLE)(messages, settings)

    backend.default = flaky
    with pytest.raises(BackendUnavailable) as info:
        await judge.ajudge_many({"safe": SAFE, "short": SHORT}, PROMPT, RESPONSES)
    assert any("'short'" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    ("principles", "weights", "message"),
    [
        ({}, None, "no principles"),
        ({"safe": SAFE}, {"nope": 1}, "unknown principles"),
        ({"safe": (SAFE, -1)}, None, "weight must be a finite number >= 0"),
        ({"safe": (SAFE, 0), "short": (SHORT, 0)}, None, "every principle's weight is 0"),
        ({"safe": "   "}, None, "principle 'safe': principle is empty"),
    ],
)
async def test_bad_principle_sets_are_usage_errors(principles, weights, message):
    judge, backend = make_judge()
    with pytest.raises(UsageError, match=message):
        await judge.ajudge_many(principles, PROMPT, RESPONSES, weights=weights)
    assert backend.calls == []


async def test_principle_objects_are_rendered_and_recorded():
    principle = Principle.weighted({"Safety": 2, "Brevity": 1}, priority=["Safety", "Brevity"])
    table = {principle.render(): dict.fromkeys(RESPONSES.values(), 4)}
    judge, _ = make_judge(table)
    result = await judge.ajudge_many({"p": principle}, PROMPT, RESPONSES)
    assert result.verdicts["p"].principle == principle.render()


# ----------------------------------------------------------------------- policy

POLICY = Policy.of({"safety": (SAFE, 0.75), "brevity": (SHORT, 0.5)})


async def test_policy_passes_when_every_rule_passes_in_order():
    judge, backend = make_judge()
    outcome = await acheck_policy(judge, POLICY, PROMPT, RESPONSES["c"])
    assert outcome.passed and outcome.failed is None
    assert outcome.scores == {"safety": 0.75, "brevity": 1.0}
    assert [principle_of(m) for m, _ in backend.calls] == [SAFE, SHORT]


async def test_policy_stops_at_the_first_failing_rule():
    judge, backend = make_judge()
    outcome = await acheck_policy(judge, POLICY, PROMPT, RESPONSES["b"])
    assert not outcome.passed
    assert outcome.failed == "safety"
    assert outcome.skipped == ("brevity",)
    assert len(backend.calls) == 1  # tone (brevity) is not even judged
    message = outcome.message(POLICY)
    assert "rule 'safety'" in message and "1/5" in message and "threshold 0.75" in message and "brevity" in message


def test_policy_later_rule_fails_and_reference_is_judged_alongside():
    judge, backend = make_judge({SAFE: {"long answer": 5, "ref": 4}, SHORT: {"long answer": 2, "ref": 5}})
    outcome = check_policy(judge, POLICY, PROMPT, "long answer", reference="ref")
    assert outcome.failed == "brevity"
    assert outcome.scores == {"safety": 1.0, "brevity": 0.25}
    assert outcome.beats_reference == {"safety": True, "brevity": False}
    assert all(len(shown_responses(m)) == 2 for m, _ in backend.calls)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Policy(()), "at least one rule"),
        (lambda: Rule("", SAFE), "empty name"),
        (lambda: Rule("x", SAFE, 1.5), r"threshold is a unit score in \[0, 1\]"),
        (lambda: Rule("x", " "), "rule 'x': principle is empty"),
        (lambda: Policy((Rule("x", SAFE), Rule("x", SHORT))), "appears twice"),
    ],
)
def test_bad_policies_are_usage_errors(build, message):
    with pytest.raises(UsageError, match=message):
        build()
