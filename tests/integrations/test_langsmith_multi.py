"""One LangSmith evaluator, several principles: one feedback key each, through LangSmith's own evaluate."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from langsmith import Client, evaluate
from langsmith.schemas import Example

from ra_agents import BackendUnavailable, GenerationSettings, Judge, Message, UsageError
from ra_agents.integrations.langsmith import (
    create_async_principles_evaluator,
    create_principles_evaluator,
    create_run_evaluator,
)
from ra_agents.testing import ScriptedBackend, shown_responses

CORRECT = "Correct answers first."
SHORT = "Shorter is better."


def score(principle: str, text: str) -> int:
    if principle == CORRECT:
        return 5 if "4" in text else 1
    return 5 if len(text) <= 3 else 2


def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
    principle = json.loads(messages[1]["content"])["principle"]
    shown = shown_responses(messages)
    scores = {m: score(principle, t) for m, t in shown.items()}
    return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: (-scores[m], m))})


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)


def timeless(feedback: dict[str, Any]) -> dict[str, Any]:
    """The feedback without the verdict's wall time, which differs between two runs."""
    verdict = {k: v for k, v in feedback["metadata"]["verdict"].items() if k != "latency_s"}
    return {**feedback, "metadata": {**feedback["metadata"], "verdict": verdict}}


def _judge() -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=answer)
    return Judge(backend, seed=0), backend


def _examples() -> list[Example]:
    dataset = uuid.uuid4()
    return [
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={}),
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "3+1?"}, outputs={}),
    ]


def _target(inputs: dict) -> dict:
    return {"answer": "4" if inputs["question"] == "2+2?" else "It is five, I believe."}


def test_evaluate_records_one_key_per_principle_and_the_combination() -> None:
    judge, backend = _judge()
    evaluator = create_principles_evaluator(
        judge, {"correct": (CORRECT, 3), "short": SHORT}, combined_key="overall", reference=False
    )
    client = Client(api_url="http://127.0.0.1:9", api_key="offline", info={}, tracing_sampling_rate=0.0)
    rows: dict[str, dict[str, Any]] = {}
    results: Any = evaluate(_target, data=_examples(), evaluators=[evaluator], upload_results=False, client=client)
    for row in results:
        rows[row["example"].inputs["question"]] = {r.key: r for r in row["evaluation_results"]["results"]}
    assert set(rows["2+2?"]) == {"correct", "short", "overall"}
    assert rows["2+2?"]["correct"].score == 1.0 and rows["2+2?"]["short"].score == 1.0
    assert rows["3+1?"]["correct"].score == 0.0 and rows["3+1?"]["short"].score == 0.25
    assert rows["3+1?"]["overall"].score == pytest.approx(0.75 * 0.0 + 0.25 * 0.25)
    assert len(backend.calls) == 4  # two principles x two rows


def test_each_entry_matches_the_single_principle_evaluator() -> None:
    args = ({"question": "2+2?"}, {"answer": "four or 4"}, {"answer": "4"})
    many = create_principles_evaluator(_judge()[0], {"correct": CORRECT, "short": SHORT})(*args)
    for entry in many["results"]:
        single = create_run_evaluator(_judge()[0], {"correct": CORRECT, "short": SHORT}[entry["key"]], key=entry["key"])
        assert timeless(entry) == timeless(single(*args))
    asyn = asyncio.run(create_async_principles_evaluator(_judge()[0], {"correct": CORRECT, "short": SHORT})(*args))
    assert [timeless(e) for e in asyn["results"]] == [timeless(e) for e in many["results"]]


def test_fold_mode_is_one_call_under_the_combined_key() -> None:
    judge, backend = _judge()
    backend.default = None
    backend.enqueue(
        lambda m, s: json.dumps(
            {"scores": dict.fromkeys(shown_responses(m), 4), "best-to-worst": list(shown_responses(m))}
        )
    )
    evaluator = create_principles_evaluator(
        judge, {"correct": CORRECT, "short": SHORT}, mode="fold", combined_key="both"
    )
    out = evaluator({"question": "2+2?"}, {"answer": "4"})
    assert [r["key"] for r in out["results"]] == ["both"]
    assert out["results"][0]["score"] == 0.75
    assert len(backend.calls) == 1
    with pytest.raises(UsageError, match="combined_key"):
        create_principles_evaluator(judge, {"correct": CORRECT}, mode="fold")


def test_judge_failure_fails_closed_under_every_key() -> None:
    judge = Judge(ScriptedBackend(default=BackendUnavailable("down")))
    out = create_principles_evaluator(judge, {"correct": CORRECT, "short": SHORT}, combined_key="all")(
        {"q": "?"}, {"a": "4"}
    )
    assert [r["key"] for r in out["results"]] == ["correct", "short", "all"]
    assert all(r["score"] == 0.0 and r["extra"] == {"error": True} for r in out["results"])
    assert "BackendUnavailable" in out["results"][0]["comment"]
    opened = create_principles_evaluator(judge, {"correct": CORRECT}, on_judge_error="fail_open")(
        {"q": "?"}, {"a": "4"}
    )
    assert [r["score"] for r in opened["results"]] == [1.0]
    with pytest.raises(BackendUnavailable):
        create_principles_evaluator(judge, {"correct": CORRECT}, on_judge_error="raise")({"q": "?"}, {"a": "4"})


def test_unreadable_row_is_unscored_error_feedback_under_every_key() -> None:
    judge, backend = _judge()
    out = create_principles_evaluator(judge, {"correct": CORRECT, "short": SHORT})({"q": "?"}, {})
    assert all(r["score"] is None and "no outputs to judge" in r["comment"] for r in out["results"])
    assert backend.calls == []
