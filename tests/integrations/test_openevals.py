"""The openevals-style principle evaluators: direct calls, and LangSmith's own evaluate, offline."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from typing import Any

import pytest

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from langsmith import Client, aevaluate, evaluate
from langsmith.schemas import Example

from ra_agents import (
    BackendUnavailable,
    Judge,
    OnJudgeError,
    Principle,
    UsageError,
    VerdictError,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.integrations.langsmith import create_run_evaluator
from ra_agents.integrations.openevals import create_async_principle_evaluator, create_principle_evaluator
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Correct answers first; shorter is better."
RESULT_KEYS = {"key", "score", "comment", "metadata"}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)


@pytest.fixture(scope="module")
def client() -> Client:
    """A client that cannot leave the machine (see test_langsmith.py)."""
    return Client(api_url="http://127.0.0.1:9", api_key="offline", info={}, tracing_sampling_rate=0.0)


def _judge() -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=prefer(lambda t: "4" in t))
    return Judge(backend, seed=0), backend


def _scored(score: int, reasoning: str = "It is partly right.") -> tuple[Judge, ScriptedBackend]:
    """A judge that gives every candidate ``score`` (ranked in the order shown)."""

    def answer(messages, settings):
        names = list(shown_responses(messages))
        scores = ", ".join(f'"{n}": {score}' for n in names)
        ranking = ", ".join(f'"{n}"' for n in names)
        return f'<think>{reasoning}</think>{{"scores": {{{scores}}}, "best-to-worst": [{ranking}]}}'

    backend = ScriptedBackend(default=answer)
    return Judge(backend), backend


def _rows(results: Any) -> dict[str, list[Any]]:
    """Each row's feedback list, by question."""
    return {row["example"].inputs["question"]: row["evaluation_results"]["results"] for row in results}


ROW = {"inputs": {"question": "2+2?"}, "outputs": {"answer": "4"}}


def test_direct_call_returns_exactly_the_openevals_result_keys() -> None:
    judge, backend = _judge()
    result = create_principle_evaluator(principle=PRINCIPLE, judge=judge)(**ROW)

    assert set(result) == RESULT_KEYS
    assert result["key"] == "score"  # openevals' default feedback_key
    assert result["score"] is True  # continuous=False gives a bool, as in openevals
    assert result["comment"] is not None and result["comment"].startswith("score: 5/5")
    metadata = result["metadata"]
    assert set(metadata) == {"raw_score", "verdict", "unit_score"}
    assert (metadata["raw_score"], metadata["unit_score"]) == (5, 1.0)
    verdict = metadata["verdict"]
    assert verdict == verdict_to_dict(verdict_from_dict(verdict), raw=False)  # the one verdict shape
    assert (verdict["ranking"], verdict["scale"], verdict["model"]) == (["output"], [1, 5], "scripted")
    assert sent_prompt(backend) == "2+2?"


def sent_prompt(backend: ScriptedBackend) -> str:
    import json

    return json.loads(backend.calls[-1][0][1]["content"])["prompt"]


def test_signature_matches_openevals() -> None:
    for factory in (create_principle_evaluator, create_async_principle_evaluator):
        params = inspect.signature(factory).parameters
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
        assert {k: params[k].default for k in ("judge", "feedback_key", "continuous", "choices", "use_reasoning")} == {
            "judge": None,
            "feedback_key": "score",
            "continuous": False,
            "choices": None,
            "use_reasoning": True,
        }
    evaluator = create_principle_evaluator(principle=PRINCIPLE, judge=_judge()[0])
    params = inspect.signature(evaluator).parameters
    assert [(n, p.kind.name) for n, p in params.items()] == [
        ("inputs", "KEYWORD_ONLY"),
        ("outputs", "KEYWORD_ONLY"),
        ("reference_outputs", "KEYWORD_ONLY"),
        ("kwargs", "VAR_KEYWORD"),
    ]
    with pytest.raises(TypeError):
        evaluator({"question": "2+2?"}, {"answer": "4"})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, True),  # 4/5 is 0.75, which meets the default threshold (0.5)
        ({"threshold": 0.8}, False),
        ({"continuous": True}, 0.75),
        ({"choices": [0, 0.5, 1]}, 0.5),  # 0.75 is halfway between 0.5 and 1: the lower wins
        ({"choices": [1, 2, 3, 4, 5]}, 4),
        ({"choices": [0.0, 10.0], "continuous": True}, 10.0),  # choices win over continuous
    ],
)
def test_score_semantics(options: dict[str, Any], expected: Any) -> None:
    judge, _ = _scored(4)
    result = create_principle_evaluator(principle=PRINCIPLE, judge=judge, **options)(**ROW)
    assert result["score"] == expected and type(result["score"]) is type(expected)
    assert result["metadata"] is not None and result["metadata"]["unit_score"] == 0.75


def test_the_bool_is_the_one_acceptance_rule_with_its_default_threshold() -> None:
    judge, _ = _scored(3)  # unit score 0.5: exactly the default threshold
    assert create_principle_evaluator(principle=PRINCIPLE, judge=judge)(**ROW)["score"] is True
    assert create_principle_evaluator(principle=PRINCIPLE, judge=judge, threshold=0.75)(**ROW)["score"] is False
    judge, _ = _scored(2)
    assert create_principle_evaluator(principle=PRINCIPLE, judge=judge)(**ROW)["score"] is False


@pytest.mark.parametrize(
    ("options", "closed", "opened"),
    [({}, False, True), ({"continuous": True}, 0.0, 1.0), ({"choices": [1, 2, 3]}, 1, 3)],
)
def test_on_judge_error_gives_a_failing_or_passing_score(options: dict[str, Any], closed: Any, opened: Any) -> None:
    down = Judge(ScriptedBackend(default=BackendUnavailable("the judge is down")), max_retries=0)
    modes: list[tuple[OnJudgeError, Any]] = [("fail_closed", closed), ("fail_open", opened)]
    for mode, expected in modes:
        result = create_principle_evaluator(principle=PRINCIPLE, judge=down, on_judge_error=mode, **options)(**ROW)
        assert set(result) == RESULT_KEYS
        assert result["score"] == expected and type(result["score"]) is type(expected)
        assert result["comment"] == "BackendUnavailable: the judge is down"
        assert result["metadata"] == {"error": "BackendUnavailable", "on_judge_error": mode}
    with pytest.raises(BackendUnavailable):  # the default: raised, as openevals' evaluators raise
        create_principle_evaluator(principle=PRINCIPLE, judge=down, **options)(**ROW)


def test_use_reasoning_and_feedback_key() -> None:
    judge, _ = _scored(3, reasoning="Half right.")
    with_reasoning = create_principle_evaluator(principle=PRINCIPLE, judge=judge, feedback_key="correct")(**ROW)
    assert with_reasoning["key"] == "correct"
    assert with_reasoning["comment"] == "correct: 3/5\nHalf right."
    bare = create_principle_evaluator(principle=PRINCIPLE, judge=judge, use_reasoning=False)(**ROW)
    assert bare["comment"] is None and set(bare) == RESULT_KEYS


def test_reference_is_judged_listwise_and_the_output_score_reported() -> None:
    judge, backend = _judge()
    evaluator = create_principle_evaluator(principle=PRINCIPLE, judge=judge, continuous=True)

    losing = evaluator(inputs={"question": "2+2?"}, outputs={"answer": "5"}, reference_outputs={"answer": "4"})
    assert sorted(shown_responses(backend.calls[-1][0]).values()) == ["4", "5"]  # one call, both candidates
    assert losing["score"] == 0.0
    assert losing["metadata"] is not None
    assert losing["metadata"]["beats_reference"] is False and losing["metadata"]["reference_score"] == 5

    # plain strings work as openevals allows, and extra keyword arguments are ignored
    winning = evaluator(inputs="2+2?", outputs="4", reference_outputs="five", attachments=None, extra="x")
    assert winning["score"] == 1.0
    assert winning["metadata"] is not None and winning["metadata"]["beats_reference"] is True
    assert len(backend.calls) == 2


def test_matches_principle_evaluator_through_langsmith_evaluate(client: Client) -> None:
    judge, backend = _judge()
    openevals_style = create_principle_evaluator(principle=PRINCIPLE, judge=judge, feedback_key="oe", continuous=True)
    reference = create_run_evaluator(judge, PRINCIPLE, key="ps")
    dataset = uuid.uuid4()
    examples = [
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={"answer": "4"}),
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "3+1?"}, outputs={}),
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "1+3?"}, outputs={"answer": "4"}),
    ]

    def target(inputs: dict) -> dict:
        return {"answer": {"2+2?": "5", "3+1?": "4", "1+3?": "four (4)"}[inputs["question"]]}

    results = evaluate(
        target, data=examples, evaluators=[openevals_style, reference], upload_results=False, client=client
    )
    rows = _rows(results)

    expected = {"2+2?": 0.0, "3+1?": 1.0, "1+3?": 1.0}
    for question, feedback in rows.items():
        by_key = {f.key: f for f in feedback}
        assert set(by_key) == {"oe", "ps"}
        assert by_key["oe"].score == by_key["ps"].score == expected[question]
        assert by_key["ps"].comment is not None
        assert by_key["oe"].comment == by_key["ps"].comment.replace("ps:", "oe:", 1)
    assert len(backend.calls) == 6


async def test_async_evaluator_through_aevaluate(client: Client) -> None:
    judge, _ = _judge()
    evaluator = create_async_principle_evaluator(principle=PRINCIPLE, judge=judge, feedback_key="correct")
    dataset = uuid.uuid4()
    examples = [
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={"answer": "4"}),
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "3+1?"}, outputs={}),
    ]

    async def target(inputs: dict) -> dict:
        return {"answer": "5" if inputs["question"] == "2+2?" else "4"}

    # langsmith's hints type async evaluators as (run, example) only; it calls this one by its parameter names
    results = await aevaluate(target, data=examples, evaluators=[evaluator], upload_results=False, client=client)  # type: ignore[list-item]
    rows = _rows([row async for row in results])
    [lost], [won] = rows["2+2?"], rows["3+1?"]
    assert (lost.key, lost.score, won.score) == ("correct", False, True)


def test_sync_and_async_evaluators_agree() -> None:
    row = {"inputs": {"question": "2+2?"}, "outputs": {"answer": "4"}, "reference_outputs": {"answer": "four"}}
    sync = create_principle_evaluator(principle=Principle(PRINCIPLE), judge=_judge()[0], continuous=True)(**row)
    asyn = asyncio.run(
        create_async_principle_evaluator(principle=Principle(PRINCIPLE), judge=_judge()[0], continuous=True)(**row)
    )
    assert sync["metadata"].pop("verdict")["scores"] == asyn["metadata"].pop("verdict")["scores"]
    assert sync == asyn
    assert sync["score"] == 1.0


def test_bad_arguments_and_rows_raise() -> None:
    judge, backend = _judge()
    with pytest.raises(UsageError, match="principle is empty"):
        create_principle_evaluator(principle=" ", judge=judge)
    with pytest.raises(UsageError, match="threshold"):
        create_principle_evaluator(principle=PRINCIPLE, judge=judge, threshold=4)
    with pytest.raises(UsageError, match="at least two distinct"):
        create_async_principle_evaluator(principle=PRINCIPLE, judge=judge, choices=[1, 1])
    with pytest.raises(UsageError, match="list of numbers"):
        create_principle_evaluator(principle=PRINCIPLE, judge=judge, choices=["good", "bad"])  # type: ignore[list-item]

    evaluator = create_principle_evaluator(principle=PRINCIPLE, judge=judge)
    with pytest.raises(UsageError, match="no outputs to judge"):
        evaluator(inputs={"question": "?"}, outputs={})
    assert backend.calls == []

    broken = create_principle_evaluator(principle=PRINCIPLE, judge=Judge(ScriptedBackend(default="no verdict")))
    with pytest.raises(VerdictError):  # raised, as openevals' evaluators raise
        broken(**ROW)


@pytest.mark.vllm
async def test_real_model_through_both_evaluators(vllm_server) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    row = {"inputs": {"question": "2+2?"}, "outputs": {"answer": "4"}, "reference_outputs": {"answer": "5"}}
    result = await create_async_principle_evaluator(principle=PRINCIPLE, judge=judge, continuous=True)(**row)
    assert set(result) == RESULT_KEYS
    assert isinstance(result["score"], float) and 0.0 <= result["score"] <= 1.0
    assert result["metadata"] is not None and isinstance(result["metadata"]["beats_reference"], bool)
    flag = await asyncio.to_thread(create_principle_evaluator(principle=PRINCIPLE, judge=judge), **row)
    assert isinstance(flag["score"], bool)
