"""The retry rule both OpenAI-compatible backends share: a bare first attempt, then tenacity's loop."""

from __future__ import annotations

import pytest

from ra_agents._errors import BackendError
from ra_agents.backends._openai_wire import with_retries


def _failing(retryable: bool, failures: int, calls: list[int]):
    async def call() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            err = BackendError(f"attempt {len(calls)} failed", status=503 if retryable else 400)
            err.retryable = retryable
            raise err
        return f"answer on attempt {len(calls)}"

    return call


async def test_a_call_that_succeeds_is_made_once() -> None:
    calls: list[int] = []
    assert await with_retries(_failing(True, 0, calls), 2) == "answer on attempt 1"
    assert calls == [1]


async def test_retryable_failures_are_retried_up_to_the_limit() -> None:
    calls: list[int] = []
    assert await with_retries(_failing(True, 2, calls), 2) == "answer on attempt 3"
    assert calls == [1, 2, 3]


async def test_the_last_failure_is_raised_when_retries_run_out() -> None:
    calls: list[int] = []
    with pytest.raises(BackendError, match="attempt 2 failed"):
        await with_retries(_failing(True, 5, calls), 1)
    assert calls == [1, 2]  # num_retries + 1 attempts, as the policy says


@pytest.mark.parametrize(("retryable", "num_retries"), [(False, 2), (True, 0)])
async def test_no_retry_for_a_non_retryable_failure_or_without_retries(retryable: bool, num_retries: int) -> None:
    calls: list[int] = []
    with pytest.raises(BackendError, match="attempt 1 failed"):
        await with_retries(_failing(retryable, 5, calls), num_retries)
    assert calls == [1]
