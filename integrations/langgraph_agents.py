"""Best-of-n over whole agent runs: the agents part of the LangGraph adapter.

The code lives in :mod:`ra_agents.integrations.langgraph.agents`; this module keeps the
import path ``ra_agents.integrations.langgraph_agents`` working, and
``from ra_agents.integrations.langgraph import best_of_n_agents`` reaches the same names.
"""

from __future__ import annotations

from ra_agents.integrations.langgraph.agents import (
    AgentRun,
    AgentRunsState,
    best_of_n_agents,
    make_agent_run_node,
    make_select_run_node,
)

__all__ = ["AgentRun", "AgentRunsState", "best_of_n_agents", "make_agent_run_node", "make_select_run_node"]
