"""The LangSmith evaluators, run through LangSmith's own evaluate/aevaluate, offline."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"

from langsmith import Client, aevaluate, evaluate
from langsmith.evaluation.evaluator import DynamicComparisonRunEvaluator
from langsmith.schemas import Example, Run

from ra_agents import (
    BackendUnavailable,
    Judge,
    UsageError,
    VerdictError,
    prompt_text,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.integrations.langsmith import (
    create_async_comparative_evaluator,
    create_async_run_evaluator,
    create_comparative_evaluator,
    create_run_evaluator,
)
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Correct answers first; shorter is better."


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)


@pytest.fixture(scope="module")
def client() -> Client:
    """A client that cannot leave the machine.

    ``aevaluate`` in langsmith 0.15 traces the target with tracing forced on even with
    ``upload_results=False``; a loopback URL, no sampling and preset info keep it home.
    """
    return Client(api_url="http://127.0.0.1:9", api_key="offline", info={}, tracing_sampling_rate=0.0)


def _judge(answer=None) -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=answer or prefer(lambda t: "4" in t))
    return Judge(backend, seed=0), backend


def _examples() -> list[Example]:
    dataset = uuid.uuid4()
    return [
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "2+2?"}, outputs={"answer": "4"}),
        Example(id=uuid.uuid4(), dataset_id=dataset, inputs={"question": "3+1?"}, outputs={}),
    ]


def _target(inputs: dict) -> dict:
    return {"answer": "5" if inputs["question"] == "2+2?" else "4"}


def _rows(results: Any) -> dict[str, Any]:
    out = {}
    for row in results:
        (feedback,) = row["evaluation_results"]["results"]
        out[row["example"].inputs["question"]] = feedback
    return out


def test_evaluate_offline_scores_with_and_without_reference(client: Client) -> None:
    judge, backend = _judge()
    evaluator = create_run_evaluator(judge, PRINCIPLE, key="correct")

    rows = _rows(evaluate(_target, data=_examples(), evaluators=[evaluator], upload_results=False, client=client))

    with_ref, alone = rows["2+2?"], rows["3+1?"]
    assert with_ref.key == alone.key == "correct"
    # "5" judged against the reference "4" in one listwise call: it loses.
    assert with_ref.score == 0.0
    assert with_ref.metadata["beats_reference"] is False
    assert with_ref.metadata["reference_score"] == 5
    assert "does not beat the reference" in with_ref.comment
    # "4" with no reference output is judged alone.
    assert alone.score == 1.0
    assert "beats_reference" not in alone.metadata
    sent = sorted(sorted(shown_responses(m).values()) for m, _ in backend.calls)
    assert sent == [["4"], ["4", "5"]]


async def test_aevaluate_offline_with_async_evaluator(client: Client) -> None:
    judge, _ = _judge()
    evaluator = create_async_run_evaluator(judge, PRINCIPLE, key="correct")

    async def target(inputs: dict) -> dict:
        return _target(inputs)

    # langsmith's hints type async evaluators as (run, example) only; it calls this one by its parameter names
    results = await aevaluate(target, data=_examples(), evaluators=[evaluator], upload_results=False, client=client)  # type: ignore[list-item]
    rows = _rows([row async for row in results])
    assert rows["2+2?"].score == 0.0 and rows["2+2?"].metadata["beats_reference"] is False
    assert rows["3+1?"].score == 1.0


def timeless(feedback: dict[str, Any]) -> dict[str, Any]:
    """The feedback without the verdict's wall time, which differs between two runs."""
    verdict = {k: v for k, v in feedback["metadata"]["verdict"].items() if k != "latency_s"}
    return {**feedback, "metadata": {**feedback["metadata"], "verdict": verdict}}


def test_sync_and_async_evaluators_agree() -> None:
    args = ({"question": "2+2?"}, {"answer": "4"}, {"answer": "four, I think"})
    sync = create_run_evaluator(_judge()[0], PRINCIPLE)(*args)
    asyn = asyncio.run(create_async_run_evaluator(_judge()[0], PRINCIPLE)(*args))
    assert timeless(sync) == timeless(asyn)
    assert sync["key"] == "principle"
    assert sync["score"] == 1.0 and sync["metadata"]["beats_reference"] is True
    verdict = sync["metadata"]["verdict"]
    assert verdict == verdict_to_dict(verdict_from_dict(verdict), raw=False)  # the one verdict shape
    assert verdict["ranking"] == ["output", "reference"] and verdict["scale"] == [1, 5]


def test_chat_inputs_reach_the_judge_as_the_one_prompt_text() -> None:
    judge, backend = _judge()
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "2+2?"}, {"type": "text", "text": "One word."}]},
    ]
    create_run_evaluator(judge, PRINCIPLE)({"messages": conversation}, {"answer": "4"})
    messages, _ = backend.calls[-1]
    assert json.loads(messages[1]["content"])["prompt"] == prompt_text(conversation)
    assert prompt_text(conversation) == "system: Be brief.\nuser: 2+2?\n  One word."


def test_extractors_and_reference_switch() -> None:
    judge, backend = _judge()
    evaluator = create_run_evaluator(
        judge,
        PRINCIPLE,
        prompt_from=lambda inputs: f"Q: {inputs['q']}",
        candidates_from="text",
        reference=False,
    )
    result = evaluator({"q": "2+2?", "lang": "en"}, {"text": "4", "tokens": 1}, {"text": "4"})
    assert result["score"] == 1.0
    messages, _ = backend.calls[-1]
    assert '"prompt": "Q: 2+2?"' in messages[1]["content"]
    assert list(shown_responses(messages).values()) == ["4"]

    assert "no 'text' in the outputs" in evaluator({"q": "?"}, {"answer": "4"}, {})["comment"]


def test_comment_carries_the_judges_reasoning() -> None:
    def answer(messages, settings):
        (name,) = shown_responses(messages)
        return f'<think>It says 4, which is right.</think>{{"scores": {{"{name}": 4}}, "best-to-worst": ["{name}"]}}'

    result = create_run_evaluator(Judge(ScriptedBackend(default=answer)), PRINCIPLE, key="ok")(
        {"q": "2+2?"}, {"a": "4"}
    )
    assert result["score"] == 0.75
    assert result["comment"].startswith("ok: 4/5")
    assert "It says 4, which is right." in result["comment"]


def test_bad_inputs_raise_clear_usage_errors() -> None:
    judge, backend = _judge()
    with pytest.raises(UsageError, match="principle is empty"):
        create_run_evaluator(judge, "  ")
    with pytest.raises(UsageError, match="principle is empty"):
        create_comparative_evaluator(judge, "")
    bad_rows: list[tuple[Callable[..., dict[str, Any]], tuple[dict[str, Any], ...], str]] = [
        (create_run_evaluator(judge, PRINCIPLE), ({"q": "?"}, {}, {}), "no outputs to judge"),
        (create_run_evaluator(judge, PRINCIPLE), ({"q": "?"}, {"answer": None}, {}), "did the target fail"),
        (
            create_run_evaluator(judge, PRINCIPLE, prompt_from="question"),
            ({"q": "?"}, {"a": "4"}, {}),
            "no 'question' in the inputs",
        ),
        (
            create_run_evaluator(judge, PRINCIPLE, key="k", reference="gold"),
            ({"q": "?"}, {"a": "4"}, {"answer": "4"}),
            "no 'gold' in the reference_outputs",
        ),
    ]
    for evaluator, row, message in bad_rows:
        feedback = evaluator(*row)
        assert feedback["score"] is None and feedback["extra"] == {"error": True}
        assert feedback["comment"].startswith("UsageError: ") and message in feedback["comment"]
    assert feedback["key"] == "k"
    assert backend.calls == []  # nothing reached the judge


def test_failed_target_is_recorded_as_a_failed_evaluation(client: Client) -> None:
    judge, backend = _judge()
    evaluator = create_run_evaluator(judge, PRINCIPLE, key="correct")

    def broken(inputs: dict) -> dict:
        raise RuntimeError("the app crashed")

    rows = _rows(evaluate(broken, data=_examples()[:1], evaluators=[evaluator], upload_results=False, client=client))
    feedback = rows["2+2?"]
    assert feedback.key == "correct" and feedback.score is None
    assert "no outputs to judge" in feedback.comment
    assert backend.calls == []


def test_expected_scores_are_used_when_available() -> None:
    from ra_agents import Completion, TokenLogprob

    def answer(messages, settings):
        name = next(iter(shown_responses(messages)))
        text = f'{{"scores": {{"{name}": 4}}, "best-to-worst": ["{name}"]}}'
        head = f'{{"scores": {{"{name}": '
        tokens = [
            TokenLogprob(head, 0.0),
            TokenLogprob("4", -0.1, {"4": -0.1, "5": -2.4}),
            TokenLogprob(text[len(head) + 1 :], 0.0),
        ]
        return Completion(text=text, logprobs=tokens)

    backend = ScriptedBackend(default=answer, supports_logprobs=True)
    result = create_run_evaluator(Judge(backend), PRINCIPLE)({"q": "?"}, {"a": "x"}, {})
    assert result["metadata"]["raw_score"] == 4
    assert 0.75 < result["score"] < 1.0  # between 4 and 5, nearer 4


def test_judge_failure_fails_closed_in_evaluate(client: Client) -> None:
    judge, _ = _judge(answer="no verdict here")
    evaluator = create_run_evaluator(judge, PRINCIPLE, key="correct")
    rows = _rows(evaluate(_target, data=_examples()[:1], evaluators=[evaluator], upload_results=False, client=client))
    feedback = rows["2+2?"]
    assert feedback.key == "correct" and feedback.score == 0.0  # fail closed: not a passing score
    assert feedback.extra == {"error": True}
    assert feedback.comment.startswith(f"{VerdictError.__name__}: ")
    assert feedback.metadata == {"error": "VerdictError", "on_judge_error": "fail_closed"}


@pytest.mark.parametrize("factory", [create_run_evaluator, create_async_run_evaluator])
def test_on_judge_error_open_and_raise(factory: Any) -> None:
    judge = Judge(ScriptedBackend(default=BackendUnavailable("the judge is down")), max_retries=0)

    def call(evaluator: Any) -> dict[str, Any]:
        out = evaluator({"q": "2+2?"}, {"a": "4"})
        return asyncio.run(out) if asyncio.iscoroutine(out) else out

    opened = call(factory(judge, PRINCIPLE, on_judge_error="fail_open"))
    assert opened["score"] == 1.0 and opened["extra"] == {"error": True} and "the judge is down" in opened["comment"]
    with pytest.raises(BackendUnavailable, match="the judge is down"):
        call(factory(judge, PRINCIPLE, on_judge_error="raise"))
    with pytest.raises(UsageError, match="on_judge_error must be one of"):
        factory(judge, PRINCIPLE, on_judge_error="ignore")


def _run(answer: str) -> Run:
    return Run(
        id=uuid.uuid4(),
        name="app",
        start_time="2024-01-01T00:00:00",
        run_type="chain",
        inputs={"question": "2+2?"},
        outputs={"answer": answer},
        trace_id=uuid.uuid4(),
    )


def _example() -> Example:
    return Example(id=uuid.uuid4(), dataset_id=uuid.uuid4(), inputs={"question": "2+2?"}, outputs={})


def test_comparative_evaluator_raises_judge_failures_unless_told() -> None:
    judge = Judge(ScriptedBackend(default=BackendUnavailable("down")), max_retries=0)
    runs = [_run("5"), _run("4")]
    with pytest.raises(BackendUnavailable):
        create_comparative_evaluator(judge, PRINCIPLE)(runs, _example())
    closed = create_comparative_evaluator(judge, PRINCIPLE, on_judge_error="fail_closed")(runs, _example())
    assert closed["scores"] == {runs[0].id: 0.0, runs[1].id: 0.0} and closed["comment"].startswith("BackendUnavailable")


def test_comparative_evaluator_through_langsmith_wrapper() -> None:
    judge, backend = _judge()
    runs = [_run("5"), _run("4"), _run("22")]
    result = DynamicComparisonRunEvaluator(create_comparative_evaluator(judge, PRINCIPLE)).compare_runs(
        runs, _example()
    )
    assert result.key == "principle_preference"
    assert result.scores == {runs[0].id: 0.0, runs[1].id: 1.0, runs[2].id: 0.0}
    assert len(backend.calls) == 1  # one listwise call for all three runs


async def test_async_comparative_evaluator() -> None:
    judge, _ = _judge()
    runs = [_run("4"), _run("5")]
    result = await DynamicComparisonRunEvaluator(create_async_comparative_evaluator(judge, PRINCIPLE)).acompare_runs(
        runs, _example()
    )
    assert result.scores == {runs[0].id: 1.0, runs[1].id: 0.0}


@pytest.mark.vllm
def test_real_model_through_evaluate(vllm_server, client: Client) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    evaluator = create_run_evaluator(judge, PRINCIPLE, key="correct")
    rows = _rows(evaluate(_target, data=_examples()[:1], evaluators=[evaluator], upload_results=False, client=client))
    feedback = rows["2+2?"]
    assert feedback.key == "correct"
    assert feedback.extra is None, feedback.comment  # a verdict, not an error
    assert 0.0 <= feedback.score <= 1.0
    assert isinstance(feedback.metadata["beats_reference"], bool)
