"""The Principle value: rendering, weights as percentages, validation, data form, and use by the judge."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from ra_agents import Criterion, Judge, JudgeRequest, Principle, UsageError
from ra_agents.principles import DEFAULT_INTRO, principle_text
from ra_agents.testing import ScriptedBackend, prefer


def reference() -> Principle:
    """A weighted principle in the RewardAnything paper's style."""
    return Principle.weighted(
        {"Technical Accuracy": 40, "Clarity": 30, "Safety": 30},
        descriptions={
            "Technical Accuracy": "facts, code and numbers are correct",
            "Clarity": "a newcomer can follow it",
        },
        priority=["Safety", "Technical Accuracy", "Clarity"],
        text="Evaluate the answers to this programming question:",
    )


# ---------------------------------------------------------------- rendering


def test_weighted_criteria_render_as_a_numbered_list_with_shares_and_priority() -> None:
    assert reference().render() == (
        "Evaluate the answers to this programming question:\n"
        "1. **Technical Accuracy** (40%): facts, code and numbers are correct\n"
        "2. **Clarity** (30%): a newcomer can follow it\n"
        "3. **Safety** (30%)\n"
        "For conflicting criteria, prioritize: Safety > Technical Accuracy > Clarity."
    )


def test_priority_line_in_the_reference_style_keeps_each_criterion_spelling() -> None:
    p = Principle(
        criteria=(Criterion("safety"), Criterion("accuracy"), Criterion("clarity")),
        priority=("Safety", "ACCURACY", "clarity"),
        closing="Score 1-5.",
    )
    assert p.render() == (
        f"{DEFAULT_INTRO}\n"
        "1. **safety**\n"
        "2. **accuracy**\n"
        "3. **clarity**\n"
        "For conflicting criteria, prioritize: safety > accuracy > clarity.\n"
        "Score 1-5."
    )
    assert p.weights is None


def test_text_principle_renders_its_text_and_closing() -> None:
    p = Principle(text="  Correctness first, then brevity.  ", closing="Ignore style.")
    assert p.render() == "Correctness first, then brevity.\n\nIgnore style."
    assert str(p) == p.render()


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"a": 1, "b": 1, "c": 1}, ["33.3%", "33.3%", "33.3%"]),
        ({"a": 1, "b": 2, "c": 1}, ["25%", "50%", "25%"]),
        ({"a": 0, "b": 3}, ["0%", "100%"]),
        ({"a": 0.2, "b": 0.8}, ["20%", "80%"]),
        ({"a": 2, "b": 1}, ["66.7%", "33.3%"]),
    ],
)
def test_weights_render_as_shares_of_the_total(weights: dict[str, float], expected: list[str]) -> None:
    p = Principle.weighted(weights)
    lines = p.render().splitlines()[1:]
    assert [line.split("(")[1].rstrip(")") for line in lines] == expected
    assert p.weights is not None
    assert math.isclose(sum(p.weights.values()), 1.0)


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Criterion("  "), "empty name"),
        (lambda: Criterion("Accuracy", weight=-1), "finite number >= 0"),
        (lambda: Criterion("Accuracy", weight=float("nan")), "finite number >= 0"),
        (lambda: Criterion("Accuracy", weight=True), "must be a number"),
        (lambda: Principle(), "is empty"),
        (lambda: Principle(text="   "), "is empty"),
        (lambda: Principle.weighted({"A": 1, "B": -2}), "finite number >= 0"),
        (lambda: Principle(criteria=(Criterion("A", weight=1), Criterion("B"))), "but not for 'B'"),
        (lambda: Principle.weighted({"A": 0, "B": 0}), "every weight is 0"),
        (lambda: Principle.weighted({"A": 1}, priority=["A", "Z"]), "unknown criterion 'Z'"),
        (lambda: Principle.weighted({"A": 1, "B": 1}, priority=["A", "a"]), "names 'a' twice"),
        (lambda: Principle(criteria=(Criterion("Clarity"), Criterion("clarity "))), "appears twice"),
        (lambda: Principle(text="t", priority=("A",)), "needs criteria"),
        (lambda: Principle.weighted({"A": 1}, descriptions={"B": "x"}), "no weight: B"),
        (lambda: Principle.from_dict({"text": "t", "weights": {}}), "unknown principle field(s) weights"),
        (lambda: Principle.from_dict({"criteria": [{"name": "A", "score": 1}]}), "unknown criterion field(s) score"),
        (lambda: Principle.from_dict({"criteria": ["A"]}), "must be a table/object"),
        (lambda: Principle.from_dict(["text"]), "must be a table/object"),  # type: ignore[arg-type]
    ],
)
def test_invalid_principles_raise_a_usage_error_that_says_what_is_wrong(make, message: str) -> None:
    with pytest.raises(UsageError) as info:
        make()
    assert message in str(info.value)


def test_an_unknown_priority_lists_the_known_criteria() -> None:
    with pytest.raises(UsageError) as info:
        Principle.weighted({"Safety": 1, "Clarity": 1}, priority=["Accuracy"])
    assert "known criteria: 'Safety', 'Clarity'" in str(info.value)


def test_principle_text_accepts_text_or_principle_and_rejects_blank_and_other_types() -> None:
    assert principle_text("Be brief.") == "Be brief."
    assert principle_text(reference()) == reference().render()
    with pytest.raises(UsageError, match="principle is empty"):
        principle_text("  ")
    with pytest.raises(UsageError, match="got int"):
        principle_text(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- data form


def test_to_dict_leaves_out_empty_fields_and_from_dict_round_trips() -> None:
    p = Principle(
        criteria=(Criterion("Safety", "no harm", 3), Criterion("Brevity", weight=1)),
        priority=("Safety", "Brevity"),
        id="safe-brief",
        category="safety",
        tags=("safety", "brevity"),
        summary="Safe, then short.",
    )
    data = p.to_dict()
    assert data == {
        "id": "safe-brief",
        "category": "safety",
        "summary": "Safe, then short.",
        "tags": ["safety", "brevity"],
        "criteria": [{"name": "Safety", "description": "no harm", "weight": 3}, {"name": "Brevity", "weight": 1}],
        "priority": ["Safety", "Brevity"],
    }
    again = Principle.from_dict(json.loads(json.dumps(data)))
    assert again == p
    assert again.render() == p.render()
    assert Principle.from_dict({"text": "Be kind.", "tags": "tone"}).tags == ("tone",)


# ------------------------------------------------------------- use by the judge


def test_a_judge_request_accepts_a_principle_object_or_its_data_form() -> None:
    p = reference()
    direct = JudgeRequest(principle=p, prompt="q", responses=["a", "b"])
    assert direct.principle is p
    from_json = JudgeRequest.model_validate_json(
        json.dumps({"principle": p.to_dict(), "prompt": "q", "responses": ["a", "b"]})
    )
    assert from_json.principle == p
    assert direct.model_dump()["principle"] == p.to_dict()
    with pytest.raises(ValidationError, match="weights are given for some criteria"):
        JudgeRequest.model_validate(
            {"principle": {"criteria": [{"name": "A", "weight": 1}, {"name": "B"}]}, "prompt": "q", "responses": ["a"]}
        )


def test_the_judge_reads_the_rendered_principle_and_records_it_on_the_result() -> None:
    p = reference()
    backend = ScriptedBackend(default=prefer(lambda text: "safe" in text))
    result = Judge(backend, seed=3).judge(p, "How do I delete a folder?", {"good": "safe: rm -ri", "bad": "rm -rf /"})
    assert result.best == "good"
    assert result.principle == p.render()
    sent = json.loads(backend.calls[0][0][1]["content"])
    assert sent["principle"] == p.render()
    assert "1. **Technical Accuracy** (40%)" in sent["principle"]
