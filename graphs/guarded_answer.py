"""Guarded answer: best-of-n, then a guard that accepts, retries, escalates or falls back.

``START -> prepare -> generate (xN) -> rank -> guard``; the guard goes to ``END`` when the
winner's unit score reaches the threshold (:func:`ra_agents.accepts`), to ``regenerate``
with the judge's feedback while retries remain, then asks a human (``interrupt``; needs a
checkpointer) or, without escalation, to ``fallback``. A judge failure falls back
(``on_judge_error="fail_closed"``). One judge call per attempt. The prompt is
``state["prompt"]`` (text or chat messages), else the conversation in ``state["messages"]``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Overwrite

from ra_agents import Judge, Judging, OnJudgeError
from ra_agents.graphs import lazy_graph
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.langgraph import (
    BestOfNState,
    GuardPolicy,
    fan_out,
    make_generate_node,
    make_guard_node,
    make_rank_node,
)

__all__ = ["DEFAULT_PRINCIPLE", "FALLBACK_ANSWER", "build_guarded_answer"]

DEFAULT_PRINCIPLE = "Be correct and safe; refuse harmful requests politely."
FALLBACK_ANSWER = "Sorry, I cannot give a good answer to that. Please rephrase or ask a person."


def build_guarded_answer(
    model: Runnable,
    judge: Judging,
    *,
    n: int = 2,
    principle: str | None = DEFAULT_PRINCIPLE,
    policy: GuardPolicy = GuardPolicy(),
    fallback_answer: str = FALLBACK_ANSWER,
    on_judge_error: OnJudgeError = "fail_closed",
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph:
    """Compile the guarded-answer graph.

    Args:
        model: the generator.
        judge: the judge (a :class:`~ra_agents.Judge`, or an HTTP client).
        n: candidates per attempt.
        principle: the default principle (state and config override it).
        policy: the guard's thresholds and retry budget; its node names must stay
            ``regenerate``/``fallback``/``END``.
        fallback_answer: the answer when nothing is accepted.
        on_judge_error: what a judge failure means: ``"fail_closed"`` (default) falls back,
            ``"fail_open"`` accepts the first candidate, ``"raise"`` fails the run.
        checkpointer: needed when ``policy.escalate`` (the human step interrupts the run).
    """

    def prepare(state: BestOfNState) -> dict[str, Any]:
        return {"candidates": Overwrite([]), "attempts": 0, "feedback": ""}  # a new run on a thread starts afresh

    def regenerate(state: BestOfNState) -> dict[str, Any]:
        return {"candidates": Overwrite([])}  # a retry keeps the count and the judge's feedback

    def fallback(state: BestOfNState) -> dict[str, Any]:
        return {"answer": fallback_answer}

    builder = StateGraph(BestOfNState)
    builder.add_node("prepare", prepare)
    builder.add_node("regenerate", regenerate)
    builder.add_node("generate", make_generate_node(model))
    builder.add_node("rank", make_rank_node(judge, principle=principle, on_judge_error=on_judge_error))
    builder.add_node("guard", make_guard_node(policy), destinations=policy.destinations)  # type: ignore[arg-type]  # langgraph types node callables by protocol
    builder.add_node("fallback", fallback)
    builder.add_edge(START, "prepare")
    send = fan_out("generate", "n", default_n=n)
    builder.add_conditional_edges("prepare", send, ["generate"])
    builder.add_conditional_edges("regenerate", send, ["generate"])
    builder.add_edge("generate", "rank")
    builder.add_edge("rank", "guard")
    builder.add_edge("fallback", END)
    return builder.compile(checkpointer=checkpointer, name="guarded_answer")


def _default_graph() -> CompiledStateGraph:
    model = BackendChatModel.from_config()
    return build_guarded_answer(model, Judge(model.backend), policy=GuardPolicy(escalate=False))


__getattr__ = lazy_graph(__name__, _default_graph)
