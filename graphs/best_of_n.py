"""Best-of-n: generate N answers in parallel, one listwise judge call keeps the best.

``START -> prepare -> generate (xN, Send) -> rank -> END``. One judge call per run.

Served with ``langgraph dev`` as ``graph``, built on first access from the environment
(``RA_AGENTS_MODEL`` / ``RA_AGENTS_API_BASE``, else the bundled model in-process).
"""

from __future__ import annotations

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Overwrite

from ra_agents import Judge, Judging
from ra_agents.graphs import lazy_graph
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.langgraph import BestOfNState, fan_out, make_generate_node, make_rank_node

__all__ = ["DEFAULT_PRINCIPLE", "build_best_of_n"]

DEFAULT_PRINCIPLE = "Correctness first, then helpfulness, then brevity."


def build_best_of_n(
    model: Runnable,
    judge: Judging,
    *,
    n: int = 3,
    principle: str | None = DEFAULT_PRINCIPLE,
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph:
    """Compile the best-of-n graph.

    Args:
        model: the generator (a chat model or a runnable from messages to a message).
        judge: the judge (a :class:`~ra_agents.Judge`, or an HTTP client).
        n: candidates per run (``state["n"]`` overrides it).
        principle: the default principle (``state["principle"]`` and
            ``config["configurable"]["principle"]`` override it).
        checkpointer: optional checkpointer.
    """
    builder = StateGraph(BestOfNState)
    builder.add_node("prepare", lambda state: {"candidates": Overwrite([])})  # a new run on a thread starts afresh
    builder.add_node("generate", make_generate_node(model))
    builder.add_node("rank", make_rank_node(judge, principle=principle))
    builder.add_edge(START, "prepare")
    builder.add_conditional_edges("prepare", fan_out("generate", "n", default_n=n), ["generate"])
    builder.add_edge("generate", "rank")
    builder.add_edge("rank", END)
    return builder.compile(checkpointer=checkpointer, name="best_of_n")


def _default_graph() -> CompiledStateGraph:
    model = BackendChatModel.from_config()
    return build_best_of_n(model, Judge(model.backend))


__getattr__ = lazy_graph(__name__, _default_graph)
