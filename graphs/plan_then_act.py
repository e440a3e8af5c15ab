"""Plan then act: N alternative tool plans per step, ranked before any tool runs.

``START -> plan (xN, Send) -> rank_plans -> tools -> plan ...`` until the winning step
calls no tool. Only the winning plan is appended to ``messages``, so only its tool calls
reach the ``ToolNode``. One judge call per step.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from ra_agents import Judge, Judging
from ra_agents.graphs import lazy_graph
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.langgraph import PlanState, fan_out, make_generate_node, make_plan_rank_node

__all__ = ["DEFAULT_PRINCIPLE", "build_plan_then_act"]

DEFAULT_PRINCIPLE = "Prefer the plan that makes real progress with the fewest, safest tool calls."


def build_plan_then_act(
    model: Runnable,
    judge: Judging,
    tools: Sequence[BaseTool],
    *,
    n: int = 3,
    principle: str | None = DEFAULT_PRINCIPLE,
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph:
    """Compile the plan-then-act graph.

    Args:
        model: the planner. A model with ``bind_tools`` gets ``tools`` bound; any other
            runnable must already return ``AIMessage`` s with ``tool_calls``.
        judge: the judge (a :class:`~ra_agents.Judge`, or an HTTP client).
        tools: the tools the ``ToolNode`` may run.
        n: alternative plans per step (``state["n"]`` overrides it).
        principle: the default principle (state and config override it).
        checkpointer: optional checkpointer.
    """
    planner = model.bind_tools(list(tools)) if hasattr(model, "bind_tools") else model
    builder = StateGraph(PlanState)
    builder.add_node("plan", make_generate_node(planner, output_key="plans", keep_message=True))
    builder.add_node("rank_plans", make_plan_rank_node(judge, principle=principle))
    builder.add_node("tools", ToolNode(list(tools)))
    send_plans = fan_out("plan", "n", default_n=n)
    builder.add_conditional_edges(START, send_plans, ["plan"])
    builder.add_edge("plan", "rank_plans")
    builder.add_conditional_edges("rank_plans", tools_condition)
    builder.add_conditional_edges("tools", send_plans, ["plan"])
    return builder.compile(checkpointer=checkpointer, name="plan_then_act")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '12 * (3 + 4)'."""
    if not set(expression) <= set("0123456789+-*/(). ") or "**" in expression or len(expression) > 200:
        return "error: only short expressions of numbers and + - * / ( ) are allowed"
    try:
        return str(eval(expression, {"__builtins__": {}}, {}))  # noqa: S307 - characters checked above
    except (SyntaxError, ZeroDivisionError) as exc:
        return f"error: {exc}"


def _default_graph() -> CompiledStateGraph:
    model = BackendChatModel.from_config()
    return build_plan_then_act(model, Judge(model.backend), [calculator])


__getattr__ = lazy_graph(__name__, _default_graph)
