"""OpenTelemetry spans for judge calls (GenAI semantic conventions plus ``ra.*``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from ._types import JudgeResult

__all__ = ["judge_span", "record_result"]

_tracer = trace.get_tracer("ra_agents")


@contextmanager
def judge_span(
    *, model: str, provider: str, candidates: int, permutations: int, max_tokens: int, temperature: float
) -> Iterator[Span]:
    """One span around a whole judge call; errors mark it as failed."""
    with _tracer.start_as_current_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.request.max_tokens": max_tokens,
            "gen_ai.request.temperature": temperature,
            "ra.candidates": candidates,
            "ra.permutations": permutations,
        },
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        yield span


def record_result(span: Span, result: JudgeResult) -> None:
    """Put the verdict's figures on the span."""
    span.set_attributes(
        {
            "gen_ai.response.model": result.model,
            "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": result.usage.completion_tokens,
            "ra.winner": result.best,
            "ra.ranking": list(result.ranking),
            "ra.scores": json.dumps(dict(result.scores)),
            "ra.retries": result.retries,
            "ra.ranking_repaired": result.ranking_repaired,
        }
    )
    if result.agreement is not None:
        span.set_attribute("ra.agreement", result.agreement)
    if result.pairwise_agreement is not None:
        span.set_attribute("ra.pairwise_agreement", result.pairwise_agreement)
    span.set_status(Status(StatusCode.OK))
