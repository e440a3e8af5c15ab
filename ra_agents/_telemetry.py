"""OpenTelemetry spans for judge calls (GenAI semantic conventions plus ``ra_agents.*``).

Each verdict also adds one ``gen_ai.evaluation.result`` event per candidate to the judge
span (the GenAI conventions' evaluation result, parented to the operation it evaluates):

- ``gen_ai.evaluation.name``: :data:`EVALUATION_NAME`, the same for every verdict.
- ``gen_ai.evaluation.score.value``: the candidate's score on the judge's scale.
- ``gen_ai.evaluation.score.label``: ``"best"`` (ranked first), ``"worst"`` (ranked last,
  with two or more candidates) or ``"middle"``; a low-cardinality reading of the ranking.
- ``gen_ai.evaluation.explanation``: the judge's reasoning, cut to
  :data:`EXPLANATION_MAX_CHARS` (absent when the judge gave none).
- ``ra_agents.candidate`` and ``ra_agents.rank`` (1 is best): which candidate it is.
- ``ra_agents.evaluator.model``, ``ra_agents.score.min`` and ``ra_agents.score.max``: the
  evaluator's model and the score range the value is on; ``ra_agents.unit_score``: the value
  the acceptance rule compares with a threshold.

Every attribute of ours is under ``ra_agents.*`` (the span's ``ra_agents.candidates``,
``ra_agents.winner``, ``ra_agents.scores``, ``ra_agents.flagged`` (candidates whose text tries
to steer the judge) ...), beside the ``gen_ai.*`` conventions.

Events follow the ranking, best first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from ._types import JudgeResult

__all__ = [
    "judge_span",
    "record_result",
    "record_cache_hit",
    "tracing_enabled",
    "EVALUATION_NAME",
    "EXPLANATION_MAX_CHARS",
]

EVALUATION_NAME = "ra_agents.principle"
"""``gen_ai.evaluation.name`` of every verdict: adherence to the principle it was judged under."""
EXPLANATION_MAX_CHARS = 256
"""Longest ``gen_ai.evaluation.explanation``; longer reasoning is cut and ends with an ellipsis."""

_tracer = trace.get_tracer("ra_agents")
_NO_OP_PROVIDERS = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def tracing_enabled() -> bool:
    """Whether a tracer provider that records is installed (an SDK's), not the API's default no-op."""
    return not isinstance(trace.get_tracer_provider(), _NO_OP_PROVIDERS)


@contextmanager
def judge_span(
    *, model: str, provider: str, candidates: int, permutations: int, max_tokens: int, temperature: float
) -> Iterator[Span]:
    """One span around a whole judge call; errors mark it as failed.

    Without a tracing SDK the span would record nothing: the current span (which still carries
    any incoming trace context to the backend's request headers) is yielded instead of
    starting one, which spares a fast server the no-op span's cost.
    """
    if not tracing_enabled():
        yield trace.get_current_span()
        return
    with _tracer.start_as_current_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.request.max_tokens": max_tokens,
            "gen_ai.request.temperature": temperature,
            "ra_agents.candidates": candidates,
            "ra_agents.permutations": permutations,
        },
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        yield span


def record_cache_hit(span: Span, hit: bool) -> None:
    """Mark whether the verdict came from the verdict cache (only set when a cache was asked)."""
    span.set_attribute("ra_agents.cache.hit", hit)


def record_result(span: Span, result: JudgeResult) -> None:
    """Put the verdict's figures on the span."""
    if not span.is_recording():  # no tracing SDK, or not sampled: skip building the attributes
        return
    span.set_attributes(
        {
            "gen_ai.response.model": result.model,
            "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": result.usage.completion_tokens,
            "ra_agents.winner": result.best,
            "ra_agents.ranking": list(result.ranking),
            "ra_agents.scores": json.dumps(dict(result.scores)),
            "ra_agents.retries": result.retries,
            "ra_agents.ranking_repaired": result.ranking_repaired,
        }
    )
    if result.flags:
        span.set_attribute("ra_agents.flagged", sorted(result.flags))
    if result.agreement is not None:
        span.set_attribute("ra_agents.agreement", result.agreement)
    if result.pairwise_agreement is not None:
        span.set_attribute("ra_agents.pairwise_agreement", result.pairwise_agreement)
    _add_evaluation_events(span, result)
    span.set_status(Status(StatusCode.OK))


def _add_evaluation_events(span: Span, result: JudgeResult) -> None:
    """One ``gen_ai.evaluation.result`` event per candidate, best first."""
    reasoning = result.reasoning.strip()
    if len(reasoning) > EXPLANATION_MAX_CHARS:
        reasoning = reasoning[: EXPLANATION_MAX_CHARS - 1] + "\u2026"
    last = len(result.ranking)
    for rank, name in enumerate(result.ranking, start=1):
        label = "best" if rank == 1 else "worst" if rank == last else "middle"
        attributes: dict[str, str | float | int] = {
            "gen_ai.evaluation.name": EVALUATION_NAME,
            "gen_ai.evaluation.score.value": float(result.scores[name]),
            "gen_ai.evaluation.score.label": label,
            "ra_agents.candidate": name,
            "ra_agents.rank": rank,
            "ra_agents.evaluator.model": result.model,
            "ra_agents.score.min": result.scale[0],
            "ra_agents.score.max": result.scale[1],
            "ra_agents.unit_score": result.unit_score(name),
        }
        if reasoning:
            attributes["gen_ai.evaluation.explanation"] = reasoning
        span.add_event("gen_ai.evaluation.result", attributes)
