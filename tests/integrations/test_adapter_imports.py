"""The LangGraph adapter is one package that keeps its earlier import paths; one judge run name.

That no adapter imports another is part of the one import rule, checked in
``tests/architecture/test_imports.py``.
"""

from __future__ import annotations

import importlib


def test_the_langgraph_adapter_is_one_package_with_its_earlier_paths() -> None:
    package = importlib.import_module("ra_agents.integrations.langgraph")
    agents = importlib.import_module("ra_agents.integrations.langgraph_agents")
    for name in agents.__all__:
        assert getattr(agents, name) is getattr(package, name)
    assert {"make_rank_node", "GuardPolicy", "best_of_n_agents"} <= set(package.__all__)


def test_one_judge_run_name() -> None:
    from ra_agents.feedback import JUDGE_RUN_NAME
    from ra_agents.integrations import langgraph, lcel

    assert langgraph.JUDGE_RUN_NAME is lcel.JUDGE_RUN_NAME is JUDGE_RUN_NAME


def test_the_langgraph_package_exports_every_public_name_of_its_modules() -> None:
    from ra_agents.integrations import langgraph
    from ra_agents.integrations.langgraph import agents, nodes

    assert set(langgraph.__all__) == set(nodes.__all__) | set(agents.__all__)
