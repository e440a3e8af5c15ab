"""Rendering agent trajectories for the judge: exact texts, shape parity, the shortening rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ra_agents import Judge, UsageError
from ra_agents.protocol import render_candidate
from ra_agents.testing import ScriptedBackend, prefer, shown_responses
from ra_agents.trajectory import (
    NO_STEPS,
    common_prefix,
    is_trajectory,
    render_trajectory,
    shorten,
    trajectory_messages,
    trajectory_request,
)

# A recorded run of an OpenAI-format tool-calling agent (two parallel calls, a multi-line result).
RECORDED_RUN: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a travel assistant. Use the tools."},
    {"role": "user", "content": "Should I pack an umbrella for Paris and Lyon tomorrow?"},
    {
        "role": "assistant",
        "content": "Let me check both forecasts.",
        "tool_calls": [
            {
                "id": "call_paris",
                "type": "function",
                "function": {"name": "get_forecast", "arguments": '{"city": "Paris", "day": "tomorrow"}'},
            },
            {
                "id": "call_lyon",
                "type": "function",
                "function": {"name": "get_forecast", "arguments": '{"city":"Lyon","day":"tomorrow"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_paris", "content": "Paris: rain 80%\nwind 20 km/h"},
    {"role": "tool", "tool_call_id": "call_lyon", "content": "Lyon: sunny, rain 5%"},
    {"role": "assistant", "content": "Yes for Paris (80% rain).\n\nNo need in Lyon (5%)."},
]

RECORDED_TEXT = """\
user: Should I pack an umbrella for Paris and Lyon tomorrow?
assistant: Let me check both forecasts.
assistant -> get_forecast({"city": "Paris", "day": "tomorrow"})
assistant -> get_forecast({"city": "Lyon", "day": "tomorrow"})
get_forecast result: Paris: rain 80%
  wind 20 km/h
get_forecast result: Lyon: sunny, rain 5%
assistant: Yes for Paris (80% rain).
  No need in Lyon (5%)."""


def langchain_run() -> list[Any]:
    """The recorded run as LangChain messages, written by hand."""
    messages = pytest.importorskip("langchain_core.messages")
    return [
        messages.SystemMessage(content="You are a travel assistant. Use the tools."),
        messages.HumanMessage(content="Should I pack an umbrella for Paris and Lyon tomorrow?"),
        messages.AIMessage(
            content="Let me check both forecasts.",
            tool_calls=[
                {"name": "get_forecast", "args": {"city": "Paris", "day": "tomorrow"}, "id": "call_paris"},
                {"name": "get_forecast", "args": {"city": "Lyon", "day": "tomorrow"}, "id": "call_lyon"},
            ],
        ),
        messages.ToolMessage(content="Paris: rain 80%\nwind 20 km/h", tool_call_id="call_paris"),
        messages.ToolMessage(content="Lyon: sunny, rain 5%", tool_call_id="call_lyon"),
        messages.AIMessage(content="Yes for Paris (80% rain).\n\nNo need in Lyon (5%)."),
    ]


# ------------------------------------------------------------------ rendering


def test_a_recorded_openai_run_renders_exactly() -> None:
    assert render_trajectory(RECORDED_RUN) == RECORDED_TEXT


def test_system_messages_are_optional() -> None:
    assert render_trajectory(RECORDED_RUN, system=True) == (
        "system: You are a travel assistant. Use the tools.\n" + RECORDED_TEXT
    )


def test_langchain_messages_render_as_the_equivalent_openai_dicts() -> None:
    utils = pytest.importorskip("langchain_core.messages")
    run = langchain_run()
    assert render_trajectory(run) == RECORDED_TEXT
    assert render_trajectory(run, system=True) == render_trajectory(RECORDED_RUN, system=True)
    # LangChain's own conversion to OpenAI dicts, and the dicts a LangGraph server returns
    assert render_trajectory(utils.convert_to_openai_messages(run)) == RECORDED_TEXT
    assert render_trajectory([m.model_dump() for m in run]) == RECORDED_TEXT
    assert common_prefix([run, RECORDED_RUN]) == len(run)


def test_a_state_dict_renders_its_messages() -> None:
    state = {"messages": RECORDED_RUN, "remaining_steps": 20, "answer": "ignored"}
    assert is_trajectory(state)
    assert render_trajectory(state) == RECORDED_TEXT
    assert render_candidate(state) == RECORDED_TEXT
    assert trajectory_messages(state) == RECORDED_RUN


def test_tool_errors_invalid_calls_blocks_and_names() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    run = [
        messages.HumanMessage(content=[{"type": "text", "text": "What is in this photo?"}, {"type": "image_url"}]),
        messages.AIMessage(
            content=[{"type": "thinking", "thinking": "hidden"}, {"type": "text", "text": "Looking."}],
            tool_calls=[{"name": "vision", "args": {"detail": "high"}, "id": "v1"}],
            invalid_tool_calls=[{"name": "search", "args": "{not json", "id": "s1", "error": "bad json"}],
        ),
        messages.ToolMessage(content="timeout", tool_call_id="v1", status="error"),
        messages.ToolMessage(content="no id match", tool_call_id="zz", name="search"),
        messages.AIMessage(content=""),
    ]
    assert render_trajectory(run) == (
        "user: What is in this photo?\n"
        "  [image_url]\n"
        "assistant: Looking.\n"
        'assistant -> vision({"detail": "high"})\n'
        "assistant -> search({not json)\n"
        "vision error: timeout\n"
        "search result: no id match\n"
        "assistant: (empty)"
    )
    openai = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [{"name": "f", "args": {"x": 1}}]},
        {"role": "tool", "content": None},
        {"role": "function", "name": "legacy", "content": {"ok": True}},
    ]
    assert (
        render_trajectory(openai)
        == 'user: hi\nassistant -> f({"x": 1})\ntool result: (empty)\nlegacy result: {"ok": true}'
    )


# ------------------------------------------------------------------ shortening


def test_the_shortening_rule() -> None:
    assert shorten("abcdefghij", 6) == "abcd … [4 chars omitted] … ij"  # H = 6 - 6 // 3, T = 6 // 3
    assert shorten("abcdefghij", (3, 1)) == "abc … [6 chars omitted] … j"
    assert shorten("abcdefghij", (0, 2)) == "… [8 chars omitted] … ij"
    assert shorten("abcdefghij", (2, 0)) == "ab … [8 chars omitted] …"
    assert shorten("abcdefghij", 10) == "abcdefghij"  # no longer than H + T: unchanged
    assert shorten("abcdefghij", None) == "abcdefghij"
    for bad in (-1, (1,), (1, -1), 1.5, True):
        with pytest.raises(UsageError, match="number of characters"):
            shorten("x", bad)  # type: ignore[arg-type]


def test_long_tool_outputs_and_arguments_are_shortened_in_the_rendering() -> None:
    output = "".join(str(i % 10) for i in range(1500))
    query = "q" * 400
    run = [
        {"role": "user", "content": "Search."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "1", "function": {"name": "search", "arguments": json.dumps({"query": query})}}],
        },
        {"role": "tool", "tool_call_id": "1", "content": output},
    ]
    args = json.dumps({"query": query})  # 414 characters; the default keeps 200 + 100
    expected_args = f"{args[:200]} … [{len(args) - 300} chars omitted] … {args[-100:]}"
    expected_output = f"{output[:667]} … [500 chars omitted] … {output[-333:]}"  # default 1000: 667 + 333
    assert render_trajectory(run) == (
        f"user: Search.\nassistant -> search({expected_args})\nsearch result: {expected_output}"
    )
    assert render_trajectory(run, max_tool_chars=None, max_arg_chars=None).endswith(output)
    assert render_trajectory(run, max_tool_chars=(5, 5)).endswith("01234 … [1490 chars omitted] … 56789")
    assert render_trajectory(RECORDED_RUN, max_text_chars=(8, 0)).splitlines()[0] == (
        "user: Should I … [46 chars omitted] …"
    )


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (RECORDED_RUN, True),
        ({"messages": RECORDED_RUN}, True),
        ([{"type": "human", "content": "hi"}], True),
        ([], False),
        ({"messages": []}, False),
        (RECORDED_RUN[1], False),  # one message
        ([1, "two", None], False),
        ([{"role": "user"}], False),  # no content
        ([{"type": "text", "text": "hi"}], False),  # a content block, not a message
        ("user: hi", False),
        ({"answer": "x"}, False),
    ],
)
def test_is_trajectory(value: Any, expected: bool) -> None:
    assert is_trajectory(value) is expected


def test_a_non_trajectory_is_refused_with_a_clear_error() -> None:
    with pytest.raises(UsageError, match="item 1 of the trajectory is not a chat message"):
        render_trajectory([RECORDED_RUN[0], 42])
    with pytest.raises(UsageError, match="keys \\['answer'\\]"):
        render_trajectory({"answer": "x"})


# -------------------------------------------------------- the judge's renderer


def test_the_judges_default_renderer_renders_trajectories() -> None:
    backend = ScriptedBackend(default=prefer(lambda text: "get_forecast(" in text))
    judge = Judge(backend, seed=0)
    lazy = [RECORDED_RUN[1], {"role": "assistant", "content": "Probably not."}]

    result = judge.judge("Check the forecast.", "Umbrella?", {"tools": RECORDED_RUN, "lazy": lazy})

    assert result.best == "tools"
    shown = sorted(shown_responses(backend.calls[0][0]).values())
    lazy_text = "user: Should I pack an umbrella for Paris and Lyon tomorrow?\nassistant: Probably not."
    assert shown == sorted([RECORDED_TEXT, lazy_text])


# ------------------------------------------------------------ listwise requests


def test_the_shared_task_is_shown_once_as_the_prompt() -> None:
    lazy = [*RECORDED_RUN[:2], {"role": "assistant", "content": "Probably not."}]
    prompt, texts = trajectory_request(None, {"tools": RECORDED_RUN, "lazy": lazy})
    # the task reads as every prompt does (ra_agents.prompt_text): its system message included
    assert prompt == (
        "system: You are a travel assistant. Use the tools.\n"
        "user: Should I pack an umbrella for Paris and Lyon tomorrow?"
    )
    assert texts["lazy"] == "assistant: Probably not."
    assert texts["tools"] == RECORDED_TEXT.split("\n", 1)[1]

    # messages as the task: left out of the runs that begin with them, kept in the others
    prompt, texts = trajectory_request(RECORDED_RUN[:2], [RECORDED_RUN[:2], lazy[1:]], system=True)
    assert prompt.startswith("system: You are a travel assistant.")
    lazy_text = "user: Should I pack an umbrella for Paris and Lyon tomorrow?\nassistant: Probably not."
    assert texts == {"0": NO_STEPS, "1": lazy_text}

    # text as the task: the runs are rendered whole
    prompt, texts = trajectory_request("Pack for tomorrow.", [lazy])
    assert prompt == "Pack for tomorrow." and texts["0"].startswith("user: Should I pack")


def test_listwise_requests_refuse_what_cannot_work() -> None:
    with pytest.raises(UsageError, match="got one trajectory"):
        trajectory_request(None, RECORDED_RUN)
    with pytest.raises(UsageError, match="no trajectories"):
        trajectory_request("task", [])
    with pytest.raises(UsageError, match="do not begin with the same user message"):
        trajectory_request(None, [RECORDED_RUN, [{"role": "user", "content": "Something else."}]])
    with pytest.raises(UsageError, match="task is empty"):
        trajectory_request("  ", [RECORDED_RUN])
    with pytest.raises(UsageError, match="not a chat message"):
        trajectory_request("task", [["not a message"]])
