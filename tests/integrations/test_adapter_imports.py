"""Adapters import the core and their own framework, never another adapter."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"


def _adapter(path: Path) -> str:
    """The adapter a file belongs to: its module name, or its package's name."""
    relative = path.relative_to(INTEGRATIONS)
    return relative.parts[0].removesuffix(".py")


def _imported_adapters(path: Path) -> set[str]:
    """The adapters ``path`` imports from, absolute or relative imports alike."""
    depth = len(path.relative_to(INTEGRATIONS).parts) - 1  # 0: integrations/x.py, 1: integrations/pkg/x.py
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        elif isinstance(node, ast.ImportFrom):
            if node.level <= depth:  # within the file's own package
                continue
            parts = [node.module] if node.module else [alias.name for alias in node.names]
            modules = [f"ra_agents.integrations.{part}" for part in parts]
        else:
            continue
        found.update(m.split(".")[2] for m in modules if m.startswith("ra_agents.integrations."))
    return found


FILES = sorted(p for p in INTEGRATIONS.rglob("*.py") if p.name != "__init__.py" or p.parent != INTEGRATIONS)
# langgraph_agents.py is the earlier import path of the LangGraph adapter's agents module.
SAME_ADAPTER = {"langgraph_agents": "langgraph"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(INTEGRATIONS)))
def test_an_adapter_imports_no_other_adapter(path: Path) -> None:
    own = _adapter(path)
    others = {a for a in _imported_adapters(path) if a != own and SAME_ADAPTER.get(own) != a}
    assert not others, f"{path.name} imports the adapters {sorted(others)}; share through the core instead"


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
