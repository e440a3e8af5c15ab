"""LiteLLM backend: vLLM servers, any OpenAI-compatible endpoint, hosted providers.

Retries use tenacity and happen only where a retry can help (connection errors,
timeouts, 429 and 5xx answers); a bad request or a context overflow fails at once.
The current span's context travels in the ``traceparent`` header, so a vLLM server
started with an OTLP traces endpoint joins the caller's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import weakref
from collections.abc import Sequence
from typing import Any

from .._errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    MissingDependencyError,
    UsageError,
)
from .._types import Completion, GenerationSettings, Message, TokenLogprob, Usage
from ..settings import check_api_base
from ..sync import sync_loop
from ._openai_wire import CONTEXT_HINTS, context_length_error, first_line, sampling_fields, with_retries

__all__ = ["LiteLLMBackend"]

_SCHEMA_PROVIDERS = {"hosted_vllm", "openai", "vllm", "azure", "fireworks_ai", "together_ai", "deepinfra"}
_CONNECTION_HINTS = (
    "cannot connect",
    "connect call failed",
    "connection refused",
    "connecterror",
    "server disconnected",
    "connection reset",
    "remote end closed",
    "connection aborted",
)


def _litellm() -> Any:
    litellm: Any = sys.modules.get("litellm")
    if litellm is None:
        # LiteLLM otherwise fetches its price map from the internet at import (seconds
        # of delay, or failure, on a closed network); users can still set it to False.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except ImportError as exc:
            raise MissingDependencyError("litellm", "litellm", "The LiteLLM backend") from exc
    if litellm not in _QUIETED:
        # LiteLLM's documented switch for its "Give Feedback / Get Help" and "Provider List"
        # banners, printed on every failure: our errors say what went wrong and what to do,
        # and a banner after each one reads as a crash. Set once, so a user who sets it back
        # keeps their choice.
        litellm.suppress_debug_info = True
        logging.getLogger("LiteLLM").addFilter(_quiet_loop_change)
        _QUIETED.add(litellm)
    return litellm


_QUIETED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The LiteLLM module once configured (a set, so a re-imported module is configured again)."""


def _quiet_loop_change(record: logging.LogRecord) -> bool:
    """Drop LiteLLM's warning that it moved queued logging callbacks to a new event loop.

    A script that calls ``judge()`` (on the sync portal's loop) and ``asyncio.run(ajudge())``
    changes loops by design; LiteLLM carries the callbacks over and runs them, so nothing
    is lost, and the warning reads as a failure.
    """
    return not str(record.msg).startswith("LoggingWorker: event loop changed")


async def _hand_over_logging() -> None:
    """Let LiteLLM's logging worker leave the sync portal's loop cleanly before a call on another loop.

    LiteLLM keeps one logging worker per process, bound to the loop of the last call. When
    the next call runs on another loop it starts a new worker and drops the old one's task,
    which stays pending on a loop that never stops (the portal that runs sync calls) until
    the garbage collector destroys it: "Task was destroyed but it is pending!". So when a
    call leaves the portal's loop, the worker there finishes its queue and stops first, on
    its own loop (LiteLLM's ``flush`` and ``stop``).
    """
    logging_worker = sys.modules.get("litellm.litellm_core_utils.logging_worker")  # imported by litellm
    worker = getattr(logging_worker, "GLOBAL_LOGGING_WORKER", None)
    bound = getattr(worker, "_bound_loop", None)
    loop = sync_loop()
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    if worker is None or loop is asyncio.get_running_loop() or not _same(bound, loop):
        return
    with contextlib.suppress(Exception):  # best effort: never fail a judge call over logging
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_retire(worker), loop))


def _same(a: object, b: object) -> bool:
    return a is b


async def _retire(worker: Any) -> None:
    """Run LiteLLM's logging worker's queue to the end, then stop it (on the worker's own loop)."""
    await asyncio.wait_for(worker.flush(), timeout=5)
    await worker.stop()


def _check_model(litellm: Any, model: str, api_base: str | None) -> None:
    """A model LiteLLM cannot route (no provider prefix) as a :class:`UsageError` with the fix."""
    try:
        litellm.get_llm_provider(model)
    except Exception as exc:  # LiteLLM raises its BadRequestError, or a plain Exception
        name = model.rpartition("/")[2] or model
        where = f" at {api_base}" if api_base else ""
        raise UsageError(
            f"LiteLLM cannot tell which provider serves model {model!r}{where}: prefix the model with its "
            f"provider, e.g. 'hosted_vllm/{name}' for a vLLM server or 'openai/{name}' for any "
            "OpenAI-compatible server (other providers: https://docs.litellm.ai/docs/providers)"
        ) from exc


def _price_if_unpriced(litellm: Any, model: str) -> None:
    """Register a zero price for a model LiteLLM's price map lacks (a self-hosted server), once.

    Without a price LiteLLM searches its whole map (prefixes, regions, generalisations) on
    every call to conclude the cost is nothing, and again for its zero-cost diagnostic: about
    a fifth of its per-call work on a judge call. ``litellm.register_model`` is LiteLLM's
    documented way to price a custom model, the same registration it makes itself for a call
    with ``input_cost_per_token``. A model with a known price (a hosted provider) is left
    alone, so its cost tracking is unchanged.
    """
    try:
        litellm.get_model_info(model)
        return
    except Exception:  # noqa: BLE001 - LiteLLM raises a plain Exception for a model it has no entry for
        pass
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    zero = {
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
    }
    litellm.register_model({model: {**zero, "litellm_provider": provider, "mode": "chat"}})


class LiteLLMBackend:
    """Generate through ``litellm.acompletion`` or a ``litellm.Router``.

    Args:
        model: a LiteLLM model string, e.g. ``"hosted_vllm/rewardanything"``; with a
            router, the router's model group name.
        api_base: the server's OpenAI-compatible base URL (``http://host:8000/v1``).
        api_key: the server's key, if it wants one.
        router: a ``litellm.Router`` to send requests through (load balancing,
            fallbacks); ``api_base`` and ``api_key`` then come from its model list.
        timeout: seconds per request.
        num_retries: retries of retryable failures (tenacity, exponential backoff).
        supports_json_schema: whether the server honours ``response_format``
            json_schema; ``None`` guesses from the provider prefix.
        supports_logprobs: whether to ask for logprobs; ``None`` guesses likewise.
        extra_body: extra fields for the request body (e.g. vLLM sampling options).
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        router: Any | None = None,
        timeout: float = 120.0,
        num_retries: int = 2,
        supports_json_schema: bool | None = None,
        supports_logprobs: bool | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        litellm = _litellm()
        if api_base is not None:
            check_api_base(api_base)
        if router is None:
            _check_model(litellm, model, api_base)
            _price_if_unpriced(litellm, model)
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.router = router
        self.timeout = timeout
        self.num_retries = num_retries
        prefix = model.split("/", 1)[0] if "/" in model else ""
        if router is not None:
            prefix = _router_prefix(router, model) or prefix
        self.provider = "vllm" if prefix in ("hosted_vllm", "vllm") else (prefix or "openai")
        guess = prefix in _SCHEMA_PROVIDERS
        self.supports_json_schema = guess if supports_json_schema is None else supports_json_schema
        self.supports_logprobs = (
            prefix in ("hosted_vllm", "vllm", "openai") if supports_logprobs is None else supports_logprobs
        )
        self.extra_body = extra_body or {}

    @classmethod
    def replicas(
        cls,
        model: str,
        api_bases: Sequence[str],
        *,
        api_key: str | None = None,
        group: str = "ra-judge",
        timeout: float = 120.0,
        num_retries: int = 2,
        routing_strategy: str = "simple-shuffle",
        **kwargs: Any,
    ) -> LiteLLMBackend:
        """Several servers of the same model behind one ``litellm.Router``.

        The router spreads requests over the replicas and, when one fails, the retry
        goes to another (``num_retries`` at this level; the router's cooldown keeps a
        dead replica out of rotation).
        """
        litellm = _litellm()
        for base in api_bases:
            check_api_base(base)
        _check_model(litellm, model, api_bases[0] if api_bases else None)
        model_list = [
            {
                "model_name": group,
                "litellm_params": {"model": model, "api_base": base, **({"api_key": api_key} if api_key else {})},
            }
            for base in api_bases
        ]
        router = litellm.Router(
            model_list=model_list,
            routing_strategy=routing_strategy,
            num_retries=0,
            timeout=timeout,
            allowed_fails=1,
            cooldown_time=30,
        )
        return cls(group, router=router, timeout=timeout, num_retries=num_retries, **kwargs)

    @property
    def endpoints(self) -> list[tuple[str, str | None]]:
        """Every server URL this backend calls, with its key: the one ``api_base``, or each replica's."""
        if self.router is not None:
            params = [entry.get("litellm_params", {}) for entry in getattr(self.router, "model_list", [])]
            return [(p["api_base"], p.get("api_key")) for p in params if p.get("api_base")]
        return [(self.api_base, self.api_key)] if self.api_base else []

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        kwargs = self._request(messages, settings)
        return await with_retries(lambda: self._once(kwargs), self.num_retries)

    def _request(self, messages: Sequence[Message], settings: GenerationSettings) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            **sampling_fields(settings, json_schema=self.supports_json_schema, logprobs=self.supports_logprobs),
            "timeout": settings.get("timeout", self.timeout),
        }
        if self.router is None:
            kwargs["num_retries"] = 0
            if self.api_base:
                kwargs["api_base"] = self.api_base
            if self.api_key:
                kwargs["api_key"] = self.api_key
        if self.extra_body:
            kwargs["extra_body"] = dict(self.extra_body)
        return kwargs

    async def _once(self, kwargs: dict[str, Any]) -> Completion:
        litellm = _litellm()
        headers: dict[str, str] = {}
        try:
            from opentelemetry.propagate import inject

            inject(headers)
        except ImportError:  # pragma: no cover - opentelemetry-api is a core dependency
            pass
        call = dict(kwargs, extra_headers=headers) if headers else kwargs
        await _hand_over_logging()
        started = time.perf_counter()
        try:
            if self.router is not None:
                response = await self.router.acompletion(**call)
            else:
                response = await litellm.acompletion(**call)
        except Exception as exc:  # mapped to the core's typed errors
            raise _map_error(exc, self._where()) from exc
        return _to_completion(response, time.perf_counter() - started, self.model)

    def _where(self) -> str:
        if self.router is not None:
            return f"the replicas of {self.model!r}"
        return self.api_base or f"the provider of {self.model!r}"


def _router_prefix(router: Any, group: str) -> str:
    for entry in getattr(router, "model_list", []) or []:
        if entry.get("model_name") == group:
            name = entry.get("litellm_params", {}).get("model", "")
            return name.split("/", 1)[0] if "/" in name else ""
    return ""


def _map_error(exc: Exception, where: str) -> BackendError:
    litellm = _litellm()
    status = getattr(exc, "status_code", None)
    body = str(exc)
    lowered = body.lower()
    if isinstance(exc, getattr(litellm, "ContextWindowExceededError", ())) or any(h in lowered for h in CONTEXT_HINTS):
        return context_length_error(body, status)
    if (
        isinstance(exc, getattr(litellm, "Timeout", ()))
        or "timed out" in lowered
        or "timeout" in type(exc).__name__.lower()
    ):
        return BackendTimeout(
            f"{where} did not answer in time; raise timeout= or check the server's load", status=status, body=body
        )
    if any(h in lowered for h in _CONNECTION_HINTS):
        return BackendUnavailable(
            f"cannot reach {where}: is the server running? ({first_line(body)})", status=status, body=body
        )
    if isinstance(exc, getattr(litellm, "APIConnectionError", ())) and status is None:
        return BackendUnavailable(f"cannot reach {where}: {first_line(body)}", status=status, body=body)
    err = BackendError(f"{where} failed with status {status}: {first_line(body)}", status=status, body=body)
    err.retryable = status in (408, 409, 429) or (status is not None and status >= 500)
    return err


def _to_completion(response: Any, latency: float, model: str) -> Completion:
    choice = response.choices[0]
    message = choice.message
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    usage = getattr(response, "usage", None)
    tokens = None
    content_logprobs = getattr(getattr(choice, "logprobs", None), "content", None)
    if content_logprobs is None and isinstance(getattr(choice, "logprobs", None), dict):
        content_logprobs = choice.logprobs.get("content")
    if content_logprobs:
        tokens = [
            TokenLogprob(
                token=_get(item, "token"),
                logprob=float(_get(item, "logprob")),
                top={_get(t, "token"): float(_get(t, "logprob")) for t in (_get(item, "top_logprobs") or [])},
            )
            for item in content_logprobs
        ]
    return Completion(
        text=message.content or "",
        reasoning=reasoning or None,
        usage=Usage(
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
        ),
        model=getattr(response, "model", None) or model,
        finish_reason=getattr(choice, "finish_reason", None),
        logprobs=tokens,
        latency_s=latency,
    )


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key)
