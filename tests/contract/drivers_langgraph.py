"""Contract drivers for the LangGraph nodes, each run inside a real compiled ``StateGraph``.

The conversation reaches every graph as LangGraph holds it: LangChain messages in the
state's ``messages``. The guard and the policy node decide by where the graph routed.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from ra_agents import Judging, OnJudgeError, Policy, Rule
from ra_agents.graphs.guarded_answer import build_guarded_answer
from ra_agents.integrations.langgraph import (
    BestOfNState,
    GuardPolicy,
    PlanState,
    best_of_n_agents,
    make_guard_node,
    make_plan_rank_node,
    make_policy_node,
    make_rank_node,
)
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver


def _conversation() -> list[BaseMessage]:
    return convert_to_messages(CONVERSATION)


def _summary(verdict: dict[str, Any]) -> dict[str, Any]:
    """What two judges on one backend must agree on (not the latency nor the model's name)."""
    return {k: verdict[k] for k in ("names", "scores", "ranking", "best", "normalized", "principle", "scale")}


def _single(node: Any, schema: type[Any]) -> CompiledStateGraph:
    builder = StateGraph(schema)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    return builder.compile()


# ------------------------------------------------------------------- rank node


async def _rank(judge: Judging) -> dict[str, Any]:
    graph = _single(make_rank_node(judge, principle=PRINCIPLE), BestOfNState)
    return await graph.ainvoke({"messages": _conversation(), "candidates": [GOOD, BAD]})


async def _rank_prompt(judge: Judging) -> None:
    await _rank(judge)


async def _rank_remote(judge: Judging) -> Any:
    state = await _rank(judge)
    return {"answer": state["answer"], "verdict": _summary(state["verdict"])}


# -------------------------------------------------------------- plan rank node


async def _plan_rank(judge: Judging, plans: list[AIMessage]) -> dict[str, Any]:
    graph = _single(make_plan_rank_node(judge, principle=PRINCIPLE), PlanState)
    return await graph.ainvoke({"messages": _conversation(), "plans": plans})


async def _plan_rank_prompt(judge: Judging) -> None:
    await _plan_rank(judge, [AIMessage(content=GOOD), AIMessage(content=BAD)])


async def _plan_rank_remote(judge: Judging) -> Any:
    call = {"name": "answer", "args": {"text": GOOD}, "id": "c0"}
    state = await _plan_rank(judge, [AIMessage(content=GOOD, tool_calls=[call]), AIMessage(content=BAD)])
    winner = state["messages"][-1]
    return {
        "winner": [winner.content, winner.tool_calls],
        "plans": state["plans"],
        "verdict": _summary(state["verdict"]),
    }


# ----------------------------------------------------------------------- guard


def _generator(answer: Any) -> RunnableLambda:
    """A generator answering ``answer(candidate index, messages)``."""

    def generate(messages: list[AnyMessage], config: RunnableConfig) -> AIMessage:
        return AIMessage(content=answer(config["metadata"]["candidate_index"], messages))

    return RunnableLambda(generate)


def _retried(messages: list[AnyMessage]) -> bool:
    return "reviewer rejected" in str(messages[-1].content)


async def _guard_prompt(judge: Judging) -> None:
    model = _generator(lambda i, m: GOOD if i == 0 else BAD)
    graph = build_guarded_answer(model, judge, n=2, principle=PRINCIPLE, policy=GuardPolicy(escalate=False))
    await graph.ainvoke({"messages": _conversation()})


async def _guard_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    policy = GuardPolicy(threshold=threshold, max_retries=0, escalate=False)
    mode: OnJudgeError = on_judge_error  # type: ignore[assignment]
    graph = build_guarded_answer(
        _generator(lambda i, m: GOOD), judge, n=1, principle=PRINCIPLE, policy=policy, on_judge_error=mode
    )
    state = await graph.ainvoke({"messages": _conversation()})
    return bool(state["decision"] == "accept")


async def _guard_remote(judge: Judging) -> Any:
    """One rejection (feedback and a retry), then an acceptance."""
    model = _generator(lambda i, m: GOOD if _retried(m) and i == 0 else BAD)
    graph = build_guarded_answer(model, judge, n=2, principle=PRINCIPLE, policy=GuardPolicy(escalate=False))
    state = await graph.ainvoke({"messages": _conversation()})
    return {k: state[k] for k in ("decision", "answer", "attempts", "feedback", "candidates")}


# ----------------------------------------------------------------- policy node


class _PolicyState(TypedDict, total=False):
    messages: list[AnyMessage]
    answer: str
    verdict: dict[str, Any]
    decision: str


def _policy_graph(judge: Judging, threshold: float, on_judge_error: OnJudgeError) -> CompiledStateGraph:
    guard = GuardPolicy(max_retries=0, escalate=False, retry="fallback")
    policy = Policy((Rule("main", PRINCIPLE, threshold),))
    builder = StateGraph(_PolicyState)
    builder.add_node("policy", make_policy_node(judge, policy, on_judge_error=on_judge_error))
    builder.add_node("guard", make_guard_node(guard), destinations=guard.destinations)  # type: ignore[arg-type]
    builder.add_node("fallback", lambda state: {"answer": ""})
    builder.add_edge(START, "policy")
    builder.add_edge("policy", "guard")
    builder.add_edge("fallback", END)
    return builder.compile()


async def _policy_prompt(judge: Judging) -> None:
    await _policy_graph(judge, 0.5, "raise").ainvoke({"messages": _conversation(), "answer": GOOD})


async def _policy_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    graph = _policy_graph(judge, threshold, on_judge_error)  # type: ignore[arg-type]
    state = await graph.ainvoke({"messages": _conversation(), "answer": GOOD})
    return bool(state["decision"] == "accept")


async def _policy_remote(judge: Judging) -> Any:
    state = await _policy_graph(judge, 0.9, "raise").ainvoke({"messages": _conversation(), "answer": BAD})
    verdict = state["verdict"]
    extra = {k: verdict[k] for k in ("passed", "failed_rule", "rule_scores", "skipped")}
    return {"decision": state["decision"], "answer": state["answer"], **extra, "verdict": _summary(verdict)}


# ----------------------------------------------------------- best-of-n agents


def _agent(answers: dict[int, str]) -> RunnableLambda:
    """An "agent" whose run ``i`` answers ``answers[i]``."""

    def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        index = config["metadata"]["run_index"]
        return {"messages": [*state["messages"], AIMessage(content=answers[index])]}

    return RunnableLambda(run)


async def _agents(judge: Judging) -> dict[str, Any]:
    graph = best_of_n_agents(_agent({0: BAD, 1: GOOD}), judge, n=2, principle=PRINCIPLE)
    return await graph.ainvoke({"messages": _conversation()})


async def _agents_prompt(judge: Judging) -> None:
    await _agents(judge)


async def _agents_remote(judge: Judging) -> Any:
    state = await _agents(judge)
    return {"last": state["messages"][-1].content, "verdict": _summary(state["verdict"])}


DRIVERS = [
    Driver("langgraph.rank_node", prompt=_rank_prompt, remote=_rank_remote),
    Driver("langgraph.plan_rank_node", prompt=_plan_rank_prompt, remote=_plan_rank_remote),
    Driver("langgraph.guard", prompt=_guard_prompt, decide=_guard_decide, remote=_guard_remote),
    Driver("langgraph.policy_node", prompt=_policy_prompt, decide=_policy_decide, remote=_policy_remote),
    Driver("langgraph.agents", prompt=_agents_prompt, remote=_agents_remote),
]
