"""What the two OpenAI-compatible backends share: the sampling fields of a request, the
retry policy, and the typed errors of a failed call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._errors import BackendError, ContextLengthError
from .._types import GenerationSettings

__all__ = ["CONTEXT_HINTS", "sampling_fields", "retrying", "with_retries", "context_length_error", "first_line"]

_T = TypeVar("_T")

CONTEXT_HINTS = ("maximum context length", "context length", "context_length_exceeded", "too many tokens")
"""Phrases of a server's error that mean the request does not fit the context window."""


def sampling_fields(settings: GenerationSettings, *, json_schema: bool, logprobs: bool) -> dict[str, Any]:
    """max_tokens, temperature, seed, the verdict's JSON schema and the logprob ask, as OpenAI fields."""
    fields: dict[str, Any] = {
        "max_tokens": settings.get("max_tokens", 512),
        "temperature": settings.get("temperature", 0.0),
    }
    if "seed" in settings:
        fields["seed"] = settings["seed"]
    if "json_schema" in settings and json_schema:
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": settings["json_schema"], "strict": True},
        }
    if settings.get("top_logprobs") and logprobs:
        fields["logprobs"] = True
        fields["top_logprobs"] = settings["top_logprobs"]
    return fields


def retrying(num_retries: int) -> Any:
    """tenacity's retry loop: retryable :class:`BackendError` only, exponential backoff."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

    return AsyncRetrying(
        stop=stop_after_attempt(num_retries + 1),
        wait=wait_exponential(multiplier=0.5, max=8),
        retry=retry_if_exception(lambda e: isinstance(e, BackendError) and e.retryable),
        reraise=True,
    )


async def with_retries(call: Callable[[], Awaitable[_T]], num_retries: int) -> _T:
    """``await call()`` under :func:`retrying`'s policy, without building it for a call that succeeds.

    The first attempt runs bare. If it fails retryably, tenacity's loop takes over and is
    handed that failure as its own first attempt, so the waits and the number of attempts
    are exactly the policy's. Building tenacity's loop cost a fast server about 5% of its CPU
    per request, when almost every call succeeds the first time.
    """
    try:
        return await call()
    except BackendError as exc:
        if not exc.retryable or num_retries < 1:
            raise
        first: BackendError | None = exc
    async for attempt in retrying(num_retries):
        with attempt:
            if first is not None:
                failed, first = first, None
                raise failed
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover - tenacity re-raises the last failure


def first_line(text: str) -> str:
    """The first line of an error body, at most 300 characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def context_length_error(body: str, status: int | None) -> ContextLengthError:
    """The context-overflow error, saying what to do."""
    return ContextLengthError(
        f"the request does not fit the judge model's context window ({first_line(body)}); judge fewer or "
        "shorter candidates per call, lower max_tokens, or serve the model with a larger --max-model-len",
        status=status,
        body=body,
    )
