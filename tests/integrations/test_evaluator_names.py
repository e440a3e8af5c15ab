"""Evaluator factories are named as openevals names its own; the earlier names are deprecated aliases."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import ra_agents.integrations.langsmith as langsmith
from ra_agents import Judge
from ra_agents.testing import ScriptedBackend, prefer

PRINCIPLE = "Correct answers first; shorter is better."
ROW: dict[str, Any] = {"inputs": {"q": "2+2?"}, "outputs": {"answer": "4"}, "reference_outputs": None}

RENAMED = {
    "principle_evaluator": "create_run_evaluator",
    "aprinciple_evaluator": "create_async_run_evaluator",
    "comparative_evaluator": "create_comparative_evaluator",
    "acomparative_evaluator": "create_async_comparative_evaluator",
    "principles_evaluator": "create_principles_evaluator",
    "aprinciples_evaluator": "create_async_principles_evaluator",
}


def _judge() -> Judge:
    return Judge(ScriptedBackend(default=prefer(lambda t: "4" in t)))


def _first_argument(old: str) -> Any:
    return {"correct": PRINCIPLE} if old.endswith("principles_evaluator") else PRINCIPLE


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_an_old_name_warns_with_the_new_one_and_builds_the_same_evaluator(old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"langsmith\.{old} is deprecated .* use {new} "):
        built = getattr(langsmith, old)(_judge(), _first_argument(old))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name does not warn
        fresh = getattr(langsmith, new)(_judge(), _first_argument(old))
    assert built.__name__ == fresh.__name__
    assert asyncio.iscoroutinefunction(built) == asyncio.iscoroutinefunction(fresh)
    if "comparative" not in old:
        run: Callable[..., Any] = built
        result = asyncio.run(run(**ROW)) if asyncio.iscoroutinefunction(run) else run(**ROW)
        fresh_result = asyncio.run(fresh(**ROW)) if asyncio.iscoroutinefunction(fresh) else fresh(**ROW)
        if "results" in result:
            result, fresh_result = result["results"][0], fresh_result["results"][0]
        assert {k: result[k] for k in ("key", "score", "comment")} == {
            k: fresh_result[k] for k in ("key", "score", "comment")
        }
        assert result["score"] == 1.0  # the scripted judge prefers "4"


def test_the_warning_points_at_the_caller() -> None:
    with pytest.warns(DeprecationWarning, match="create_run_evaluator") as caught:
        langsmith.principle_evaluator(_judge(), PRINCIPLE)
    assert caught[0].filename == __file__


def test_every_alias_is_exported_and_documented() -> None:
    doc = langsmith.__doc__ or ""
    for old, new in RENAMED.items():
        assert old in langsmith.__all__ and new in langsmith.__all__
        assert re.search(rf"``{old}``\s+:func:`{new}`", doc), old


@pytest.mark.parametrize("module", ["langsmith", "openevals", "trajectory"])
def test_every_evaluator_factory_is_named_create(module: str) -> None:
    """One naming style: create_..._evaluator, create_async_..._evaluator for the async form."""
    import importlib

    mod = importlib.import_module(f"ra_agents.integrations.{module}")
    factories = [n for n in mod.__all__ if n.endswith("_evaluator") and n not in RENAMED]
    assert factories
    for name in factories:
        assert re.fullmatch(r"create_(async_)?\w+_evaluator", name), name
        if not name.startswith("create_async_"):
            assert name.replace("create_", "create_async_", 1) in mod.__all__, name
