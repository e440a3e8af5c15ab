"""The bundled model, in-process, for real.

The bundled SmolLM2-135M is a weak judge: these tests assert structure (complete,
valid verdicts in real names, determinism at temperature 0, padded batches, spans,
clear errors), never judgement quality.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from ra_agents import Judge, JudgeResult, UsageError
from ra_agents.local.model import BUNDLED_MODEL_NAME, ensure_bundled_model

pytestmark = pytest.mark.real_model

PRINCIPLE = "Correctness first, then brevity."
PROMPT = "What is the capital of France?"
RESPONSES = {"paris": "Paris.", "lyon": "It might be Lyon.", "long": "The capital of France is Paris, on the Seine."}


def _assert_complete(result, names) -> None:
    assert list(result.names) == list(names)
    assert set(result.scores) == set(names)
    assert all(1 <= s <= 5 for s in result.scores.values())
    assert sorted(result.ranking) == sorted(names)
    assert result.best == result.ranking[0]
    # the ranking never contradicts the scores
    ordered = [result.scores[n] for n in result.ranking]
    assert ordered == sorted(ordered, reverse=True)
    assert all(0.0 <= v <= 1.0 for v in result.normalized.values())
    assert not any(n.startswith("model-") for n in result.ranking)


async def test_judges_three_candidates_in_real_names(local_backend, spans) -> None:
    judge = Judge(local_backend, seed=7)
    result = await judge.ajudge(PRINCIPLE, PROMPT, RESPONSES)
    _assert_complete(result, RESPONSES)
    assert result.usage.completion_tokens > 0
    assert result.model == BUNDLED_MODEL_NAME
    # logprobs come back in-process, so ties get probability-weighted scores
    assert result.expected_scores is not None
    assert set(result.expected_scores) == set(RESPONSES)
    assert all(1.0 <= v <= 5.0 for v in result.expected_scores.values())
    (span,) = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "transformers"
    assert attrs["ra_agents.candidates"] == 3
    assert attrs["ra_agents.winner"] == result.best
    assert attrs["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
    assert json.loads(attrs["ra_agents.scores"]) == dict(result.scores)


async def test_temperature_zero_is_deterministic(local_backend) -> None:
    judge = Judge(local_backend, seed=11)
    first = await judge.ajudge(PRINCIPLE, PROMPT, RESPONSES)
    second = await judge.ajudge(PRINCIPLE, PROMPT, RESPONSES)
    assert first.passes[0].raw == second.passes[0].raw
    assert first.scores == second.scores and first.ranking == second.ranking


async def test_padded_batch_keeps_order_and_matches_single_requests(local_backend) -> None:
    """Requests of different lengths share one left-padded generation."""
    judge = Judge(local_backend, seed=3, concurrency=4)
    requests: list[dict[str, Any]] = [
        {"principle": PRINCIPLE, "prompt": PROMPT, "responses": {"x": "Paris.", "y": "Rome."}},
        {"principle": "Be helpful.", "prompt": "Say hi in French, explaining the register used.",
         "responses": ["Bonjour !", "Salut, which is informal and used with friends.", "Hello."]},
        {"principle": PRINCIPLE, "prompt": "2+2?", "responses": []},  # bad: no candidates
    ]  # fmt: skip
    results = await judge.ajudge_batch(requests)
    assert len(results) == 3
    _assert_complete(results[0], ["x", "y"])
    _assert_complete(results[1], ["0", "1", "2"])  # a list's candidates are named by position
    assert isinstance(results[2], UsageError)
    # padding must not change what a request generates on its own
    alone = await judge.ajudge(**requests[0])
    assert isinstance(results[0], JudgeResult)
    assert alone.passes[0].raw == results[0].passes[0].raw


def test_sync_wrapper_and_bad_input(local_backend) -> None:
    judge = Judge(local_backend, seed=5)
    result = judge.judge(PRINCIPLE, PROMPT, {"a": "Paris.", "b": "Lyon."})
    _assert_complete(result, ["a", "b"])
    with pytest.raises(UsageError, match="principle"):
        judge.judge("", PROMPT, {"a": "Paris."})


def test_export_is_cached() -> None:
    folder = ensure_bundled_model()
    weights = sorted(folder.glob("*.safetensors"))
    assert weights, "the export holds safetensors weights"
    before = [w.stat().st_mtime_ns for w in weights]
    started = time.perf_counter()
    assert ensure_bundled_model() == folder
    assert time.perf_counter() - started < 1.0  # a second start does not re-export
    assert [w.stat().st_mtime_ns for w in weights] == before


def test_readme_demo_command_runs_the_bundled_model() -> None:
    """The main job of the README's first command, in a fresh process."""
    env = dict(os.environ, RA_AGENTS_MODEL="")
    proc = subprocess.run(
        [sys.executable, "-m", "ra_agents.cli", "demo"], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {"terse", "detailed", "wrong", "hedging"}
    table = [line.split() for line in proc.stdout.splitlines() if line[:1].isdigit()]
    assert [int(row[0]) for row in table] == [1, 2, 3, 4]
    assert {row[1] for row in table} == names
    (best,) = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("best:")]
    assert best == table[0][1]
