"""The JSON shapes of the judge service, shared by the server and the client.

Pure pydantic: no HTTP library here. The server (``ra_agents.server``) validates bodies
with these models; the client (``ra_agents.client``) turns answers back into the
library's own :class:`~ra_agents.JudgeResult` and error types, so code written against
the library works unchanged against a server.

Native API:

- ``POST /v1/judge``: a :class:`~ra_agents.JudgeRequest` -> :class:`VerdictOut`.
- ``POST /v1/judge/batch``: :class:`BatchIn` -> :class:`BatchOut` (one item per request,
  in request order; each a verdict or an :class:`ErrorOut`).
- Errors: ``{"error": {"type", "message", "limit", "value"}}`` with a 4xx/5xx status.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthError,
    RAError,
    UsageError,
    VerdictError,
)
from ._types import JudgeRequest, JudgeResult, PassVerdict, Usage

__all__ = [
    "PassOut",
    "VerdictOut",
    "ErrorOut",
    "ErrorBody",
    "BatchIn",
    "BatchItemOut",
    "BatchOut",
    "RARequest",
    "RAResponse",
    "OpenRLHFRequest",
    "OpenRLHFResponse",
    "result_to_wire",
    "result_from_wire",
    "error_to_wire",
    "error_from_wire",
]


class PassOut(BaseModel):
    """One judging pass, in real names."""

    order: list[str]
    scores: dict[str, int]
    ranking: list[str]
    reasoning: str = ""
    repaired: bool = False
    expected_scores: dict[str, float] | None = None
    attempts: int = 1


class VerdictOut(BaseModel):
    """Everything a :class:`~ra_agents.JudgeResult` holds (raw answer texts aside)."""

    names: list[str]
    scores: dict[str, float]
    ranking: list[str]
    best: str
    normalized: dict[str, float]
    expected_scores: dict[str, float] | None = None
    reasoning: str = ""
    agreement: float | None = None
    pairwise_agreement: float | None = None
    ranking_repaired: bool = False
    retries: int = 0
    usage: dict[str, int] = Field(default_factory=dict)
    latency_s: float = 0.0
    model: str = ""
    scale: tuple[int, int] = (1, 5)
    principle: str = ""
    passes: list[PassOut] = Field(default_factory=list)


class ErrorOut(BaseModel):
    """A typed error: ``type`` is the library's error class name."""

    type: str
    message: str
    limit: str | None = None
    value: int | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorOut


class BatchIn(BaseModel):
    """Many judging requests; each is validated on its own, so one bad item sinks nothing."""

    model_config = ConfigDict(extra="forbid")

    requests: list[Any]


class BatchItemOut(BaseModel):
    """One batch entry: ``ok`` with a verdict, or not ``ok`` with an error."""

    index: int
    id: str | int | None = None
    ok: bool
    verdict: VerdictOut | None = None
    error: ErrorOut | None = None


class BatchOut(BaseModel):
    """The batch's results in request order."""

    results: list[BatchItemOut]


class RARequest(BaseModel):
    """The reference ``rewardanything`` request (``/api/rewardanything``)."""

    principle: str
    prompt: str
    responses: dict[str, str]
    mask_responses: bool = True


class RAResponse(BaseModel):
    """The reference ``rewardanything`` response: reasoning and ``{"scores", "best-to-worst"}``."""

    thoughts: str
    results: dict[str, Any]


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward model request (``--remote_rm_url``).

    ``query`` holds prompt + response texts; ``prompts`` the prompts (so the response is
    the query after its prompt); ``labels`` optional per-sample labels, which may carry a
    principle (see the server docs).
    """

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    principle: str | None = None


class OpenRLHFResponse(BaseModel):
    """OpenRLHF's expected answer: one reward per sample, plus scores and logs."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)


def result_to_wire(result: JudgeResult) -> VerdictOut:
    """A :class:`JudgeResult` as its wire model."""
    return VerdictOut(
        names=list(result.names),
        scores=dict(result.scores),
        ranking=list(result.ranking),
        best=result.best,
        normalized=dict(result.normalized),
        expected_scores=dict(result.expected_scores) if result.expected_scores else None,
        reasoning=result.reasoning,
        agreement=result.agreement,
        pairwise_agreement=result.pairwise_agreement,
        ranking_repaired=result.ranking_repaired,
        retries=result.retries,
        usage={"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens},
        latency_s=result.latency_s,
        model=result.model,
        scale=result.scale,
        principle=result.principle,
        passes=[
            PassOut(
                order=list(p.order),
                scores=dict(p.scores),
                ranking=list(p.ranking),
                reasoning=p.reasoning,
                repaired=p.repaired,
                expected_scores=dict(p.expected_scores) if p.expected_scores else None,
                attempts=p.attempts,
            )
            for p in result.passes
        ],
    )


def result_from_wire(data: VerdictOut | dict[str, Any]) -> JudgeResult:
    """The :class:`JudgeResult` a wire verdict describes."""
    v = data if isinstance(data, VerdictOut) else VerdictOut.model_validate(data)
    return JudgeResult(
        names=tuple(v.names),
        scores=v.scores,
        ranking=tuple(v.ranking),
        normalized=v.normalized,
        reasoning=v.reasoning,
        passes=tuple(
            PassVerdict(
                order=tuple(p.order),
                scores=p.scores,
                ranking=tuple(p.ranking),
                reasoning=p.reasoning,
                repaired=p.repaired,
                expected_scores=p.expected_scores,
                attempts=p.attempts,
            )
            for p in v.passes
        ),
        expected_scores=v.expected_scores,
        agreement=v.agreement,
        pairwise_agreement=v.pairwise_agreement,
        ranking_repaired=v.ranking_repaired,
        retries=v.retries,
        usage=Usage(v.usage.get("prompt_tokens", 0), v.usage.get("completion_tokens", 0)),
        latency_s=v.latency_s,
        model=v.model,
        scale=(int(v.scale[0]), int(v.scale[1])),
        principle=v.principle,
    )


_ERROR_TYPES: dict[str, type[RAError]] = {
    cls.__name__: cls
    for cls in (RAError, UsageError, BackendError, BackendUnavailable, BackendTimeout, ContextLengthError, VerdictError)
}

ErrorType = Literal[
    "RAError",
    "UsageError",
    "BackendError",
    "BackendUnavailable",
    "BackendTimeout",
    "ContextLengthError",
    "VerdictError",
]


def error_to_wire(exc: RAError) -> ErrorOut:
    """A library error as its wire model (with the ``limit`` and ``value`` a server limit error carries)."""
    name = type(exc).__name__ if type(exc).__name__ in _ERROR_TYPES else _nearest(exc)
    return ErrorOut(type=name, message=str(exc), limit=getattr(exc, "limit", None), value=getattr(exc, "value", None))


def _nearest(exc: RAError) -> str:
    for cls in type(exc).__mro__:
        if cls.__name__ in _ERROR_TYPES:
            return cls.__name__
    return "RAError"


def error_from_wire(error: ErrorOut | dict[str, Any], status: int | None = None) -> RAError:
    """The library error a wire error describes (``UsageError`` for any unknown 4xx type)."""
    e = error if isinstance(error, ErrorOut) else ErrorOut.model_validate(error)
    cls = _ERROR_TYPES.get(e.type)
    if cls is None:
        cls = UsageError if status is not None and 400 <= status < 500 else BackendError
    if cls is VerdictError:
        return VerdictError(e.message)
    return cls(e.message)


# Re-exported for the server's and client's type hints.
JudgeIn = JudgeRequest
