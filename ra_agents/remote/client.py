"""A client of the judge server (``ra-agents serve``) that answers like the library.

:class:`AsyncClient` and :class:`Client` both implement :class:`~ra_agents.Judging`, like
:class:`~ra_agents.Judge`: ``judge``/``ajudge`` return a :class:`~ra_agents.JudgeResult`,
``judge_batch``/``ajudge_batch`` a list of results and errors in request order,
``judge_many``/``ajudge_many`` a :class:`~ra_agents.MultiResult`, and failures raise the
library's own errors with their fields (a :class:`~ra_agents.VerdictError`'s ``raw``, a
:class:`~ra_agents.LimitError`'s ``limit`` and ``value``), so code written against a local
``Judge`` runs unchanged against a server. Principles go as :meth:`Principle.to_dict
<ra_agents.Principle.to_dict>`, prompts as :func:`~ra_agents.prompt_text` reads them, and
structured candidates as the text a local judge would read of them, so a request gets the
same verdict and the same cache key on either side.

>>> from ra_agents import Client
>>> with Client("http://127.0.0.1:8080", api_key="...") as client:  # doctest: +SKIP
...     client.judge("Correctness first.", "2+2?", {"a": "4", "b": "5"}).best
'a'

Errors:

- a 4xx answer raises the typed error its body names (a :class:`~ra_agents.UsageError`
  unless it says otherwise), with the server's message; a 401 says the key is missing or wrong.
- a 429 or 5xx answer, a refused connection or a timeout is retried (exponential backoff
  with jitter, honouring ``Retry-After``) up to ``retries`` times, then raised as
  :class:`~ra_agents.BackendUnavailable` (unreachable, 429, 503),
  :class:`~ra_agents.BackendTimeout` (timeouts, 504) or the body's
  :class:`~ra_agents.BackendError`. A :class:`~ra_agents.VerdictError` (502) is not
  retried: the server already re-asked the model before giving up.

Install with ``pip install 'ra-agents[client]'``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import __version__
from .._errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    MissingDependencyError,
    RAError,
    UsageError,
    VerdictError,
    error_from_dict,
)
from .._types import JudgeRequest, JudgeResult, verdict_from_dict
from ..judge import BatchItem
from ..judging import JudgingBase, MultiMode, MultiResult, PrincipleSet
from ..principles import Principle, PrincipleLike
from ..prompt import PromptLike, prompt_text
from ..protocol import render_candidate
from ..settings import check_api_base
from ..sync import _portal_loop, run_sync
from .wire import BatchOut, ErrorBody, OpenRLHFResponse

try:
    import httpx
    from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
    from tenacity.wait import wait_exponential, wait_random
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(exc.name or "httpx", "client", "The judge client") from exc

__all__ = ["AsyncClient", "Client"]

MAX_RETRY_AFTER_S = 60.0
"""The longest ``Retry-After`` honoured; a longer one is waited for this long."""

_SNIPPET = 200
"""Characters of an unexpected body quoted in error messages."""

_Model = TypeVar("_Model", bound=BaseModel)
_T = TypeVar("_T")


class _TransientError(Exception):
    """A failed attempt worth retrying: the error to raise if retries run out."""

    def __init__(self, error: BackendError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


# --------------------------------------------------------------- request bodies


def _is_json(value: Any) -> bool:
    """Whether ``value`` is plain JSON data (which reads the same after a round trip)."""
    if value is None or isinstance(value, str | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _candidate(value: Any) -> Any:
    """A candidate as sent: plain JSON as it is, anything else as the text a local judge reads.

    The server's judge renders JSON data exactly as a local one would; chat message objects,
    pydantic models, dataclasses and the like do not survive JSON as themselves, so they go as
    :func:`~ra_agents.protocol.render_candidate`'s text of them.
    """
    return value if _is_json(value) else render_candidate(value)


def _responses_body(responses: Any) -> Any:
    """Candidates as JSON: a mapping stays a mapping, any other sequence becomes a list."""
    if isinstance(responses, Mapping):
        return {name: _candidate(value) for name, value in responses.items()}
    if isinstance(responses, Sequence) and not isinstance(responses, str | bytes | bytearray):
        return [_candidate(value) for value in responses]
    return responses  # the server explains what is wrong with it


def _encode(body: Any) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False, default=str).encode()
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the request cannot be sent as JSON ({exc}); pass strings or JSON-ready candidates") from None


def _judge_body(
    principle: PrincipleLike, prompt: PromptLike, responses: Any, permutations: int | None, seed: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "principle": principle.to_dict() if isinstance(principle, Principle) else principle,
        "prompt": prompt_text(prompt),
        "responses": _responses_body(responses),
    }
    if permutations is not None:
        body["permutations"] = permutations
    if seed is not None:
        body["seed"] = seed
    return body


def _batch_item_body(request: Any) -> Any:
    if isinstance(request, Mapping):
        try:
            request = JudgeRequest.model_validate(request)
        except ValidationError:
            return dict(request)  # the server answers this item with its error; the others still run
    if not isinstance(request, JudgeRequest):
        return request
    body = _judge_body(request.principle, request.prompt, request.responses, request.permutations, request.seed)
    if request.id is not None:
        body["id"] = request.id
    return body


# ------------------------------------------------------------- response bodies


def _snippet(text: str) -> str:
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _wire_error(response: httpx.Response) -> RAError | None:
    """The typed error an error body names, with its fields, or None when the body is not ours."""
    try:
        error = ErrorBody.model_validate_json(response.content).error
    except (ValidationError, ValueError):
        return None
    return error_from_dict(error.model_dump(), status=response.status_code)


def _failure(response: httpx.Response, *, key_sent: bool) -> RAError | _TransientError:
    """The error an unsuccessful answer stands for; :class:`_TransientError` when a retry may help."""
    status = response.status_code
    where = f"{response.request.method} {response.request.url}"
    text = response.text
    if status == 401:
        told = _wire_error(response)
        reason = (
            "this client sent no API key; pass api_key=..."
            if not key_sent
            else "the server does not accept this client's API key; check api_key"
        )
        return UsageError(f"{told or 'missing or wrong API key'} ({reason})")
    typed = _wire_error(response)
    if status == 429:
        message = str(typed) if typed is not None else f"{where} answered 429 Too Many Requests"
        busy = BackendUnavailable(f"the judge server is busy: {message}", status=status, body=text)
        return _TransientError(busy, _retry_after(response))
    if status >= 500:
        if isinstance(typed, VerdictError | UsageError):
            return typed  # deterministic: the server already re-asked; retrying costs another judgement
        error: BackendError
        if isinstance(typed, BackendError):
            error = typed
        else:
            message = str(typed) if typed is not None else f"{where} answered {status}: {_snippet(text)}"
            cls = {503: BackendUnavailable, 504: BackendTimeout}.get(status, BackendError)
            error = cls(message)
        _fill(error, status, text)
        return _TransientError(error, _retry_after(response))
    if typed is not None:
        if isinstance(typed, BackendError):
            _fill(typed, status, text)
        return typed
    if 300 <= status < 400:
        location = response.headers.get("location", "elsewhere")
        return UsageError(f"{where} was redirected ({status}) to {location}; point base_url at the final address")
    hint = "; is base_url the judge server's root (e.g. http://host:8080)?" if status in (404, 405) else ""
    return UsageError(f"{where} answered {status}: {_snippet(text)}{hint}")


def _fill(error: BackendError, status: int, text: str) -> None:
    """The answer's status and text on a backend error whose body did not carry its own."""
    if error.status is None:
        error.status = status
    if error.body is None:
        error.body = text


def _decode(response: httpx.Response, *, key_sent: bool) -> Any:
    """The JSON of a successful answer; raises the error of any other."""
    if not 200 <= response.status_code < 300:
        raise _failure(response, key_sent=key_sent)
    try:
        return response.json()
    except ValueError:
        raise BackendError(
            f"the judge server answered {response.status_code} with a body that is not JSON: "
            f"{_snippet(response.text)!r}",
            status=response.status_code,
            body=response.text[:_SNIPPET],
        ) from None


def _shaped(model: type[_Model], data: Any) -> _Model:
    return _read(model.__name__, model.model_validate, data)


def _verdict(data: Any) -> JudgeResult:
    """The verdict an answer holds (:func:`~ra_agents.verdict_from_dict`)."""
    return _read("verdict", verdict_from_dict, data if isinstance(data, Mapping) else {"answer": data})


def _read(what: str, reader: Callable[[Any], _T], data: Any) -> _T:
    try:
        return reader(data)
    except ValidationError as exc:
        body = json.dumps(data, default=str)
        raise BackendError(
            f"the judge server's answer is not a {what} ({exc.error_count()} problems); "
            f"is base_url an ra-agents server of a compatible version? body: {_snippet(body)!r}",
            status=200,
            body=body[:_SNIPPET],
        ) from None


def _batch_items(data: Any, expected: int) -> list[BatchItem]:
    out = _shaped(BatchOut, data)
    items: list[BatchItem | None] = [None] * expected
    for item in out.results:
        if not 0 <= item.index < expected:
            raise BackendError(f"the batch answer names request {item.index}, but {expected} were sent")
        if item.ok and item.verdict is not None:
            items[item.index] = _verdict(item.verdict)
        elif item.error is not None:
            items[item.index] = error_from_dict(item.error.model_dump())
        else:
            items[item.index] = BackendError(f"request {item.index} of the batch came back without verdict or error")
    missing = [i for i, item in enumerate(items) if item is None]
    if missing:
        raise BackendError(f"the batch answer lacks requests {missing[:10]} of the {expected} sent")
    return [item for item in items if item is not None]


# ----------------------------------------------------------------------- clients


async def _on_portal(coro: Coroutine[Any, Any, _T]) -> _T:
    """Await ``coro`` run on the sync portal's loop, where a :class:`Client`'s pool lives.

    Cancelling the awaiting task cancels ``coro`` too.
    """
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, _portal_loop()))


class AsyncClient(JudgingBase[JudgeResult]):
    """An asynchronous client of the judge server.

    Args:
        base_url: the server's root, e.g. ``"http://127.0.0.1:8080"``.
        api_key: sent as ``Authorization: Bearer <api_key>`` when given.
        timeout: seconds per HTTP attempt (connect, read, write and pool).
        retries: retries after a 429, a 5xx, a refused connection or a timeout (0 for none).
        transport: an ``httpx`` async transport (proxies, custom TLS, in-process apps).
        headers: extra headers sent with every request.

    Use as ``async with AsyncClient(...) as client:``, or call :meth:`aclose` when done.
    Its connection pool belongs to the event loop that uses it; the sync methods (``judge``
    ...) go through a :class:`Client` of the same settings, made on first use, whose pool
    lives on the library's sync portal.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        check_api_base(base_url, "base_url", example="http://127.0.0.1:8080")
        if not isinstance(retries, int) or retries < 0:
            raise UsageError(f"retries must be 0 or more, got {retries!r}")
        if not timeout or timeout <= 0:
            raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = float(timeout)
        self.retries = retries
        self._key_sent = bool(api_key)
        sent = {"User-Agent": f"ra-agents-client/{__version__}", **dict(headers or {})}
        if api_key:
            sent["Authorization"] = f"Bearer {api_key}"
        try:
            self._http = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, transport=transport, headers=sent
            )
        except httpx.InvalidURL as exc:
            raise UsageError(f"base_url {base_url!r} is not a valid URL ({exc})") from None
        self._closed = False
        self._backoff = wait_exponential(multiplier=0.5, max=8) + wait_random(0, 0.5)
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "retries": retries,
            "transport": transport,
            "headers": headers,
        }
        self._sync: Client | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, retries={self.retries}, timeout={self.timeout})"

    # ------------------------------------------------------------------ judging

    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: PromptLike,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult:
        """Judge candidate ``responses`` to ``prompt`` under ``principle`` on the server.

        Args:
            principle: what to value: text, or a :class:`~ra_agents.Principle` (sent as its
                :meth:`~ra_agents.Principle.to_dict`; the server renders it as a local judge would).
            prompt: the prompt the candidates answer: text, or chat messages, content blocks,
                a prompt value or a state, read by :func:`ra_agents.prompt_text` before sending.
            responses: name -> candidate, or a list of candidates (named ``"0"``, ``"1"``...).
                Candidates are strings, JSON data (sent as they are) or structured items (chat
                messages, pydantic models, dataclasses: sent as the text a local judge reads).
            permutations: passes over shuffled orders (the server's judge default when ``None``).
            seed: seed of the shuffles, for reproducible verdicts.

        Returns:
            The verdict, in the candidates' real names.

        Raises:
            UsageError: the server refused the request (the message says why) or the key.
            BackendError: the server or its model failed (after the retries).
            VerdictError: the model gave no usable verdict.
        """
        data = await self._call("POST", "/v1/judge", _judge_body(principle, prompt, responses, permutations, seed))
        return _verdict(data)

    def judge(
        self,
        principle: PrincipleLike,
        prompt: PromptLike,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult:
        """Synchronous :meth:`ajudge` (through the sync portal; see the class docs)."""
        return self._sync_client().judge(principle, prompt, responses, permutations=permutations, seed=seed)

    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, BatchItem], None] | None = None,
    ) -> list[BatchItem]:
        """Judge many requests in one call.

        Args:
            requests: :class:`~ra_agents.JudgeRequest` objects or mappings of the same fields.
            concurrency: accepted so code written for :meth:`Judge.ajudge_batch
                <ra_agents.Judge.ajudge_batch>` runs unchanged; the server bounds its own.
            on_result: called with ``(index, item)`` for every entry, in request order.

        Returns:
            One entry per request, in request order: a :class:`~ra_agents.JudgeResult`, or the
            :class:`~ra_agents.RAError` that request met. One bad request sinks no other.

        Raises:
            UsageError: the batch as a whole was refused (empty, too large, bad key).
            BackendError: the server failed (after the retries).
        """
        del concurrency  # the server's max_in_flight and judge concurrency apply
        body = [_batch_item_body(r) for r in requests]
        if not body:
            return []
        items = _batch_items(await self._call("POST", "/v1/judge/batch", {"requests": body}), len(body))
        if on_result is not None:
            for index, item in enumerate(items):
                on_result(index, item)
        return items

    def judge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, BatchItem], None] | None = None,
    ) -> list[BatchItem]:
        """Synchronous :meth:`ajudge_batch` (through the sync portal; see the class docs)."""
        return self._sync_client().judge_batch(requests, concurrency=concurrency, on_result=on_result)

    def judge_many(
        self,
        principles: PrincipleSet,
        prompt: PromptLike,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        weights: Mapping[str, float] | None = None,
        mode: MultiMode = "separate",
        permutations: int | None = None,
        seed: int | None = None,
    ) -> MultiResult:
        """Synchronous :meth:`ajudge_many` (through the sync portal; see the class docs)."""
        return self._sync_client().judge_many(
            principles, prompt, responses, weights=weights, mode=mode, permutations=permutations, seed=seed
        )

    async def arewards(
        self,
        queries: Sequence[str],
        prompts: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
        principle: str | None = None,
    ) -> OpenRLHFResponse:
        """Rewards in OpenRLHF's remote reward model convention (``POST /v1/rewards/openrlhf``).

        Samples of one prompt are judged together on the server, so send a prompt's whole
        group at once (or within the server's ``group_wait``).

        Args:
            queries: prompt + response texts, one per sample.
            prompts: each sample's prompt (the response is the query after it).
            labels: per-sample labels; a label ``{"principle": ...}`` sets that sample's principle.
            principle: the principle of samples whose label carries none.

        Returns:
            ``rewards`` (in [0, 1], one per sample, in order), ``scores`` and ``extra_logs``.
        """
        body: dict[str, Any] = {"query": list(queries)}
        if prompts is not None:
            body["prompts"] = list(prompts)
        if labels is not None:
            body["labels"] = list(labels)
        if principle is not None:
            body["principle"] = principle
        return _shaped(OpenRLHFResponse, await self._call("POST", "/v1/rewards/openrlhf", body))

    # --------------------------------------------------------------- operations

    async def ahealth(self) -> bool:
        """Whether the server is up (``GET /health``); never raises, never retries."""
        return await self._probe("/health")

    async def aready(self) -> bool:
        """Whether the server can judge now: its judge exists and its model answers (``GET /ready``)."""
        return await self._probe("/ready")

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        self._closed = True
        if self._sync is not None:
            self._sync.close()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- plumbing

    async def _probe(self, path: str) -> bool:
        self._check_open()
        try:
            response = await self._http.get(path, timeout=min(self.timeout, 10.0))
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"this client of {self.base_url} is closed; create a new one")

    def _sync_client(self) -> Client:
        """The :class:`Client` the sync methods use (its pool lives on the sync portal's loop)."""
        self._check_open()
        if self._sync is None:
            self._sync = Client(self.base_url, **self._options)
        return self._sync

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _TransientError) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    async def _call(self, method: str, path: str, body: Any) -> Any:
        """Send one request with retries; the decoded JSON of its answer."""
        self._check_open()
        content = _encode(body)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_TransientError),
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await self._attempt(method, path, content)
        except _TransientError as last:
            error = last.error
            note = f" (gave up after {attempts} attempt{'s' if attempts != 1 else ''})" if attempts > 1 else ""
            raise type(error)(f"{error}{note}", status=error.status, body=error.body) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(self, method: str, path: str, content: bytes) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = await self._http.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
        except httpx.UnsupportedProtocol as exc:
            raise UsageError(f"base_url {self.base_url!r} is not an http(s) URL ({exc})") from None
        except httpx.ConnectTimeout:
            raise _TransientError(
                BackendUnavailable(f"could not connect to the judge server at {url} within {self.timeout} s")
            ) from None
        except httpx.TimeoutException as exc:
            raise _TransientError(
                BackendTimeout(
                    f"the judge server at {url} did not answer within {self.timeout} s ({type(exc).__name__}); "
                    "raise timeout= for large or many-pass requests"
                )
            ) from None
        except httpx.TransportError as exc:
            raise _TransientError(
                BackendUnavailable(f"cannot reach the judge server at {url}: {type(exc).__name__}: {exc}")
            ) from None
        return _decode(response, key_sent=self._key_sent)


class Client(JudgingBase[JudgeResult]):
    """The synchronous client: :class:`AsyncClient`'s methods, run on a shared event loop.

    Takes the same arguments as :class:`AsyncClient`. Its connection pool lives on one
    background loop (see :func:`ra_agents.sync.run_sync`), so calls reuse connections.
    Inside a running event loop the sync methods raise :class:`~ra_agents.UsageError`; await
    the async ones (``ajudge`` ...) instead, which run on that same background loop.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._async = AsyncClient(
            base_url, api_key=api_key, timeout=timeout, retries=retries, transport=transport, headers=headers
        )

    @property
    def base_url(self) -> str:
        """The server's root URL."""
        return self._async.base_url

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, retries={self._async.retries}, timeout={self._async.timeout})"

    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: PromptLike,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult:
        """:meth:`AsyncClient.ajudge`, on the loop this client's pool lives on."""
        return await _on_portal(self._async.ajudge(principle, prompt, responses, permutations=permutations, seed=seed))

    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, BatchItem], None] | None = None,
    ) -> list[BatchItem]:
        """:meth:`AsyncClient.ajudge_batch`, on the loop this client's pool lives on."""
        return await _on_portal(self._async.ajudge_batch(requests, concurrency=concurrency, on_result=on_result))

    def rewards(
        self,
        queries: Sequence[str],
        prompts: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
        principle: str | None = None,
    ) -> OpenRLHFResponse:
        """Synchronous :meth:`AsyncClient.arewards`."""
        return run_sync(self._async.arewards(queries, prompts, labels, principle), async_name="AsyncClient.arewards")

    def health(self) -> bool:
        """Synchronous :meth:`AsyncClient.ahealth`."""
        return run_sync(self._async.ahealth(), async_name="AsyncClient.ahealth")

    def ready(self) -> bool:
        """Synchronous :meth:`AsyncClient.aready`."""
        return run_sync(self._async.aready(), async_name="AsyncClient.aready")

    def close(self) -> None:
        """Close the connection pool; the client cannot be used afterwards.

        Safe anywhere: inside a running event loop (where the other methods refuse to block)
        the pool is closed on the background loop it lives on, without waiting.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            run_sync(self._async.aclose(), async_name="AsyncClient.aclose")
        else:
            self._async._closed = True
            asyncio.run_coroutine_threadsafe(self._async.aclose(), _portal_loop())

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
