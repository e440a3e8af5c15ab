"""Two real GRPO steps of ``examples/grpo_principle.py``: TRL's GRPOTrainer, the bundled policy, the principle reward.

Tiny on purpose (1 prompt, 2 generations, 4 tokens): it proves the example trains end to end
with the principle judge as its only reward, not that the policy learns.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("trl")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "grpo_principle.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grpo_principle", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scripted_judge_ranks_shorter_first_and_scores_by_length() -> None:
    example = _example()
    messages = [
        {"role": "system", "content": ""},
        {"role": "user", "content": json.dumps({"responses": {"a": "one two three four five six", "b": "Paris."}})},
    ]
    verdict = json.loads(example.shortest_first(messages, {}))
    assert verdict == {"scores": {"a": 4, "b": 5}, "best-to-worst": ["b", "a"]}


def test_two_grpo_steps_with_the_principle_judge_as_the_only_reward(tmp_path: Path) -> None:
    records = _example().run(steps=2, out=tmp_path, prompts=1, num_generations=2, max_completion_length=4, plot=False)

    assert [r["step"] for r in records] == [1.0, 2.0]
    assert all(0.0 <= r["reward"] <= 1.0 and 0 < r["completion_length"] <= 4 for r in records)
    logged = [json.loads(line) for line in (tmp_path / "steps.jsonl").read_text().splitlines()]
    assert logged == records
