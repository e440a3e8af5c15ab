"""Every warning ra-agents gives names the user's line, through every adapter that gives one.

A warning attributed to a line inside the package is one the user cannot act on, and a
``DeprecationWarning`` attributed there is not shown at all by Python's default filters (they
show it only for ``__main__``). Each case below calls a deprecated spelling, or a setting that
warns, from this file; the warning must name this file. The last test runs a script with
Python's default filters and reads the warning on stderr, as a user would.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from ra_agents import Judge
from ra_agents.acceptance import resolve_on_judge_error
from ra_agents.testing import ScriptedBackend, prefer
from ra_agents.warn import warn_at_caller
from tests.process_probe import ROOT

PRINCIPLE = "Prefer the correct answer."


def _judge() -> Judge:
    return Judge(ScriptedBackend(default=prefer(lambda text: "good" in text)), seed=0)


def _langgraph(factory: str) -> Callable[[], Any]:
    def call() -> Any:
        from ra_agents.integrations import langgraph

        return getattr(langgraph, factory)(_judge(), principle=PRINCIPLE, record_errors=True)

    return call


def _langsmith(old: str) -> Callable[[], Any]:
    def call() -> Any:
        from ra_agents.integrations import langsmith

        principle: Any = {"correct": PRINCIPLE} if old.endswith("principles_evaluator") else PRINCIPLE
        return getattr(langsmith, old)(_judge(), principle)

    return call


def _proxy_on_error() -> Any:
    from ra_agents.integrations.litellm_guardrail import PrincipleGuardrail

    return PrincipleGuardrail(
        judge=_judge(), principle=PRINCIPLE, guardrail_name="ra", event_hook="post_call", on_error="fail_open"
    )


def _best_of_n_at_temperature_0() -> Any:
    from ra_agents.integrations.lcel import best_of_n
    from tests.integrations.test_lcel import SeededModel

    return best_of_n(SeededModel(temperature=0), _judge(), n=3)


CASES: dict[str, tuple[Callable[[], Any], type[Warning], str]] = {
    "core resolve_on_judge_error": (
        lambda: resolve_on_judge_error(None, old_name="record_errors", old_value="raise"),
        DeprecationWarning,
        "record_errors is deprecated",
    ),
    "langgraph make_rank_node": (_langgraph("make_rank_node"), DeprecationWarning, "record_errors"),
    "langgraph make_select_run_node": (_langgraph("make_select_run_node"), DeprecationWarning, "record_errors"),
    "langsmith principle_evaluator": (_langsmith("principle_evaluator"), DeprecationWarning, "create_run_evaluator"),
    "langsmith aprinciples_evaluator": (
        _langsmith("aprinciples_evaluator"),
        DeprecationWarning,
        "create_async_principles_evaluator",
    ),
    "litellm proxy on_error": (_proxy_on_error, DeprecationWarning, "on_error is deprecated"),
    "lcel best_of_n temperature 0": (_best_of_n_at_temperature_0, UserWarning, "will be identical"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_warning_names_the_callers_line(case: str) -> None:
    call, category, words = CASES[case]
    with pytest.warns(category, match=words) as caught:
        call()
    assert [w.filename for w in caught if issubclass(w.category, category)] == [__file__]


def test_warn_at_caller_from_user_code_names_that_code() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_at_caller("look here")
    assert [(w.filename, str(w.message)) for w in caught] == [(__file__, "look here")]


SCRIPT = """\
from ra_agents import Judge
from ra_agents.integrations.langgraph import make_rank_node
from ra_agents.testing import ScriptedBackend

make_rank_node(Judge(ScriptedBackend()), principle="p", record_errors=True)
"""


def test_a_script_sees_the_deprecation_with_pythons_default_filters() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "DeprecationWarning: record_errors is deprecated; use on_judge_error='fail_closed'" in done.stderr
