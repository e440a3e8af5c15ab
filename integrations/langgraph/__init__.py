"""The LangGraph adapter: the judge inside a graph.

Two modules, one adapter (import everything from here):

- :mod:`~ra_agents.integrations.langgraph.nodes`: nodes over candidate answers and tool
  plans: :func:`fan_out`, :func:`make_generate_node`, :func:`make_rank_node`,
  :func:`make_plan_rank_node`, :func:`make_policy_node`, :func:`make_guard_node` with a
  :class:`GuardPolicy`, and the state types and helpers they share.
- :mod:`~ra_agents.integrations.langgraph.agents`: best-of-n over whole agent runs:
  :func:`best_of_n_agents`, :func:`make_agent_run_node`, :func:`make_select_run_node`
  (also importable as ``ra_agents.integrations.langgraph_agents``).

See each module for the contract its nodes keep.
"""

from __future__ import annotations

from .agents import AgentRun, AgentRunsState, best_of_n_agents, make_agent_run_node, make_select_run_node
from .nodes import (
    FEEDBACK_TEMPLATE,
    JUDGE_RUN_NAME,
    BestOfNState,
    Decision,
    GuardPolicy,
    PlanState,
    Verdict,
    collect,
    decide,
    fan_out,
    feedback_of,
    judge_candidates,
    make_generate_node,
    make_guard_node,
    make_plan_rank_node,
    make_policy_node,
    make_rank_node,
    resolve_principle,
    verdict_from_policy,
)

__all__ = [
    "Verdict",
    "BestOfNState",
    "PlanState",
    "Decision",
    "GuardPolicy",
    "FEEDBACK_TEMPLATE",
    "JUDGE_RUN_NAME",
    "collect",
    "resolve_principle",
    "judge_candidates",
    "fan_out",
    "make_generate_node",
    "make_rank_node",
    "make_plan_rank_node",
    "make_policy_node",
    "verdict_from_policy",
    "decide",
    "feedback_of",
    "make_guard_node",
    "AgentRun",
    "AgentRunsState",
    "best_of_n_agents",
    "make_agent_run_node",
    "make_select_run_node",
]
