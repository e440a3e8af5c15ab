"""The core of the judge contract: one prompt normaliser, one acceptance rule, one verdict
serialisation, errors that keep their fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from ra_agents import (
    BackendTimeout,
    Judge,
    JudgeResult,
    LimitError,
    PassVerdict,
    Usage,
    UsageError,
    VerdictError,
    accepts,
    error_from_dict,
    error_to_dict,
    prompt_text,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.acceptance import check_on_judge_error, check_threshold
from ra_agents.testing import ScriptedBackend, prefer

SYSTEM = "You are a careful maths tutor."
EXPECTED = "system: You are a careful maths tutor.\nuser: What is 2+2?\n  Answer in one word."
BLOCKS: list[str | dict[Any, Any]] = [
    {"type": "text", "text": "What is 2+2?"},
    {"type": "text", "text": "Answer in one word."},
]

# ------------------------------------------------------------------ prompt


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([{"role": "system", "content": SYSTEM}, {"role": "user", "content": BLOCKS}], id="openai"),
        pytest.param([SystemMessage(SYSTEM), HumanMessage(BLOCKS)], id="langchain"),
        pytest.param({"messages": [SystemMessage(SYSTEM), HumanMessage(BLOCKS)]}, id="langgraph-state"),
        pytest.param(
            [{"type": "system", "content": SYSTEM}, {"type": "human", "content": BLOCKS}], id="langchain-dicts"
        ),
        pytest.param(
            ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", BLOCKS)]).invoke({}), id="prompt-value"
        ),
        pytest.param(
            {"inputs": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": BLOCKS}]},
            id="one-entry-inputs",
        ),
    ],
)
def test_one_conversation_in_every_shape_reads_as_one_text(value: Any) -> None:
    assert prompt_text(value) == EXPECTED


@pytest.mark.parametrize(
    "value",
    [
        "2+2?",
        [{"role": "user", "content": "2+2?"}],
        [HumanMessage("2+2?")],
        HumanMessage("2+2?"),
        [{"type": "text", "text": "2+2?"}],
        {"question": "2+2?"},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "2+2?"}]}]},
    ],
)
def test_a_single_user_turn_reads_as_its_text(value: Any) -> None:
    assert prompt_text(value) == "2+2?"


def test_a_conversation_with_an_assistant_turn_and_tools_is_rendered_step_by_step() -> None:
    messages = [
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "1"}]),
        {"role": "tool", "tool_call_id": "1", "content": "18C"},
        HumanMessage("And tomorrow?"),
    ]
    assert prompt_text(messages) == (
        'user: Weather in Paris?\nassistant -> weather({"city": "Paris"})\nweather result: 18C\nuser: And tomorrow?'
    )


def test_other_inputs_are_json_and_nothing_is_an_error() -> None:
    assert prompt_text({"q": "a", "context": "b"}) == '{\n  "q": "a",\n  "context": "b"\n}'

    @dataclass
    class Ask:
        q: str

    assert prompt_text(Ask("a")) == '{\n  "q": "a"\n}'
    bad: Any
    for bad in (None, [], {"messages": []}):
        with pytest.raises(UsageError, match="prompt"):
            prompt_text(bad)


async def test_the_judge_reads_a_message_list_as_its_text_and_caches_it_as_one() -> None:
    backend = ScriptedBackend(default=prefer(lambda t: t == "4"))
    judge = Judge(backend, seed=0, cache=None)
    from_text = await judge.ajudge("p", EXPECTED, ["4", "5"])
    from_messages = await judge.ajudge(
        "p", [{"role": "system", "content": SYSTEM}, {"role": "user", "content": BLOCKS}], ["4", "5"]
    )
    assert backend.calls[0][0] == backend.calls[1][0]
    assert from_text.scores == from_messages.scores


# -------------------------------------------------------------- acceptance


def _verdict(score: int, expected: float | None) -> JudgeResult:
    return JudgeResult(
        names=("a",),
        scores={"a": score},
        ranking=("a",),
        normalized={"a": (score - 1) / 4},
        reasoning="",
        passes=(),
        expected_scores=None if expected is None else {"a": expected},
    )


@pytest.mark.parametrize(
    ("score", "expected", "threshold", "accepted"),
    [
        (4, 3.9, 0.75, False),  # the expected score decides: 0.725
        (4, 3.9, 0.72, True),
        (4, None, 0.75, True),  # no logprobs: the integer score's 0.75
        (3, None, 0.5, True),
        (2, None, 0.5, False),
    ],
)
def test_accepts_compares_the_unit_score(score: int, expected: float | None, threshold: float, accepted: bool) -> None:
    assert accepts(_verdict(score, expected), "a", threshold) is accepted


def test_threshold_and_failure_vocabulary_are_checked_with_teaching_errors() -> None:
    assert check_threshold(1) == 1.0
    for bad in (1.5, -0.1, "0.5", True):
        with pytest.raises(UsageError, match=r"\[0, 1\]"):
            check_threshold(bad)
    assert check_on_judge_error("fail") == "fail_closed"
    assert check_on_judge_error("pass") == "fail_open"
    assert check_on_judge_error("raise") == "raise"
    with pytest.raises(UsageError, match="fail_closed"):
        check_on_judge_error("explode")


# ------------------------------------------------------------ serialisation

_SCORES = st.dictionaries(st.sampled_from("abcd"), st.integers(1, 5), min_size=1)


@given(_SCORES, st.booleans())
def test_a_verdict_round_trips_through_its_one_serialisation(scores: dict[str, int], logprobs: bool) -> None:
    names = tuple(scores)
    ranking = tuple(sorted(names, key=lambda n: -scores[n]))
    expected = {n: s - 0.25 for n, s in scores.items()} if logprobs else None
    result = JudgeResult(
        names=names,
        scores={n: float(s) for n, s in scores.items()},
        ranking=ranking,
        normalized={n: (s - 1) / 4 for n, s in scores.items()},
        reasoning="why",
        passes=(PassVerdict(order=names, scores=scores, ranking=ranking, raw="{...}", expected_scores=expected),),
        expected_scores=expected,
        usage=Usage(3, 4),
        scale=(1, 5),
        principle="p",
    )
    data = verdict_to_dict(result)
    assert data["best"] == result.best
    assert verdict_from_dict(data) == result
    assert "raw" not in verdict_to_dict(result, raw=False)["passes"][0]
    assert result.to_dict() == verdict_to_dict(result, raw=False)


@pytest.mark.parametrize(
    "error",
    [
        VerdictError("no verdict", raw="<think>x</think>{", finish_reason="length", attempts=3),
        LimitError("too many candidates", limit="max_candidates", value=65),
        BackendTimeout("slow", status=504, body="gateway"),
        UsageError("bad"),
    ],
)
def test_errors_keep_their_type_and_fields_across_a_boundary(error: Exception) -> None:
    assert isinstance(error, VerdictError | LimitError | BackendTimeout | UsageError)
    back = error_from_dict(error_to_dict(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_a_deprecated_spelling_of_on_judge_error_is_read_once_with_a_warning() -> None:
    from ra_agents.acceptance import resolve_on_judge_error

    assert resolve_on_judge_error(None, default="raise") == "raise"
    assert resolve_on_judge_error("pass") == "fail_open"
    with pytest.warns(DeprecationWarning, match="on_error is deprecated; use on_judge_error='fail_open'"):
        assert resolve_on_judge_error(None, old_name="on_error", old_value="fail_open", what="g") == "fail_open"
    with pytest.warns(DeprecationWarning, match="deprecated"), pytest.raises(UsageError, match="not both"):
        resolve_on_judge_error("raise", old_name="on_error", old_value="fail_open")
