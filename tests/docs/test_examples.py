"""Every example in ``examples/`` runs as a user runs it: ``python examples/<name>.py``.

Each runs as a subprocess with the judge settings (``RA_AGENTS_MODEL``,
``RA_AGENTS_API_BASE``) pointing at the stand-in server (``conftest.py``), and the test
checks its output and the judge calls and generations the server answered (so an example
that ignored the settings and loaded the bundled model would fail, not pass slowly). One
example also runs against the real vLLM server. ``grpo_principle.py`` trains a model and
has its own smoke test (``tests/integrations/test_grpo_smoke.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ServedModel
from tests.docs.conftest import StandIn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TESTED_ELSEWHERE = {"grpo_principle.py": "tests/integrations/test_grpo_smoke.py"}


@dataclass(frozen=True)
class Expect:
    """What one run of an example must show."""

    output: str  # a regular expression the output must match (re.MULTILINE)
    judge_calls: int  # judge requests at least
    generations: int = 0  # generation requests at least


EXPECT = {
    "best_of_n.py": Expect(r"^verdict: \{.+\} ranking: \[.+\]\n(?s:.*)^chosen: \S", 1, 3),
    "grpo_reward.py": Expect(r"^ +'4' -> [01](\.\d+)?$(?s:.*)'Paris, France\.' -> ", 2),
    "guarded_answer.py": Expect(r"^(accept|fallback|human|reject)\w* after \d+ retries:\n\S", 1, 1),
    "guardrail.py": Expect(r"'Take 800 mg every two hours\.'\n  -> .+ \(passed: (True|False)\)", 2),
    "langsmith_eval.py": Expect(r"^2\+2\? -> [\d.]+ \| (?s:.*)^Capital of France\? -> [\d.]+ \| ", 2),
    "lcel_best_of_n.py": Expect(r"^\[0\] score [\d.]+: '.+'\n(?s:.*)^chosen: \S.*\n\('[ab]', '[ab]'\)", 2, 3),
    "plan_then_act.py": Expect(r"391(?s:.*)^last step's scores: \{", 1, 3),
    "trajectory_eval.py": Expect(r"^ranking: \('(tool|guess)', '(tool|guess)'\) rewards: \{", 2),
}


def _run(name: str, env: dict[str, str], cwd: Path, timeout_s: float) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env={**os.environ, **env},
        input="accept\n",  # guarded_answer.py asks a human when the judge accepts nothing
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert completed.returncode == 0, f"{name} exited with {completed.returncode}:\n{completed.stderr[-3000:]}"
    return completed.stdout


def test_every_example_is_covered() -> None:
    on_disk = {path.name for path in EXAMPLES.glob("*.py")}
    assert on_disk == set(EXPECT) | set(TESTED_ELSEWHERE)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs_against_the_configured_server(
    name: str, judge_env: dict[str, str], stand_in: StandIn, tmp_path: Path
) -> None:
    judged, generated = stand_in.counts()
    output = _run(name, judge_env, tmp_path, timeout_s=120)
    expect = EXPECT[name]
    assert re.search(expect.output, output, re.MULTILINE), output
    judged_now, generated_now = stand_in.counts()
    assert judged_now - judged >= expect.judge_calls, output
    assert generated_now - generated >= expect.generations, output


@pytest.mark.vllm
def test_trajectory_example_on_the_real_vllm_server(vllm_server: ServedModel, tmp_path: Path) -> None:
    env = {
        "RA_AGENTS_MODEL": vllm_server.litellm_model,
        "RA_AGENTS_API_BASE": vllm_server.api_base,
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    output = _run("trajectory_eval.py", env, tmp_path, timeout_s=600)
    assert re.search(EXPECT["trajectory_eval.py"].output, output, re.MULTILINE), output
    assert re.search(r"^[\d.]+ \| trajectory_principle", output, re.MULTILINE), output
