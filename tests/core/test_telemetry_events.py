"""Each verdict's ``gen_ai.evaluation.result`` events on the judge span (OTel GenAI conventions).

The scripted backend decides the verdict; the SDK's in-memory exporter (the ``spans``
fixture) shows exactly what a collector would receive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from ra_agents import Completion, GenerationSettings, Judge, Message, Usage, VerdictError
from ra_agents._telemetry import EVALUATION_NAME, EXPLANATION_MAX_CHARS
from ra_agents.testing import ScriptedBackend, shown_responses

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."
PROMPT = "What is 2 + 2?"
SCORE_OF = {"4": 5, "four, since 2 + 2 = 4": 3, "5": 1}


def _verdict(messages: Sequence[Message], score_of: dict[str, int]) -> str:
    """A verdict scoring each shown text with ``score_of`` (content-based, order-blind)."""
    scores = {m: score_of[t] for m, t in shown_responses(messages).items()}
    return json.dumps({"scores": scores, "best-to-worst": sorted(scores, key=lambda m: -scores[m])})


def _answer(reasoning: str | None):
    def answer(messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        return Completion(_verdict(messages, SCORE_OF), reasoning=reasoning, usage=Usage(10, 5), model="scripted")

    return answer


def _evaluations(span) -> list[dict]:
    return [dict(e.attributes) for e in span.events if e.name == "gen_ai.evaluation.result"]


async def test_one_event_per_candidate_on_the_judge_span_best_first(spans) -> None:
    reasoning = "short; " * 100  # 700 characters: cut to the bound
    judge = Judge(ScriptedBackend(default=_answer(reasoning)), seed=5)
    result = await judge.ajudge(PRINCIPLE, PROMPT, {"terse": "4", "wordy": "four, since 2 + 2 = 4", "wrong": "5"})

    (span,) = spans.get_finished_spans()
    assert span.name == "chat scripted"
    assert [e.name for e in span.events] == ["gen_ai.evaluation.result"] * 3
    explanation = reasoning.strip()[: EXPLANATION_MAX_CHARS - 1] + "\u2026"
    assert len(explanation) == EXPLANATION_MAX_CHARS == 256
    assert EVALUATION_NAME == "ra_agents.principle"
    assert _evaluations(span) == [
        {
            "gen_ai.evaluation.name": EVALUATION_NAME,
            "gen_ai.evaluation.score.value": 5.0,
            "gen_ai.evaluation.score.label": "best",
            "gen_ai.evaluation.explanation": explanation,
            "ra_agents.candidate": "terse",
            "ra_agents.rank": 1,
            "ra_agents.evaluator.model": "scripted",
            "ra_agents.score.min": 1,
            "ra_agents.score.max": 5,
            "ra_agents.unit_score": 1.0,
        },
        {
            "gen_ai.evaluation.name": EVALUATION_NAME,
            "gen_ai.evaluation.score.value": 3.0,
            "gen_ai.evaluation.score.label": "middle",
            "gen_ai.evaluation.explanation": explanation,
            "ra_agents.candidate": "wordy",
            "ra_agents.rank": 2,
            "ra_agents.evaluator.model": "scripted",
            "ra_agents.score.min": 1,
            "ra_agents.score.max": 5,
            "ra_agents.unit_score": 0.5,
        },
        {
            "gen_ai.evaluation.name": EVALUATION_NAME,
            "gen_ai.evaluation.score.value": 1.0,
            "gen_ai.evaluation.score.label": "worst",
            "gen_ai.evaluation.explanation": explanation,
            "ra_agents.candidate": "wrong",
            "ra_agents.rank": 3,
            "ra_agents.evaluator.model": "scripted",
            "ra_agents.score.min": 1,
            "ra_agents.score.max": 5,
            "ra_agents.unit_score": 0.0,
        },
    ]
    # the events agree with the verdict the caller got
    assert [e["ra_agents.candidate"] for e in _evaluations(span)] == list(result.ranking)
    assert {e["ra_agents.candidate"]: e["gen_ai.evaluation.score.value"] for e in _evaluations(span)} == dict(
        result.scores
    )


async def test_short_reasoning_is_kept_whole_and_no_reasoning_means_no_explanation(spans) -> None:
    judge = Judge(ScriptedBackend([_answer("  Four is right.  "), _answer(None)]), seed=0)

    await judge.ajudge(PRINCIPLE, PROMPT, {"terse": "4", "wrong": "5"})
    await judge.ajudge(PRINCIPLE, PROMPT, {"only": "4"})

    first, second = spans.get_finished_spans()
    assert [(e["ra_agents.candidate"], e["gen_ai.evaluation.score.label"]) for e in _evaluations(first)] == [
        ("terse", "best"),
        ("wrong", "worst"),
    ]
    assert {e["gen_ai.evaluation.explanation"] for e in _evaluations(first)} == {"Four is right."}
    assert _evaluations(second) == [
        {
            "gen_ai.evaluation.name": EVALUATION_NAME,
            "gen_ai.evaluation.score.value": 5.0,
            "gen_ai.evaluation.score.label": "best",
            "ra_agents.candidate": "only",
            "ra_agents.rank": 1,
            "ra_agents.evaluator.model": "scripted",
            "ra_agents.score.min": 1,
            "ra_agents.score.max": 5,
            "ra_agents.unit_score": 1.0,
        }
    ]


async def test_mean_score_over_permutations_is_the_event_value(spans) -> None:
    # the first pass (whatever order) scores a 5 and a 1, the second a 4 and a 2: means 4.5 and 1.5
    backend = ScriptedBackend([lambda m, s: _verdict(m, {"4": 5, "5": 1}), lambda m, s: _verdict(m, {"4": 4, "5": 2})])
    judge = Judge(backend, seed=1, permutations=2)
    await judge.ajudge(PRINCIPLE, PROMPT, {"right": "4", "wrong": "5"})
    (span,) = spans.get_finished_spans()
    assert [(e["ra_agents.candidate"], e["gen_ai.evaluation.score.value"]) for e in _evaluations(span)] == [
        ("right", 4.5),
        ("wrong", 1.5),
    ]


async def test_no_evaluation_events_when_the_verdict_fails(spans) -> None:
    judge = Judge(ScriptedBackend(default="not a verdict"), max_retries=0)
    with pytest.raises(VerdictError):
        await judge.ajudge(PRINCIPLE, PROMPT, {"a": "4", "b": "5"})
    (span,) = spans.get_finished_spans()
    assert _evaluations(span) == []
    assert not span.status.is_ok


async def test_without_a_tracing_sdk_no_judge_span_is_started_but_the_trace_context_still_flows(
    spans, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SDK: the judge reuses the current span, so an incoming trace id still reaches the backend."""
    from opentelemetry import trace
    from opentelemetry.propagate import inject

    import ra_agents._telemetry as telemetry

    seen: list[dict[str, str]] = []

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        headers: dict[str, str] = {}
        inject(headers)  # what the HTTP backends send upstream
        seen.append(headers)
        return Completion(_verdict(messages, SCORE_OF), usage=Usage(10, 5), model="scripted")

    judge = Judge(ScriptedBackend(default=answer))
    parent = trace.get_tracer("test").start_span("incoming request")
    monkeypatch.setattr(telemetry.trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    assert not telemetry.tracing_enabled()
    with trace.use_span(parent, end_on_exit=True):
        result = await judge.ajudge(PRINCIPLE, PROMPT, list(SCORE_OF))
    assert result.best == "0"
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert seen and trace_id in seen[0]["traceparent"]
    assert [s.name for s in spans.get_finished_spans()] == ["incoming request"]  # no judge span
