"""Judging agent trajectories: group ranking, the agentevals-shaped evaluator under LangSmith's
``evaluate``, and best-of-n over agent runs inside a compiled LangGraph graph.

Three recorded runs of a weather agent are the fixtures: one calls the tool and answers
from its result, one answers without calling it (a hallucination), one calls it in a loop.
A scripted judge drives the exact outcomes; the ``vllm`` tests run the real served model.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langsmith import Client, aevaluate, evaluate
from langsmith.schemas import Example

from ra_agents import (
    BackendError,
    BackendUnavailable,
    Judge,
    JudgeResult,
    Message,
    OnJudgeError,
    UsageError,
    VerdictError,
)
from ra_agents.integrations.langgraph import AgentRunsState, best_of_n_agents
from ra_agents.integrations.trajectory import (
    arank_trajectories,
    create_async_trajectory_principle_evaluator,
    create_trajectory_principle_evaluator,
    rank_trajectories,
    trajectory_rewards,
)
from ra_agents.testing import ScriptedBackend, shown_responses

PRINCIPLE = "Facts about the weather must come from the get_weather tool. Call it once, then answer."
QUESTION = "What's the weather in Paris today?"
ASK: dict[str, Any] = {"role": "user", "content": QUESTION}


def _call(call_id: str) -> dict[str, Any]:
    arguments = json.dumps({"city": "Paris"})
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}


def _result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 18, "sky": "sunny"}'}


# Recorded runs, in the OpenAI chat format.
CORRECT: list[dict[str, Any]] = [
    ASK,
    {"role": "assistant", "content": None, "tool_calls": [_call("call_1")]},
    _result("call_1"),
    {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
]
HALLUCINATED: list[dict[str, Any]] = [ASK, {"role": "assistant", "content": "It is 25 °C with light rain in Paris."}]
LOOPING: list[dict[str, Any]] = [
    ASK,
    *(
        step
        for i in (1, 2, 3)
        for step in ({"role": "assistant", "content": "", "tool_calls": [_call(f"loop_{i}")]}, _result(f"loop_{i}"))
    ),
    {"role": "assistant", "content": "Let me check the weather again."},
]
RUNS: dict[str, list[dict[str, Any]]] = {"correct": CORRECT, "hallucinated": HALLUCINATED, "looping": LOOPING}

CALL_LINE = 'assistant -> get_weather({"city": "Paris"})'
RESULT_LINE = 'get_weather result: {"temp_c": 18, "sky": "sunny"}'


def grade(text: str) -> int:
    """The scripted judge's taste: one tool call is right, a loop is poor, no call is worst."""
    calls = text.count(CALL_LINE)
    return 5 if calls == 1 else 2 if calls > 1 else 1


def grading(messages: Sequence[Message], settings: Any) -> str:
    shown = shown_responses(messages)
    scores = {name: grade(text) for name, text in shown.items()}
    return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])})


def scripted() -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=grading)
    return Judge(backend, seed=0), backend


def sent(backend: ScriptedBackend, call: int = 0) -> dict[str, Any]:
    """What the judge was sent in one call: principle, prompt, responses."""
    return json.loads(backend.calls[call][0][1]["content"])


# ------------------------------------------------------------------- ranking


def test_three_recorded_runs_are_ranked_in_one_call() -> None:
    judge, backend = scripted()

    result = rank_trajectories(judge, PRINCIPLE, None, RUNS)

    assert result.ranking == ("correct", "looping", "hallucinated")
    assert dict(result.scores) == {"correct": 5, "hallucinated": 1, "looping": 2}
    assert trajectory_rewards(result) == {"correct": 1.0, "hallucinated": 0.0, "looping": 0.25}
    assert len(backend.calls) == 1
    request = sent(backend)
    assert request["principle"] == PRINCIPLE
    assert request["prompt"] == QUESTION  # the shared task, shown once (prompt_text: a lone user message is its text)
    texts = sorted(request["responses"].values(), key=len)
    assert texts[0] == "assistant: It is 25 °C with light rain in Paris."
    assert texts[1] == f"{CALL_LINE}\n{RESULT_LINE}\nassistant: It is 18 °C and sunny in Paris."
    assert texts[2].count(CALL_LINE) == 3 and texts[2].count(RESULT_LINE) == 3
    assert not any(QUESTION in text for text in texts)


def test_langchain_runs_as_a_list_with_a_text_task_rank_the_same() -> None:
    judge, backend = scripted()
    runs = [convert_to_messages(run) for run in RUNS.values()]  # LangChain messages

    result = asyncio.run(arank_trajectories(judge, PRINCIPLE, "Report today's weather in Paris.", runs))

    assert result.names == ("0", "1", "2") and result.ranking == ("0", "2", "1")
    assert sent(backend)["prompt"] == "Report today's weather in Paris."
    assert all(text.startswith(f"user: {QUESTION}\n") for text in sent(backend)["responses"].values())


def test_ranking_refuses_bad_groups_before_calling_the_judge() -> None:
    judge, backend = scripted()
    with pytest.raises(UsageError, match="got one trajectory"):
        rank_trajectories(judge, PRINCIPLE, None, CORRECT)
    with pytest.raises(UsageError, match="not a chat message"):
        rank_trajectories(judge, PRINCIPLE, QUESTION, {"a": CORRECT, "b": ["4"]})
    assert backend.calls == []


# ----------------------------------------------------------------- evaluator


def test_evaluator_with_a_reference_trajectory_judges_both_in_one_call() -> None:
    judge, backend = scripted()
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)

    beaten = evaluator(outputs=LOOPING, reference_outputs={"messages": CORRECT})
    beats = evaluator(outputs={"messages": CORRECT}, reference_outputs=HALLUCINATED)
    alone = evaluator(outputs=CORRECT)

    assert beaten["key"] == "trajectory_principle" and beaten["score"] == 0.25
    assert beaten["metadata"]["beats_reference"] is False and beaten["metadata"]["reference_score"] == 5
    assert beaten["comment"].startswith("trajectory_principle: 2/5 (does not beat the reference")
    assert beats["score"] == 1.0 and beats["metadata"]["beats_reference"] is True
    assert alone["score"] == 1.0 and "beats_reference" not in alone["metadata"]
    assert [len(sent(backend, i)["responses"]) for i in range(3)] == [2, 2, 1]
    assert all(CALL_LINE in "".join(sent(backend, i)["responses"].values()) for i in range(3))


def test_evaluator_boolean_scores_and_inputs() -> None:
    judge, backend = scripted()
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge, continuous=False)

    assert evaluator(outputs=CORRECT, reference_outputs=LOOPING)["score"] is True
    assert evaluator(outputs=LOOPING, reference_outputs=CORRECT)["score"] is False
    assert evaluator(outputs=LOOPING)["score"] is False  # 2 of 1-5: unit score 0.25, below the threshold 0.5
    assert evaluator(inputs={"question": QUESTION}, outputs=CORRECT)["score"] is True
    assert sent(backend, 3)["prompt"] == QUESTION
    assert evaluator(inputs={"messages": [ASK]}, outputs={"output": CORRECT})["score"] is True
    assert sent(backend, 4)["prompt"] == QUESTION  # prompt_text of the one user message


def test_evaluator_boolean_is_the_one_acceptance_rule() -> None:
    judge, _ = scripted()
    strict = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge, continuous=False, threshold=0.2)
    assert strict(outputs=LOOPING)["score"] is True  # unit score 0.25 reaches 0.2
    # with a reference, the flag is still the output's own score against the threshold
    assert strict(outputs=LOOPING, reference_outputs=CORRECT)["score"] is True
    with pytest.raises(UsageError, match="threshold"):
        create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge, threshold=3)


@pytest.mark.parametrize(("continuous", "closed", "opened"), [(True, 0.0, 1.0), (False, False, True)])
def test_judge_failure_goes_by_on_judge_error(continuous: bool, closed: Any, opened: Any) -> None:
    down = Judge(ScriptedBackend(default=BackendUnavailable("the judge is down")), max_retries=0)
    modes: list[tuple[OnJudgeError, Any]] = [("fail_closed", closed), ("fail_open", opened)]
    for mode, expected in modes:
        evaluator = create_trajectory_principle_evaluator(
            principle=PRINCIPLE, judge=down, continuous=continuous, on_judge_error=mode
        )
        feedback = evaluator(outputs=CORRECT)
        assert feedback["score"] == expected and type(feedback["score"]) is type(expected)
        assert feedback["comment"] == "BackendUnavailable: the judge is down" and feedback["extra"] == {"error": True}
        assert feedback["metadata"] == {"error": "BackendUnavailable", "on_judge_error": mode}
    assert create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=down)(outputs=CORRECT)["score"] == 0.0
    with pytest.raises(BackendUnavailable, match="the judge is down"):
        create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=down, on_judge_error="raise")(outputs=CORRECT)


def test_evaluator_returns_error_feedback_for_rows_it_cannot_judge() -> None:
    judge, backend = scripted()
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge, feedback_key="traj")
    for outputs, message in [
        ({}, "no trajectory to judge"),
        ({"answer": "4", "steps": 2}, "hold no trajectory (a dict with keys ['answer', 'steps'])"),
        ([{"role": "user", "content": "Another question."}, *CORRECT[1:]], None),
    ]:
        feedback = evaluator(outputs=outputs, reference_outputs=HALLUCINATED)
        if message is None:  # a task the runs do not share: the evaluator needs inputs=
            message = "do not begin with the same user message"
        assert feedback["key"] == "traj" and feedback["score"] is None
        assert feedback["comment"].startswith("UsageError: ") and message in feedback["comment"]
        assert feedback["metadata"] == {"error": "UsageError"} and feedback["extra"] == {"error": True}
    assert backend.calls == []
    with pytest.raises(UsageError, match="principle is empty"):
        create_trajectory_principle_evaluator(principle=" ", judge=judge)


def test_sync_and_async_evaluators_agree() -> None:
    kwargs = {"outputs": LOOPING, "reference_outputs": CORRECT}
    sync = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=scripted()[0])(**kwargs)
    evaluator = create_async_trajectory_principle_evaluator(principle=PRINCIPLE, judge=scripted()[0])
    asyn = asyncio.run(evaluator(**kwargs))
    assert sync["metadata"].pop("verdict")["scores"] == asyn["metadata"].pop("verdict")["scores"]
    assert sync == asyn and sync["score"] == 0.25


@pytest.fixture(scope="module")
def client() -> Client:
    """A LangSmith client that cannot leave the machine (as in test_langsmith.py)."""
    return Client(api_url="http://127.0.0.1:9", api_key="offline", info={}, tracing_sampling_rate=0.0)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)


def _examples() -> list[Example]:
    dataset = uuid.uuid4()
    return [
        Example(
            id=uuid.uuid4(), dataset_id=dataset, inputs={"messages": [ASK], "case": name}, outputs={"messages": CORRECT}
        )
        for name in ("hallucinated", "looping")
    ]


def _agent(inputs: dict) -> dict:
    return {"messages": RUNS[inputs["case"]]}


def _rows(results: Any) -> dict[str, Any]:
    return {row["example"].inputs["case"]: row["evaluation_results"]["results"][0] for row in results}


def test_evaluator_under_langsmith_evaluate_offline(client: Client) -> None:
    judge, backend = scripted()
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)

    rows = _rows(evaluate(_agent, data=_examples(), evaluators=[evaluator], upload_results=False, client=client))

    assert rows["hallucinated"].key == rows["looping"].key == "trajectory_principle"
    assert rows["hallucinated"].score == 0.0 and rows["looping"].score == 0.25
    assert rows["looping"].metadata["beats_reference"] is False
    assert [sent(backend, i)["prompt"] for i in range(2)] == [QUESTION] * 2  # from the inputs' messages
    assert all(len(sent(backend, i)["responses"]) == 2 for i in range(2))  # output and reference together


async def test_async_evaluator_under_langsmith_aevaluate_offline(client: Client) -> None:
    judge, _ = scripted()
    evaluator = create_async_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)

    async def agent(inputs: dict) -> dict:
        return _agent(inputs)

    # langsmith types async evaluators as (run, example); it calls this one by its parameter names
    results = await aevaluate(agent, data=_examples(), evaluators=[evaluator], upload_results=False, client=client)  # type: ignore[list-item]
    rows = _rows([row async for row in results])
    assert rows["hallucinated"].score == 0.0 and rows["looping"].score == 0.25


# ------------------------------------------------------ best-of-n agent runs


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    answer: str


def fake_agent() -> Any:
    """A compiled sub-graph whose run ``i`` replays recorded behaviour ``i`` (by its ``run_index``)."""
    behaviours = [HALLUCINATED, CORRECT, LOOPING]
    seen: list[int] = []

    def act(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        index = config["metadata"]["run_index"]
        seen.append(index)
        assert [m.content for m in state["messages"]] == [QUESTION]  # every run gets the same input
        steps = convert_to_messages(behaviours[index][1:])
        return {"messages": steps, "answer": steps[-1].content}

    builder = StateGraph(AgentState)
    builder.add_node("act", act)
    builder.add_edge(START, "act")
    graph = builder.compile(name="weather_agent")
    graph.seen = seen  # type: ignore[attr-defined]
    return graph


class RunsWithAnswer(AgentRunsState, total=False):
    answer: str


async def test_best_of_n_agents_keeps_the_best_run_with_one_judge_call() -> None:
    judge, backend = scripted()
    agent = fake_agent()
    graph = best_of_n_agents(agent, judge, n=3, principle=PRINCIPLE, state_schema=RunsWithAnswer)

    state = await graph.ainvoke({"messages": [HumanMessage(content=QUESTION)]})

    assert len(backend.calls) == 1
    assert sorted(agent.seen) == [0, 1, 2]
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert state["messages"][0].content == QUESTION
    assert state["messages"][1].tool_calls[0]["args"] == {"city": "Paris"}
    assert state["messages"][-1].content == "It is 18 °C and sunny in Paris."
    assert state["answer"] == "It is 18 °C and sunny in Paris."  # copied from the best run's state
    verdict = state["verdict"]
    assert verdict["best"] == "1" and verdict["scores"] == {"0": 1, "1": 5, "2": 2}
    assert verdict["ranking"] == ["1", "2", "0"]
    assert verdict["principle"] == PRINCIPLE
    assert sorted(run["index"] for run in state["runs"]) == [0, 1, 2]  # every run's final state, for inspection
    request = sent(backend)
    assert request["prompt"] == QUESTION
    assert sorted(request["responses"].values(), key=len)[1] == (
        f"{CALL_LINE}\n{RESULT_LINE}\nassistant: It is 18 °C and sunny in Paris."
    )


def test_best_of_n_agents_as_a_node_of_a_parent_graph_with_the_principle_from_config() -> None:
    class Parent(TypedDict, total=False):
        messages: Annotated[list[AnyMessage], add_messages]

    judge, backend = scripted()
    builder = StateGraph(Parent)
    builder.add_node("best_of_3", best_of_n_agents(fake_agent(), judge, n=3))
    builder.add_edge(START, "best_of_3")
    parent = builder.compile()

    state = parent.invoke({"messages": [HumanMessage(content=QUESTION)]}, {"configurable": {"principle": "config"}})

    assert [type(m) for m in state["messages"]] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert state["messages"][-1].content == "It is 18 °C and sunny in Paris."
    assert len(backend.calls) == 1 and sent(backend)["principle"] == "config"


async def test_best_of_n_agents_says_what_is_missing() -> None:
    judge, backend = scripted()
    graph = best_of_n_agents(fake_agent(), judge, n=2)
    with pytest.raises(UsageError, match=r"config\['configurable'\]\['principle'\]"):
        await graph.ainvoke({"messages": [HumanMessage(content=QUESTION)]})
    assert backend.calls == []


# ---------------------------------------------------------------- real path


@pytest.mark.vllm
async def test_the_served_model_ranks_the_recorded_runs(vllm_server: Any) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base, max_tokens=160)
    outcome: JudgeResult | VerdictError | BackendError
    try:
        outcome = await arank_trajectories(judge, PRINCIPLE, None, RUNS)
    except (VerdictError, BackendError) as exc:  # a typed failure is an acceptable outcome for a tiny model
        outcome = exc
    if not isinstance(outcome, JudgeResult):
        assert str(outcome)  # says what went wrong
        return
    result = outcome
    assert isinstance(result, JudgeResult)
    assert sorted(result.ranking) == sorted(RUNS) and result.best == result.ranking[0]
    assert all(1 <= s <= 5 for s in result.scores.values())
    assert set(trajectory_rewards(result)) == set(RUNS) and all(
        0 <= r <= 1 for r in trajectory_rewards(result).values()
    )
    assert result.model


@pytest.mark.vllm
def test_the_served_model_through_the_evaluator(vllm_server: Any) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base, max_tokens=120)
    feedback = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)(
        outputs=LOOPING, reference_outputs=CORRECT
    )
    assert feedback["key"] == "trajectory_principle"
    if feedback.get("extra") == {"error": True}:  # a typed judge error, recorded as failing feedback
        assert feedback["score"] == 0.0
        assert feedback["comment"].split(":")[0] in {"VerdictError", "BackendError", "ContextLengthError"}
    else:
        assert 0.0 <= feedback["score"] <= 1.0
        assert isinstance(feedback["metadata"]["beats_reference"], bool)
