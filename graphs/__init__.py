"""Ready LangGraph graphs built on :mod:`ra_agents.integrations.langgraph`.

Each module has a ``build_*`` function and a module-level ``graph`` (listed in
``langgraph.json`` for ``langgraph dev`` / LangGraph Server), built on first access from
the environment: ``RA_AGENTS_MODEL`` / ``RA_AGENTS_API_BASE``, else the bundled model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_graph"]


def lazy_graph(module: str, build: Callable[[], Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``graph`` once, on first access.

    Importing the module then needs neither a server nor a model.
    """
    cached = functools.cache(build)

    def __getattr__(name: str) -> Any:  # noqa: N807 - returned as the module's __getattr__ (PEP 562)
        if name == "graph":
            return cached()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
