"""Adapters for host frameworks (LangChain/LangSmith, LangGraph, guardrails, TRL, HTTP)."""
