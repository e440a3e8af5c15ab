"""Adapters for host frameworks, one module (or package) each.

LangChain (LCEL, a chat model over any backend), LangSmith, openevals, agent trajectories,
LangGraph, guardrails, the LiteLLM proxy, TRL, OpenRLHF, verl and Ray.
"""

__all__: list[str] = []
