"""The one import rule (ARCHITECTURE.md): a layer imports only from layers below it.

Every ``import`` in the package is read from the source, at any depth (lazy imports in
functions count), and resolved to the ``ra_agents`` module it names. Layers, bottom to top:

1. values: errors, result types, prompts, principles, the acceptance rule, settings helpers;
2. the judge: the listwise protocol, the judge, its cache, panels, policies, judge-quality tools;
3. backends: the model behind the judge, and the machinery that runs one on this machine;
4. adapters: one per host framework (``integrations/``), and the graphs built on them;
5. surfaces: the command line and the HTTP server and client.

The package root (``ra_agents``, the public API) sits between backends and adapters.

A lower layer may name a higher one only lazily in the few places listed in ``ALLOWED``,
each with its reason. Adapters import the core's public modules (no ``_private`` module) and
their own framework, never another adapter; graphs may use the LangGraph adapter. The HTTP
surface does not import the command line (the command line starts the server).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ra_agents"

VALUES, JUDGE, BACKENDS, PUBLIC, ADAPTERS, SURFACES = range(1, 7)
LAYER_NAMES = {
    VALUES: "values",
    JUDGE: "judge",
    BACKENDS: "backends",
    PUBLIC: "the public API",
    ADAPTERS: "adapters",
    SURFACES: "surfaces",
}

# Longest prefix wins.
LAYERS: dict[str, int] = {
    "ra_agents._errors": VALUES,
    "ra_agents._jsonl": VALUES,
    "ra_agents._types": VALUES,
    "ra_agents._aggregate": VALUES,
    "ra_agents.sync": VALUES,
    "ra_agents._telemetry": VALUES,
    "ra_agents.prompt": VALUES,
    "ra_agents.acceptance": VALUES,
    "ra_agents.warn": VALUES,  # warnings attributed to the user's line
    "ra_agents.principles": VALUES,
    "ra_agents.settings": VALUES,
    "ra_agents.trajectory": VALUES,  # renders transcripts; ranks with a judge it is given
    "ra_agents.data": VALUES,  # shipped data files
    "ra_agents.protocol": JUDGE,
    "ra_agents.judging": JUDGE,
    "ra_agents.judge": JUDGE,
    "ra_agents.cache": JUDGE,
    "ra_agents.panel": JUDGE,
    "ra_agents.policy": JUDGE,
    "ra_agents.feedback": JUDGE,
    "ra_agents.groups": JUDGE,
    "ra_agents.sweep": JUDGE,
    "ra_agents.calibration": JUDGE,
    "ra_agents.evals": JUDGE,
    "ra_agents.backends": BACKENDS,
    "ra_agents.local": BACKENDS,
    "ra_agents.testing": BACKENDS,
    "ra_agents.integrations": ADAPTERS,
    "ra_agents.graphs": ADAPTERS,
    "ra_agents.cli": SURFACES,
    "ra_agents.remote": SURFACES,
    "ra_agents": PUBLIC,  # the package's __init__: what adapters and users import
}

ALLOWED: dict[tuple[str, str], str] = {
    # A settings value names the backend it builds: resolved lazily, on first use.
    ("ra_agents.settings", "ra_agents.backends"): "resolve_backend builds the configured backend",
    ("ra_agents.judge", "ra_agents.backends"): "Judge() and Judge.from_litellm build a default backend",
    ("ra_agents.trajectory", "ra_agents.judging"): "for types only: it ranks with the Judging it is given",
    ("ra_agents", "ra_agents.remote"): "Client and AsyncClient are public names, imported on first use",
    ("ra_agents.groups", "ra_agents.remote"): "an RL reward's judge may be a judge server (its client)",
    ("ra_agents.evals", "ra_agents.local"): "RM-Bench's data is cached beside the bundled model",
}


def layer_of(module: str) -> tuple[str, int] | None:
    """The layer prefix ``module`` falls under, and its layer (``None``: not ours)."""
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[tuple[str, Path]]:
    """Every module of the package, by import name (``integrations/`` and ``graphs/`` through their links)."""
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(folder) / name
                yield module_name(path), path


def imports(module: str, text: str, *, is_package: bool = False) -> Iterator[tuple[str, int]]:
    """``(imported ra_agents module, line)`` for every import in ``text``, lazy ones included."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ra_agents":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ra_agents":
                continue
            for alias in node.names:  # `from pkg import submodule` names the submodule
                candidate = PACKAGE.parent / Path(*f"{target}.{alias.name}".split("."))
                if candidate.with_suffix(".py").exists() or candidate.is_dir():
                    yield f"{target}.{alias.name}", node.lineno
                elif not (target == "ra_agents" and alias.name == "__version__"):  # metadata, not a layer
                    yield target, node.lineno


def check(module: str, imported: Iterable[tuple[str, int]]) -> list[str]:
    """The imports of ``module`` that break the rule, each said with the reason."""
    own = layer_of(module)
    assert own is not None, f"{module} is in no layer: add it to LAYERS"
    own_prefix, own_layer = own
    found = []
    for target, line in imported:
        other = layer_of(target)
        if other is None:
            continue
        prefix, layer = other
        where = f"{module}:{line} imports {target}"
        if own_layer == ADAPTERS and not module.startswith("ra_agents.graphs"):
            private = any(part.startswith("_") for part in target.split(".")[1:])
            sibling = layer == ADAPTERS and not _same_adapter(module, target)
            if private or sibling or layer == SURFACES:
                found.append(f"{where} (an adapter imports the public core and its own framework only)")
        elif own_prefix == "ra_agents.remote" and prefix == "ra_agents.cli":
            found.append(f"{where} (the HTTP surface does not depend on the command line)")
        elif layer > own_layer and (own_prefix, prefix) not in ALLOWED:
            found.append(f"{where} ({LAYER_NAMES[own_layer]} below {LAYER_NAMES[layer]})")
    return found


def module_imports() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    for module, path in source_files():
        yield module, list(imports(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"))


SAME_ADAPTER = {"ra_agents.integrations.langgraph_agents": "ra_agents.integrations.langgraph"}
"""Earlier import paths of an adapter's modules, kept as re-exports."""


def _same_adapter(module: str, target: str) -> bool:
    """Both in one adapter: the same module, or the same adapter package."""
    a, b = (".".join(name.split(".")[:3]) for name in (module, target))
    return SAME_ADAPTER.get(a, a) == SAME_ADAPTER.get(b, b)


def test_the_adapters_are_read() -> None:
    """The walk follows the links to integrations/ and graphs/ (a walk that does not finds no adapter)."""
    modules = {module for module, _ in source_files()}
    assert {
        "ra_agents.integrations.trl",
        "ra_agents.integrations.langgraph.nodes",
        "ra_agents.graphs.best_of_n",
    } <= modules


def test_every_import_follows_the_layers() -> None:
    assert [v for module, imported in module_imports() for v in check(module, imported)] == []


@pytest.mark.parametrize(("lower", "upper"), sorted(ALLOWED))
def test_every_allowed_exception_is_still_needed(lower: str, upper: str) -> None:
    used = any(
        (layer_of(module) or ("", 0))[0] == lower and (layer_of(target) or ("", 0))[0] == upper
        for module, imported in module_imports()
        for target, _ in imported
    )
    assert used, f"{lower} no longer imports {upper}: remove the exception"


@pytest.mark.parametrize(
    ("module", "text", "broken"),
    [
        ("ra_agents.backends.litellm", "from ra_agents.cli import flags", True),
        ("ra_agents.judge", "from .remote import server", True),
        ("ra_agents.integrations.trl", "from ra_agents.integrations.lcel import x", True),
        ("ra_agents.integrations.trl", "from ra_agents._types import Message", True),
        ("ra_agents.integrations.trl", "from ra_agents.cli import main", True),
        ("ra_agents.integrations.trl", "from ra_agents import Judge", False),
        ("ra_agents.integrations.langgraph.agents", "from .nodes import make_rank_node", False),
        ("ra_agents.integrations.langgraph_agents", "from ra_agents.integrations.langgraph import x", False),
        ("ra_agents.integrations.openevals", "from ra_agents.integrations.langsmith import _Request", True),
        ("ra_agents.graphs.best_of_n", "from ra_agents.integrations.langgraph import x", False),
        ("ra_agents.cli.commands", "from ..integrations.ray import x", False),
        ("ra_agents.settings", "from .backends.litellm import LiteLLMBackend", False),
        ("ra_agents.remote.server.app", "from ...cli.flags import judge_from_flags", True),
    ],
)
def test_the_rule_itself(module: str, text: str, broken: bool) -> None:
    """The checker is not vacuous: each case is judged as the rule says."""
    assert bool(check(module, imports(module, text))) is broken
