"""Ready LangGraph graphs built on ra_agents.integrations.langgraph."""
