"""A lean backend for one OpenAI-compatible server (vLLM, SGLang, llama.cpp), straight over aiohttp.

:class:`~ra_agents.backends.litellm.LiteLLMBackend` reaches any provider and spreads load over
replicas; for each call it also does per-call bookkeeping (model-info and cost lookups,
logging payloads, response conversion) that costs about 3 ms of CPU. That does not matter
next to a GPU generation, but it caps a judge *server* in front of a fast vLLM: on a 2-core
machine it was most of the server's CPU time per request (see BENCHMARKS.md). This backend
sends the same request body (messages, JSON schema, logprobs, seed, extra body) with one
pooled ``aiohttp.ClientSession`` per event loop (aiohttp's connector stays cheap with many
connections in flight, where httpx's pool rescans every connection per request), and maps
failures to the same typed errors with the same retry rule (tenacity; connection errors,
timeouts, 408/409/429 and 5xx).

Use it with ``ra-agents serve --backend http`` or ``Judge(OpenAIHTTPBackend(...))``; model
names may keep their LiteLLM prefix (``hosted_vllm/rewardanything``), which is stripped
from the wire name and sets the span's provider.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Sequence
from typing import Any

from opentelemetry.propagate import inject

from .._errors import BackendError, BackendTimeout, BackendUnavailable, MissingDependencyError
from .._types import Completion, GenerationSettings, Message, TokenLogprob, Usage
from ..settings import check_api_base
from ..sync import close_at_exit, sync_loop
from ._openai_wire import CONTEXT_HINTS, context_length_error, first_line, sampling_fields, with_retries

__all__ = ["OpenAIHTTPBackend"]

_PROVIDERS = {"hosted_vllm": "vllm", "vllm": "vllm", "openai": "openai"}


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError as exc:
        raise MissingDependencyError("aiohttp", "server", "The OpenAI-compatible HTTP backend") from exc
    return aiohttp


class OpenAIHTTPBackend:
    """Generate through one OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the served model name; a LiteLLM-style prefix (``hosted_vllm/``) is stripped.
        api_base: the server's base URL, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: sent as ``Authorization: Bearer``, if the server wants one.
        timeout: seconds per request.
        num_retries: retries of retryable failures (tenacity, exponential backoff).
        supports_json_schema: whether the server honours ``response_format`` json_schema
            (vLLM does).
        supports_logprobs: whether to ask for logprobs.
        extra_body: extra fields for the request body (e.g. vLLM sampling options).
        max_connections: the connection pool's size.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        num_retries: int = 2,
        supports_json_schema: bool = True,
        supports_logprobs: bool = True,
        extra_body: dict[str, Any] | None = None,
        max_connections: int = 256,
    ) -> None:
        _aiohttp()
        check_api_base(api_base)
        prefix, _, name = model.partition("/") if "/" in model else ("", "", model)
        self.model = model
        self.wire_model = name if prefix in _PROVIDERS else model
        self.provider = _PROVIDERS.get(prefix, "openai")
        self.api_base = api_base.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.num_retries = num_retries
        self.supports_json_schema = supports_json_schema
        self.supports_logprobs = supports_logprobs
        self.extra_body = dict(extra_body or {})
        self.max_connections = max_connections
        self._url = self.api_base + "/chat/completions"
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._last: tuple[Any, Any] = (None, None)  # the last (event loop, session): the usual one
        self._timeouts: dict[float, Any] = {}

    @property
    def endpoints(self) -> list[tuple[str, str | None]]:
        """The server URL this backend calls, with its key (for readiness checks)."""
        return [(self.api_base, self.api_key)]

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        body = self._body(messages, settings)
        timeout = settings.get("timeout", self.timeout)
        return await with_retries(lambda: self._once(body, timeout), self.num_retries)

    async def aclose(self) -> None:
        """Close the connection pools (one per event loop that used this backend)."""
        for client in list(self._clients.values()):
            await client.close()
        self._clients.clear()
        self._last = (None, None)

    def _body(self, messages: Sequence[Message], settings: GenerationSettings) -> dict[str, Any]:
        return {
            "model": self.wire_model,
            "messages": list(messages),
            **sampling_fields(settings, json_schema=self.supports_json_schema, logprobs=self.supports_logprobs),
            **self.extra_body,
        }

    def _client(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        last_loop, last_client = self._last
        if loop is last_loop and not last_client.closed:
            return last_client
        client = self._clients.get(loop)
        if client is None:
            aiohttp = _aiohttp()
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            connector = aiohttp.TCPConnector(limit=self.max_connections)
            client = aiohttp.ClientSession(connector=connector, headers=headers)
            self._clients[loop] = client
            if loop is sync_loop():  # the portal never stops: close the pool when the process exits
                close_at_exit(client.close)
        self._last = (loop, client)
        return client

    def _timeout(self, seconds: float) -> Any:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = _aiohttp().ClientTimeout(total=seconds)
        return timeout

    async def _once(self, body: dict[str, Any], seconds: float) -> Completion:
        aiohttp = _aiohttp()
        headers: dict[str, str] = {}
        inject(headers)
        started = time.perf_counter()
        try:
            async with self._client().post(
                self._url, json=body, headers=headers, timeout=self._timeout(seconds)
            ) as response:
                status = response.status
                text = await response.text()
        except TimeoutError as exc:
            raise BackendTimeout(
                f"{self.api_base} did not answer in time; raise timeout= or check the server's load", body=str(exc)
            ) from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(
                f"cannot reach {self.api_base}: is the server running? ({type(exc).__name__}: {exc})", body=str(exc)
            ) from exc
        latency = time.perf_counter() - started
        if status != 200:
            raise _status_error(status, text, self.api_base)
        try:
            return _completion(json.loads(text), latency, self.model)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(
                f"{self.api_base} answered 200 with a body that is not a chat completion: {text[:300]}",
                status=200,
                body=text,
            ) from exc


def _status_error(status: int, text: str, where: str) -> BackendError:
    if status == 400 and any(h in text.lower() for h in CONTEXT_HINTS):
        return context_length_error(text, status)
    err = BackendError(f"{where} failed with status {status}: {first_line(text)}", status=status, body=text)
    err.retryable = status in (408, 409, 429) or status >= 500
    return err


def _completion(data: dict[str, Any], latency: float, model: str) -> Completion:
    choice = data["choices"][0]
    message = choice["message"]
    usage = data.get("usage") or {}
    tokens = None
    content = (choice.get("logprobs") or {}).get("content")
    if content:
        tokens = [
            TokenLogprob(
                token=item["token"],
                logprob=float(item["logprob"]),
                top={t["token"]: float(t["logprob"]) for t in item.get("top_logprobs") or []},
            )
            for item in content
        ]
    return Completion(
        text=message.get("content") or "",
        reasoning=message.get("reasoning_content") or message.get("reasoning") or None,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        model=data.get("model") or model,
        finish_reason=choice.get("finish_reason"),
        logprobs=tokens,
        latency_s=latency,
    )
