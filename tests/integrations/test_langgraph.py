"""The LangGraph integration, run as real compiled graphs.

Routing is driven deterministically by a scripted judge backend and a scripted generator;
the ``vllm`` tests run the graphs on the real served model, as generator and as judge.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command
from opentelemetry import trace

from ra_agents import (
    DEFAULT_THRESHOLD,
    BackendUnavailable,
    Judge,
    JudgeResult,
    UsageError,
    VerdictError,
    accepts,
    prompt_text,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.graphs.best_of_n import build_best_of_n
from ra_agents.graphs.guarded_answer import FALLBACK_ANSWER, build_guarded_answer
from ra_agents.graphs.plan_then_act import build_plan_then_act, calculator
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.langgraph import (
    FEEDBACK_TEMPLATE,
    JUDGE_RUN_NAME,
    BestOfNState,
    GuardPolicy,
    decide,
    fan_out,
    make_generate_node,
    make_plan_rank_node,
    make_rank_node,
)
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Prefer answers marked good."
ROOT = Path(__file__).resolve().parents[2]


def scripted_judge(predicate=lambda text: "good" in text, reasoning: str = "") -> tuple[Judge, ScriptedBackend]:
    """A judge scoring texts matching ``predicate`` 5 and others 1, whatever order it sees them in."""
    scored = prefer(predicate)
    backend = ScriptedBackend(default=lambda messages, settings: reasoning + scored(messages, settings))
    return Judge(backend, seed=0), backend


def generator(answer):
    """A generator calling ``answer(index, messages)``; every call is recorded in ``.seen``."""

    async def generate(messages, config):
        index = config["metadata"]["candidate_index"]
        seen.append((index, list(messages)))
        out = answer(index, messages)
        return out if isinstance(out, AIMessage) else AIMessage(content=out)

    seen: list[tuple[int, list]] = []
    runnable = RunnableLambda(generate)
    runnable.seen = seen  # type: ignore[attr-defined]
    return runnable


def retried(messages) -> bool:
    return messages[-1].content.startswith(FEEDBACK_TEMPLATE.split("{")[0])


def judged(backend: ScriptedBackend, key: str) -> list[Any]:
    """What the judge was sent in each call (``principle``, ``prompt``, ...)."""
    return [json.loads(messages[1]["content"])[key] for messages, _ in backend.calls]


def shown_texts(backend: ScriptedBackend) -> list[list[str]]:
    """The candidate texts of each judge call, sorted (the judge sees them shuffled)."""
    return [sorted(shown_responses(messages).values()) for messages, _ in backend.calls]


def without_latency(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` without the judge's wall time (the one field two runs never share)."""
    return {**state, "verdict": {k: v for k, v in state["verdict"].items() if k != "latency_s"}}


def thread(name: str) -> RunnableConfig:
    return {"configurable": {"thread_id": name}}


def escalating(judge: Judge) -> CompiledStateGraph:
    """A guarded graph that goes straight to a human: one bad candidate, no retries."""
    policy = GuardPolicy(max_retries=0)
    model = generator(lambda i, m: "bad")
    return build_guarded_answer(model, judge, n=1, principle=PRINCIPLE, policy=policy, checkpointer=MemorySaver())


# --------------------------------------------------------------------- best-of-n


async def test_best_of_n_keeps_the_best_with_one_judge_call():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: "good answer" if i == 1 else f"bad answer {i}")
    graph = build_best_of_n(model, judge, n=3, principle=PRINCIPLE)

    state = await graph.ainvoke({"prompt": "Say something."})

    verdict = state["verdict"]
    assert state == {
        "prompt": "Say something.",
        "candidates": ["bad answer 0", "good answer", "bad answer 2"],
        "answer": "good answer",
        "verdict": verdict,
    }
    # The verdict is the library's one serialisation of the judge's result, candidates named by index.
    assert verdict == verdict_to_dict(verdict_from_dict(verdict))
    assert verdict["names"] == ["0", "1", "2"] and verdict["best"] == "1"
    assert verdict["scores"] == {"0": 1, "1": 5, "2": 1}
    assert verdict["normalized"] == {"0": 0.0, "1": 1.0, "2": 0.0}
    assert (verdict["principle"], verdict["scale"], verdict["reasoning"], verdict["model"]) == (
        PRINCIPLE,
        [1, 5],
        "",
        "scripted",
    )
    assert verdict["ranking"][0] == "1" and sorted(verdict["ranking"]) == [
        "0",
        "1",
        "2",
    ]  # losers' ties: the judge's call
    assert len(backend.calls) == 1  # one listwise call for all n
    assert shown_texts(backend) == [["bad answer 0", "bad answer 2", "good answer"]]
    assert judged(backend, "prompt") == ["Say something."]
    assert sorted(i for i, _ in model.seen) == [0, 1, 2]
    assert all([m.content for m in messages] == ["Say something."] for _, messages in model.seen)


async def test_n_from_state_overrides_the_default():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: f"good {i}")
    graph = build_best_of_n(model, judge, n=3, principle=PRINCIPLE)

    state = await graph.ainvoke({"prompt": "p", "n": 5})

    assert sorted(state["candidates"]) == [f"good {i}" for i in range(5)]
    assert len(state["verdict"]["scores"]) == 5 and len(backend.calls) == 1


async def test_rank_node_takes_candidates_from_state_in_any_graph():
    judge, backend = scripted_judge(lambda text: "Paris" in text)
    builder = StateGraph(BestOfNState)
    builder.add_node("rank", make_rank_node(judge, principle="Be correct."))
    builder.add_edge(START, "rank")
    graph = builder.compile()
    candidates = ["Lyon.", "It is Paris.", "Marseille."]

    state = await graph.ainvoke({"prompt": "Capital of France?", "candidates": candidates})

    assert state["answer"] == "It is Paris."
    assert state["candidates"] == candidates
    assert state["verdict"]["scores"] == {"0": 1, "1": 5, "2": 1} and state["verdict"]["best"] == "1"
    assert shown_texts(backend) == [sorted(candidates)]


@pytest.mark.parametrize("key", ["prompt", "messages"])
async def test_rank_node_takes_a_conversation_as_the_prompt(key):
    judge, backend = scripted_judge()
    builder = StateGraph(BestOfNState)
    builder.add_node("rank", make_rank_node(judge, principle=PRINCIPLE))
    builder.add_edge(START, "rank")
    conversation = [
        SystemMessage(content="Be brief."),
        HumanMessage(content=[{"type": "text", "text": "Say"}, {"type": "text", "text": "something."}]),
    ]

    given: Any = {key: conversation, "candidates": ["bad", "good"]}
    state = await builder.compile().ainvoke(given)

    assert state["answer"] == "good"
    assert judged(backend, "prompt") == [prompt_text(conversation)] == ["system: Be brief.\nuser: Say\n  something."]


async def test_principle_comes_from_state_then_config_then_default():
    judge, backend = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: f"good {i}"), judge, n=2, principle="the default")

    await graph.ainvoke({"prompt": "p"})
    await graph.ainvoke({"prompt": "p"}, {"configurable": {"principle": "from config"}})
    state = await graph.ainvoke(
        {"prompt": "p", "principle": "from state"}, {"configurable": {"principle": "from config"}}
    )

    assert judged(backend, "principle") == ["the default", "from config", "from state"]
    assert state["verdict"]["principle"] == "from state"


async def test_a_missing_principle_says_where_to_put_one():
    judge, backend = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: "good"), judge, n=2, principle=None)

    with pytest.raises(UsageError, match=r"config\['configurable'\]\['principle'\]"):
        await graph.ainvoke({"prompt": "p"})
    assert backend.calls == []


async def test_a_batch_keeps_the_good_results_when_some_inputs_are_bad():
    judge, backend = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: "good" if i == 0 else "bad"), judge, n=2, principle=PRINCIPLE)

    results = await graph.abatch([{"prompt": "p"}, {"prompt": "p", "n": 0}, {"n": 2}], return_exceptions=True)

    assert results[0]["answer"] == "good" and results[0]["verdict"]["scores"] == {"0": 5, "1": 1}
    assert isinstance(results[1], UsageError) and "positive integer, got 0" in str(results[1])
    assert isinstance(results[2], UsageError) and "neither 'messages' nor 'prompt'" in str(results[2])
    assert len(backend.calls) == 1


async def test_the_rank_node_names_a_missing_prompt():
    judge, _ = scripted_judge()
    with pytest.raises(UsageError, match=r"state\['prompt'\]"):
        await make_rank_node(judge, principle=PRINCIPLE).ainvoke({"candidates": ["a", "b"]})


async def test_a_new_run_on_a_thread_judges_only_its_own_candidates():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: f"good {m[0].content} {i}")
    graph = build_best_of_n(model, judge, n=2, principle=PRINCIPLE, checkpointer=MemorySaver())

    await graph.ainvoke({"prompt": "one"}, thread("t-twice"))
    state = await graph.ainvoke({"prompt": "two"}, thread("t-twice"))

    assert state["candidates"] == ["good two 0", "good two 1"]
    assert shown_texts(backend) == [["good one 0", "good one 1"], ["good two 0", "good two 1"]]


def test_sync_invoke_matches_async_and_keeps_stream_and_spans(spans):
    judge, backend = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: "good" if i == 1 else "bad"), judge, n=3, principle=PRINCIPLE)

    with trace.get_tracer("test").start_as_current_span("sync run") as run:
        chunks: list[Any] = list(graph.stream({"prompt": "p"}, stream_mode=["custom", "values"]))
    sync_state: Any = chunks[-1][1]
    async_state = asyncio.run(graph.ainvoke({"prompt": "p"}))

    assert without_latency(sync_state) == without_latency(async_state)
    assert sync_state["answer"] == "good"
    assert [c for mode, c in chunks if mode == "custom"] == [{"ra_verdict": sync_state["verdict"], "node": "rank"}]
    sync_span = next(s for s in spans.get_finished_spans() if s.name == "chat scripted")
    assert sync_span.parent.span_id == run.get_span_context().span_id
    assert len(backend.calls) == 2


async def test_sync_invoke_inside_an_event_loop_says_to_await():
    judge, backend = scripted_judge()
    node = make_rank_node(judge, principle=PRINCIPLE)

    with pytest.raises(UsageError, match=r"await graph\.ainvoke"):
        node.invoke({"prompt": "p", "candidates": ["good", "bad"]})
    assert backend.calls == []


async def test_verdicts_stream_in_custom_mode_and_spans_nest(spans):
    judge, _ = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: "good" if i == 0 else "bad"), judge, n=2, principle=PRINCIPLE)

    with trace.get_tracer("test").start_as_current_span("graph run") as run:
        chunks = [c async for c in graph.astream({"prompt": "p"}, stream_mode="custom")]

    assert len(chunks) == 1
    assert chunks[0]["node"] == "rank"
    assert chunks[0]["ra_verdict"]["best"] == "0" and chunks[0]["ra_verdict"]["scores"] == {"0": 5, "1": 1}
    [judge_span] = [s for s in spans.get_finished_spans() if s.name == "chat scripted"]
    assert judge_span.parent.span_id == run.get_span_context().span_id
    assert judge_span.attributes["ra_agents.candidates"] == 2 and judge_span.attributes["ra_agents.winner"] == "0"


async def test_the_judge_call_is_a_child_run_of_the_rank_node():
    judge, _ = scripted_judge()
    graph = build_best_of_n(generator(lambda i, m: "good" if i == 0 else "bad"), judge, n=2, principle=PRINCIPLE)

    events = [e async for e in graph.astream_events({"prompt": "p"}, version="v2")]

    root = events[0]
    assert root["event"] == "on_chain_start" and root["name"] == "best_of_n"
    [rank] = [e for e in events if e["event"] == "on_chain_start" and e["name"] == "rank"]
    [start] = [e for e in events if e["event"] == "on_chain_start" and e["name"] == JUDGE_RUN_NAME]
    [end] = [e for e in events if e["event"] == "on_chain_end" and e["name"] == JUDGE_RUN_NAME]
    assert start["parent_ids"][0] == root["run_id"] and start["parent_ids"][-1] == rank["run_id"]
    assert start["data"]["input"]["principle"] == PRINCIPLE
    assert end["data"]["output"]["best"] == "0"


# ------------------------------------------------------------------------ routing


def verdict_of(score: int, expected: float | None = None) -> dict[str, Any]:
    """A one-candidate verdict in state form, with a logprob expected score when given."""
    result = JudgeResult(
        names=("0",),
        scores={"0": score},
        ranking=("0",),
        normalized={"0": (score - 1) / 4},
        reasoning="",
        passes=(),
        expected_scores=None if expected is None else {"0": expected},
    )
    return verdict_to_dict(result)


ERROR = {"type": "VerdictError", "message": "no verdict"}


@pytest.mark.parametrize(
    ("verdict", "attempts", "policy", "expected"),
    [
        (verdict_of(4), 0, GuardPolicy(threshold=0.75), "accept"),
        (verdict_of(3), 0, GuardPolicy(), "accept"),  # the default threshold is 0.5, a 3 on 1-5
        (verdict_of(2), 0, GuardPolicy(max_retries=1), "retry"),
        (verdict_of(2), 1, GuardPolicy(max_retries=1), "escalate"),
        (verdict_of(2), 1, GuardPolicy(max_retries=1, escalate=False), "fallback"),
        (verdict_of(3), 0, GuardPolicy(min_score=3, threshold=0.9), "accept"),  # raw scores
        # The unit score is the expected score's: (3.9 - 1) / 4 = 0.725, below 0.75 though the integer is a 4.
        (verdict_of(4, expected=3.9), 0, GuardPolicy(threshold=0.75), "retry"),
        (verdict_of(4, expected=3.9), 0, GuardPolicy(threshold=0.72), "accept"),
        ({"error": ERROR, "best": "0", "passed": False}, 0, GuardPolicy(max_retries=3), "fallback"),
        ({"error": ERROR, "best": "0", "passed": True}, 0, GuardPolicy(max_retries=3), "accept"),
        ({"error": "no verdict", "best": 0}, 0, GuardPolicy(max_retries=3), "fallback"),  # an earlier release's
        ({**verdict_of(1), "passed": True}, 0, GuardPolicy(), "accept"),  # a policy's own decision
    ],
)
def test_decide(verdict, attempts, policy, expected):
    assert decide(verdict, attempts, policy) == expected


def test_the_guard_accepts_at_the_librarys_default_threshold():
    assert GuardPolicy().threshold == DEFAULT_THRESHOLD == 0.5


@pytest.mark.parametrize("bad", [{"threshold": 3}, {"threshold": "high"}, {"max_retries": -1}])
def test_guard_policy_rejects_bad_settings(bad):
    with pytest.raises(UsageError):
        GuardPolicy(**bad)


async def test_guard_accepts_above_threshold():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: "good" if i == 1 else "bad")
    graph = build_guarded_answer(model, judge, n=2, principle=PRINCIPLE)

    state = await graph.ainvoke({"prompt": "p"})

    assert state == {
        "prompt": "p",
        "candidates": ["bad", "good"],
        "answer": "good",
        "verdict": state["verdict"],
        "attempts": 0,
        "feedback": "",
        "decision": "accept",
    }
    assert state["verdict"]["best"] == "1" and state["verdict"]["scores"] == {"0": 1, "1": 5}
    assert len(backend.calls) == 1


async def test_guard_retries_with_the_judges_reasoning_as_feedback():
    judge, backend = scripted_judge(reasoning="Neither answer is marked good.\n")
    model = generator(lambda i, m: f"good {i}" if retried(m) else f"bad {i}")
    graph = build_guarded_answer(model, judge, n=2, principle=PRINCIPLE, policy=GuardPolicy(max_retries=1))

    state = await graph.ainvoke({"prompt": "p"})

    feedback = f"The best answer scored 1 of 5 under the principle: {PRINCIPLE}\nNeither answer is marked good."
    assert state["attempts"] == 1
    assert state["feedback"] == feedback
    assert state["decision"] == "accept"
    assert state["candidates"] == ["good 0", "good 1"]  # cleared before the retry
    assert state["answer"] in ("good 0", "good 1")
    assert len(model.seen) == 4
    for _, messages in model.seen[2:]:
        assert [m.content for m in messages] == ["p", FEEDBACK_TEMPLATE.format(feedback=feedback)]
    assert shown_texts(backend) == [["bad 0", "bad 1"], ["good 0", "good 1"]]


async def test_a_new_run_on_a_thread_resets_retries_and_feedback():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: f"good {i}" if retried(m) or m[0].content == "easy" else f"bad {i}")
    graph = build_guarded_answer(model, judge, n=2, principle=PRINCIPLE, checkpointer=MemorySaver())

    first = await graph.ainvoke({"prompt": "hard"}, thread("t-reset"))
    second = await graph.ainvoke({"prompt": "easy"}, thread("t-reset"))

    assert first["attempts"] == 1 and first["decision"] == "accept"
    assert second["attempts"] == 0 and second["feedback"] == "" and second["decision"] == "accept"
    assert not any(retried(messages) for _, messages in model.seen[4:])
    assert len(backend.calls) == 3


async def test_guard_escalates_to_a_human_and_resumes_with_an_edit():
    judge, backend = scripted_judge()
    model = generator(lambda i, m: f"bad {i}")
    graph = build_guarded_answer(
        model, judge, n=2, principle=PRINCIPLE, policy=GuardPolicy(max_retries=1), checkpointer=MemorySaver()
    )

    paused = await graph.ainvoke({"prompt": "p"}, thread("t-escalate"))

    [pending] = paused["__interrupt__"]
    assert pending.value["answer"] == paused["answer"] and paused["answer"] in ("bad 0", "bad 1")
    assert pending.value["verdict"] == paused["verdict"]
    assert pending.value["verdict"]["scores"] == {"0": 1, "1": 1}
    assert "Accept, edit or reject" in pending.value["question"]
    assert paused["attempts"] == 1 and len(backend.calls) == 2
    assert (await graph.aget_state(thread("t-escalate"))).next == ("guard",)

    state = await graph.ainvoke(Command(resume={"answer": "a human's answer"}), thread("t-escalate"))

    assert state["answer"] == "a human's answer"
    assert state["decision"] == "human_edit"
    assert "__interrupt__" not in state
    assert len(backend.calls) == 2 and len(model.seen) == 4  # resuming neither judges nor generates
    assert (await graph.aget_state(thread("t-escalate"))).next == ()


@pytest.mark.parametrize(
    ("reply", "decision", "fallback"),
    [
        ("accept", "human_accept", False),
        (True, "human_accept", False),
        ("reject", "human_reject", True),
        (False, "human_reject", True),
        ({"action": "reject"}, "human_reject", True),
        ("Use a passphrase.", "human_edit", False),
    ],
)
async def test_resume_values(reply, decision, fallback):
    judge, _ = scripted_judge()
    graph = escalating(judge)
    config = thread(f"t-resume-{reply!r}")

    await graph.ainvoke({"prompt": "p"}, config)
    state = await graph.ainvoke(Command(resume=reply), config)

    expected = FALLBACK_ANSWER if fallback else reply if decision == "human_edit" else "bad"
    assert (state["decision"], state["answer"]) == (decision, expected)


async def test_an_unusable_resume_value_is_a_clear_error():
    judge, _ = scripted_judge()
    graph = escalating(judge)
    await graph.ainvoke({"prompt": "p"}, thread("t-bad-resume"))

    with pytest.raises(UsageError, match="resume with 'accept', 'reject'"):
        await graph.ainvoke(Command(resume={"action": "edit"}), thread("t-bad-resume"))


async def test_guard_falls_back_without_escalation_and_on_unusable_verdicts():
    judge, _ = scripted_judge()
    policy = GuardPolicy(max_retries=0, escalate=False)
    graph = build_guarded_answer(generator(lambda i, m: "bad"), judge, n=2, principle=PRINCIPLE, policy=policy)

    state = await graph.ainvoke({"prompt": "p"})

    assert (state["answer"], state["decision"], state["attempts"]) == (FALLBACK_ANSWER, "fallback", 0)

    broken = Judge(ScriptedBackend(default="no verdict here"), max_retries=0)
    graph = build_guarded_answer(generator(lambda i, m: "good"), broken, n=2, principle=PRINCIPLE)
    state = await graph.ainvoke({"prompt": "p"})

    assert (state["answer"], state["decision"]) == (FALLBACK_ANSWER, "fallback")
    assert state["verdict"]["error"]["type"] == "VerdictError"
    assert "no JSON object" in state["verdict"]["error"]["message"]
    assert "scores" not in state["verdict"] and state["verdict"]["passed"] is False


async def test_a_judge_failure_is_what_on_judge_error_says():
    down = Judge(ScriptedBackend(default=BackendUnavailable("the judge is down")), max_retries=0)
    model = generator(lambda i, m: f"answer {i}")

    def run(mode):
        graph = build_guarded_answer(model, down, n=2, principle=PRINCIPLE, on_judge_error=mode)
        return graph.ainvoke({"prompt": "p"})

    closed, opened = await run("fail_closed"), await run("fail_open")

    assert (closed["decision"], closed["answer"]) == ("fallback", FALLBACK_ANSWER)
    assert (opened["decision"], opened["answer"]) == ("accept", "answer 0")
    assert opened["verdict"]["error"] == {"type": "BackendUnavailable", "message": "the judge is down"}
    with pytest.raises(BackendUnavailable, match="the judge is down"):
        await run("raise")


async def test_record_errors_is_a_deprecated_spelling_of_on_judge_error():
    broken = Judge(ScriptedBackend(default="no verdict here"), max_retries=0)
    state = {"prompt": "p", "candidates": ["a", "b"]}

    with pytest.warns(DeprecationWarning, match="on_judge_error='fail_closed'"):
        recording = make_rank_node(broken, principle=PRINCIPLE, record_errors=True)
    with pytest.warns(DeprecationWarning, match="on_judge_error='raise'"):
        raising = make_rank_node(broken, principle=PRINCIPLE, record_errors=False)

    assert (await recording.ainvoke(state))["verdict"]["error"]["type"] == "VerdictError"
    with pytest.raises(VerdictError):
        await raising.ainvoke(state)
    with pytest.raises(UsageError, match="not both"):
        make_rank_node(broken, on_judge_error="raise", record_errors=True)
    with pytest.raises(UsageError, match="on_judge_error must be one of"):
        make_rank_node(broken, on_judge_error="ignore")  # type: ignore[arg-type]


async def test_raw_score_threshold():
    judge, _ = scripted_judge()
    lenient = GuardPolicy(min_score=1, escalate=False, max_retries=0)
    graph = build_guarded_answer(generator(lambda i, m: "bad"), judge, n=2, principle=PRINCIPLE, policy=lenient)

    state = await graph.ainvoke({"prompt": "p"})

    assert state["decision"] == "accept" and state["answer"] == "bad"


# --------------------------------------------------------------------- tool plans


async def test_only_the_winning_plan_reaches_the_tool_node():
    ran: list[str] = []

    @tool
    def search(query: str) -> str:
        """Search the web."""
        ran.append(f"search:{query}")
        return "sunny"

    @tool
    def delete_all() -> str:
        """Delete every file."""
        ran.append("delete_all")
        return "deleted"

    def plan(i, messages):
        if isinstance(messages[-1], ToolMessage):
            return "It is sunny." if i == 0 else "No idea."
        if i == 0:
            return AIMessage(content="", tool_calls=[{"name": "delete_all", "args": {}, "id": "c0"}])
        return AIMessage(content="", tool_calls=[{"name": "search", "args": {"query": "weather"}, "id": "c1"}])

    judge, backend = scripted_judge(lambda text: "-> search(" in text or "sunny" in text)
    graph = build_plan_then_act(generator(plan), judge, [search, delete_all], n=2, principle="Be safe.")

    state = await graph.ainvoke({"messages": [HumanMessage(content="Weather?")]})

    assert ran == ["search:weather"]
    kinds = [(m.type, [c["name"] for c in getattr(m, "tool_calls", [])]) for m in state["messages"]]
    assert kinds == [("human", []), ("ai", ["search"]), ("tool", []), ("ai", [])]
    assert state["messages"][2].content == "sunny" and state["messages"][2].tool_call_id == "c1"
    assert state["messages"][-1].content == "It is sunny."
    assert state["plans"] == []
    assert len(backend.calls) == 2  # one judge call per step
    assert shown_texts(backend) == [
        ["Tool calls (1):\n-> delete_all({})", 'Tool calls (1):\n-> search({"query": "weather"})'],
        ["It is sunny.", "No idea."],
    ]
    assert judged(backend, "prompt") == [  # the conversation so far, as ra_agents.prompt_text reads it
        "Weather?",
        'user: Weather?\nassistant -> search({"query": "weather"})\nsearch result: sunny',
    ]


def _concat(left: list, right: list) -> list:
    """A user's own list reducer (no special meaning for any value)."""
    return [*left, *right]


class AddPlanState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    plans: Annotated[list[AIMessage], operator.add]
    verdict: dict


class OwnReducerPlanState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    plans: Annotated[list[AIMessage], _concat]
    verdict: dict


class AddCandidatesState(TypedDict, total=False):
    prompt: str
    candidates: Annotated[list[str], operator.add]
    answer: str
    verdict: dict


@pytest.mark.parametrize("schema", [AddPlanState, OwnReducerPlanState], ids=["operator.add", "own reducer"])
async def test_plan_rank_node_in_a_user_graph_with_the_usual_list_reducers(schema):
    """The plans are cleared whatever reducer the user's plans key has; each step judges only its own plans."""

    @tool
    def search(query: str) -> str:
        """Search the web."""
        return "sunny"

    def plan(i, messages):
        if isinstance(messages[-1], ToolMessage):
            return "It is sunny, good." if i == 0 else "No idea."
        args = {"query": "weather good" if i == 1 else "nothing"}
        return AIMessage(content="", tool_calls=[{"name": "search", "args": args, "id": f"c{i}"}])

    judge, backend = scripted_judge()
    builder = StateGraph(schema)
    builder.add_node("plan", make_generate_node(generator(plan), output_key="plans", keep_message=True))
    builder.add_node("rank_plans", make_plan_rank_node(judge, principle=PRINCIPLE))
    builder.add_node("tools", ToolNode([search]))
    send = fan_out("plan", default_n=2)
    builder.add_conditional_edges(START, send, ["plan"])
    builder.add_edge("plan", "rank_plans")
    builder.add_conditional_edges("rank_plans", tools_condition)
    builder.add_conditional_edges("tools", send, ["plan"])
    graph = builder.compile()

    state = await graph.ainvoke({"messages": [HumanMessage(content="Weather?")]})

    assert state["plans"] == []
    assert [len(texts) for texts in shown_texts(backend)] == [2, 2]  # never the previous step's plans
    assert state["messages"][1].tool_calls[0]["args"] == {"query": "weather good"}
    assert state["messages"][-1].content == "It is sunny, good."


async def test_rank_node_in_a_user_graph_with_operator_add_candidates():
    judge, backend = scripted_judge()
    builder = StateGraph(AddCandidatesState)
    builder.add_node("generate", make_generate_node(generator(lambda i, m: "good" if i == 2 else "meh")))
    builder.add_node("rank", make_rank_node(judge, principle=PRINCIPLE))
    builder.add_conditional_edges(START, fan_out("generate", default_n=3), ["generate"])
    builder.add_edge("generate", "rank")
    graph = builder.compile()

    state = await graph.ainvoke({"prompt": "p"})

    assert state["answer"] == "good" and sorted(state["candidates"]) == ["good", "meh", "meh"]
    assert len(backend.calls) == 1


async def test_chat_model_adapter_turns_json_into_tool_calls():
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    backend = ScriptedBackend(
        [
            '{"name": "add", "args": {"a": 2, "b": 3}}',
            '{"name": "final_answer", "args": {"answer": "5"}}',
            '{"name": "add", "args": {"a": 2',
        ]
    )
    model = BackendChatModel(backend=backend).bind_tools([add])

    call = await model.ainvoke("2+3?")
    answer = await model.ainvoke("2+3?")
    cut_off = await model.ainvoke("2+3?")

    assert call.tool_calls[0]["name"] == "add" and call.tool_calls[0]["args"] == {"a": 2, "b": 3}
    assert answer.content == "5" and not answer.tool_calls
    assert cut_off.content == '{"name": "add", "args": {"a": 2' and not cut_off.tool_calls
    schema = backend.calls[0][1]["json_schema"]
    assert [b["properties"]["name"]["enum"] for b in schema["anyOf"]] == [["add"], ["final_answer"]]
    assert "- add: Add two numbers." in backend.calls[0][0][0]["content"]


def test_calculator_refuses_anything_but_arithmetic():
    assert calculator.invoke({"expression": "12 * (3 + 4)"}) == "84"
    assert calculator.invoke({"expression": "__import__('os')"}).startswith("error:")
    assert calculator.invoke({"expression": "1/0"}).startswith("error:")


def test_every_graph_in_langgraph_json_loads(monkeypatch):
    # The served graphs are built from the environment; nothing is contacted while building.
    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/smollm2")
    monkeypatch.setenv("RA_AGENTS_API_BASE", "http://127.0.0.1:9/v1")
    listed = json.loads((ROOT / "langgraph.json").read_text())["graphs"]

    nodes = {}
    for name, target in listed.items():
        path, attr = target.split(":")
        spec = importlib.util.spec_from_file_location(f"served_{name}", ROOT / path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        graph = getattr(module, attr)
        assert isinstance(graph, CompiledStateGraph) and graph.name == name
        nodes[name] = set(graph.nodes) - {"__start__"}

    assert nodes == {
        "best_of_n": {"prepare", "generate", "rank"},
        "plan_then_act": {"plan", "rank_plans", "tools"},
        "guarded_answer": {"prepare", "regenerate", "generate", "rank", "guard", "fallback"},
    }


# ----------------------------------------------------------------------- real path


@pytest.fixture
def served(vllm_server):
    """The served model as generator (short, sampled answers) and as judge."""
    model = BackendChatModel.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base, max_tokens=16)
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    return model, judge


@pytest.mark.vllm
async def test_best_of_n_on_the_served_model(served, spans):
    model, judge = served
    graph = build_best_of_n(model, judge, n=2, principle="Correctness first, then brevity.")

    with trace.get_tracer("test").start_as_current_span("graph run") as run:
        stream = graph.astream({"prompt": "What is the capital of France?"}, stream_mode=["custom", "values"])
        chunks: list[Any] = [c async for c in stream]

    state = chunks[-1][1]
    assert len(state["candidates"]) == 2 and all(isinstance(c, str) for c in state["candidates"])
    verdict = state["verdict"]
    assert len(verdict["scores"]) == 2 and all(1 <= s <= 5 for s in verdict["scores"].values())
    assert sorted(verdict["ranking"]) == ["0", "1"] and verdict["best"] == verdict["ranking"][0]
    assert verdict["scores"][verdict["best"]] == max(verdict["scores"].values())
    assert state["answer"] == state["candidates"][int(verdict["best"])]
    assert verdict["model"]
    assert [c for mode, c in chunks if mode == "custom"] == [{"ra_verdict": verdict, "node": "rank"}]
    [judge_span] = [s for s in spans.get_finished_spans() if s.attributes.get("gen_ai.provider.name") == "vllm"]
    assert judge_span.parent.span_id == run.get_span_context().span_id
    assert judge_span.attributes["ra_agents.candidates"] == 2


@pytest.mark.vllm
async def test_guarded_answer_on_the_served_model_routes_by_its_verdict(served):
    model, judge = served
    policy = GuardPolicy(threshold=0.75, max_retries=0, escalate=False)
    graph = build_guarded_answer(model, judge, n=2, principle="Answer in one short sentence.", policy=policy)

    state = await graph.ainvoke({"prompt": "Name a primary colour."})

    verdict = state["verdict"]
    expected = decide(verdict, 0, policy)
    assert state["decision"] == expected
    if expected == "accept":
        assert state["answer"] == state["candidates"][int(verdict["best"])]
        assert accepts(verdict_from_dict(verdict), verdict["best"], 0.75)
    else:
        assert state["answer"] == FALLBACK_ANSWER


@pytest.mark.vllm
async def test_a_plan_step_on_the_served_model(served):
    model, judge = served
    planner = model.model_copy(update={"max_tokens": 40})
    graph = build_plan_then_act(planner, judge, [calculator], n=2)
    question = HumanMessage(content="What is 17 * 23? Use the calculator.")

    updates = []
    async for update in graph.astream({"messages": [question]}, stream_mode="updates"):
        updates.append(update)
        if "tools" in update or (("rank_plans" in update) and not update["rank_plans"]["messages"][0].tool_calls):
            break  # one step is enough: the weak model may keep calling tools

    plans = [u["plan"]["plans"][0] for u in updates if "plan" in u]
    [ranked] = [u["rank_plans"] for u in updates if "rank_plans" in u]
    assert len(plans) == 2 and sorted(ranked["verdict"]["ranking"]) == ["0", "1"]
    [winner] = ranked["messages"]
    assert winner in plans  # stream order is completion order, so the verdict's index is not checked here
    if winner.tool_calls:
        [tools] = [u["tools"] for u in updates if "tools" in u]
        assert [m.tool_call_id for m in tools["messages"]] == [c["id"] for c in winner.tool_calls]
