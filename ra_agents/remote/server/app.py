"""The FastAPI application of ``ra-agents serve``.

Endpoints (OpenAPI docs at ``/docs``):

- ``POST /v1/judge``, ``POST /v1/judge/batch``: the native API (:mod:`ra_agents.remote.wire`).
- ``POST /api/rewardanything``, ``POST /api/rewardanything_batch``, ``GET /health``: the
  reference ``rewardanything`` server's shapes, so its ``Client`` works unchanged; the
  batch answers in request order with real names. Unlike the reference, an unusable
  verdict is an error status with a message, never empty scores with 200.
- ``POST /v1/rewards/openrlhf``: OpenRLHF's remote reward model convention; a sample's
  reward comes from judging its prompt's WHOLE group in one call, or the sample fails
  (status 408 when its group did not complete in time); with several workers one group
  owner holds every group (:mod:`ra_agents.remote.server.groups`).
- ``GET /ready`` (checks the backend), ``GET /metrics`` (Prometheus).

Status codes: 401 bad or missing key; 413 body too large; 422 malformed request or a
limit exceeded (the message names the limit and its value); 429 too many requests in
flight (with ``Retry-After``); 502 the model gave no usable verdict or the backend
failed; 503 the backend is unreachable; 504 the backend timed out. Never a 500 for bad input.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from ... import __version__
from ..._errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthError,
    LimitError,
    MissingDependencyError,
    RAError,
    UsageError,
    VerdictError,
    error_to_dict,
)
from ..._telemetry import tracing_enabled
from ..._types import JudgeRequest, JudgeResult, validation_summary, verdict_to_dict
from ...groups import GroupBuffer, GroupRewards, principle_of_label, response_of
from ...judge import Judge
from ...principles import PrincipleLike, principle_text
from ...settings import BackendSettings, backend_kind, resolve, resolve_backend
from ..wire import (
    VERDICT_SCHEMA,
    BatchOut,
    OpenRLHFRequest,
    OpenRLHFResponse,
    RARequest,
    RAResponse,
    verdict_json,
)
from .groups import GROUP_OWNER_ENV, INCOMPLETE_LIMIT, RemoteGroups
from .settings import SETTINGS_ENV, ServerSettings

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from opentelemetry import propagate, trace
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(exc.name or "fastapi", "server", "The judge server") from exc

__all__ = ["create_app", "create_app_from_env", "build_judge", "LimitError"]

access_log = logging.getLogger("ra_agents.server.access")
_M = TypeVar("_M", bound=BaseModel)
_tracer = trace.get_tracer("ra_agents.server")
_YOUNG_GENERATION = 10_000

PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Paths answered without an API key (liveness, readiness, metrics, the API docs); every other needs one."""


MAX_ERROR_TEXT = 16_000
"""Characters of an error's long texts (a verdict error's ``raw``, a backend error's ``body``) sent back."""


def _backend_arguments(settings: ServerSettings) -> dict[str, Any]:
    """The server's own model and replicas: arguments of the backend resolver, over ``[backend]``."""
    return {"model": settings.model, "api_base": settings.api_base or None}


def backend_of(settings: ServerSettings) -> str:
    """The backend the server uses: ``settings.backend``, with ``"auto"`` resolved.

    ``"litellm"`` is the default. ``"auto"`` is ``"http"`` for ONE self-hosted OpenAI-compatible
    server (a ``hosted_vllm/`` or ``openai/`` model with one ``api_base``, from the server's
    settings or the backend settings) and ``"litellm"`` otherwise (see
    :func:`ra_agents.settings.backend_kind`).
    """
    backend, _ = resolve(BackendSettings, _backend_arguments(settings))
    return backend_kind(settings.backend, backend)


def build_judge(settings: ServerSettings) -> Judge:
    """The judge the settings name: a factory, else the one backend resolver's backend.

    The server's ``model`` and ``api_base`` win over ``RA_AGENTS_MODEL``/``RA_AGENTS_API_BASE``
    and ``[backend]``, which fill in what the server leaves unset; the judge's own settings
    (``RA_AGENTS_JUDGE_*``, ``[judge]``) apply as for any ``Judge()``.
    """
    if settings.judge_factory:
        import importlib

        module, _, attr = settings.judge_factory.partition(":")
        if not module or not attr:
            raise UsageError(f"judge_factory must be 'module:function', got {settings.judge_factory!r}")
        judge = getattr(importlib.import_module(module), attr)()
        if not isinstance(judge, Judge):
            raise UsageError(f"{settings.judge_factory} returned {type(judge).__name__}, not a Judge")
        return judge
    backend = resolve_backend(**_backend_arguments(settings), kind=settings.backend)
    return Judge(backend, max_candidates=settings.max_candidates)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ra_server_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram(
            "ra_server_request_seconds",
            "request latency",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.verdict_failures = Counter(
            "ra_server_verdict_failures", "requests with no usable verdict", registry=self.registry
        )
        self.retries = Counter("ra_server_judge_retries", "re-asks after unusable answers", registry=self.registry)
        self.in_flight = Gauge("ra_server_in_flight", "requests being handled", registry=self.registry)
        self.group_depth = Gauge(
            "ra_server_group_buffer_samples", "reward samples waiting for their group", registry=self.registry
        )
        self.group_size = Histogram(
            "ra_server_reward_group_size",
            "size of the judged group, per rewarded sample",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.group_wait = Histogram(
            "ra_server_reward_group_wait_seconds",
            "time a rewarded sample waited for its group to complete",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.reward_failures = Counter(
            "ra_server_reward_failures",
            "reward samples answered with an error, by reason (incomplete_group, judge_error)",
            ["reason"],
            registry=self.registry,
        )


def _status_of(exc: RAError) -> int:
    if isinstance(exc, LimitError):
        return exc.status
    if isinstance(exc, ContextLengthError):
        return 422
    if isinstance(exc, UsageError):
        return 422
    if isinstance(exc, BackendUnavailable):
        return 503
    if isinstance(exc, BackendTimeout):
        return 504
    if isinstance(exc, VerdictError | BackendError):
        return 502
    return 502


def _error_data(exc: RAError) -> dict[str, Any]:
    """:func:`~ra_agents.error_to_dict`, long texts cut to :data:`MAX_ERROR_TEXT` (their head and tail)."""
    data = error_to_dict(exc)
    for name in ("raw", "body"):
        text = data.get(name)
        if isinstance(text, str) and len(text) > MAX_ERROR_TEXT:
            half = MAX_ERROR_TEXT // 2
            data[name] = f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"
    return data


def _error_response(exc: RAError, *, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": _error_data(exc)}, status_code=_status_of(exc), headers=dict(headers or {}))


def _json(model: BaseModel) -> Response:
    """``model`` as the JSON response, serialised by pydantic as FastAPI would (aliases kept)."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


def _json_data(data: Any) -> Response:
    """JSON-ready ``data`` (a verdict, a batch) as the JSON response."""
    return Response(json.dumps(data, allow_nan=False), media_type="application/json")


def _validated(model: type[_M], raw: Any) -> _M:
    """``raw`` as ``model``, or a UsageError listing what is wrong."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise UsageError(_malformed(exc)) from None


def _malformed(exc: ValidationError | RequestValidationError) -> str:
    return "malformed request: " + validation_summary(exc, limit=8)


def create_app(
    settings: ServerSettings | None = None, *, judge: Judge | None = None, group_owner: str | None = None
) -> FastAPI:
    """Build the application.

    Args:
        settings: limits, keys and the judge's backend (defaults when ``None``).
        judge: the judge to serve; ``None`` builds it from ``settings`` at start-up.
        group_owner: the Unix socket of the process that holds every reward group (several
            workers); ``None`` holds them in this process.
    """
    settings = settings or ServerSettings()
    metrics = _Metrics()
    state: dict[str, Any] = {"judge": judge, "in_flight": 0, "waiting": 0}

    def current_judge() -> Judge:
        j = state["judge"]
        if j is None:
            raise BackendUnavailable("the judge is not ready yet")
        return j

    async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
        return await _judge(principle, prompt, responses)

    groups: GroupRewards = (
        RemoteGroups(group_owner)
        if group_owner
        else GroupBuffer(judge_group, group_size=settings.group_size, wait_s=settings.group_wait_s)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state["judge"] is None:
            state["judge"] = await asyncio.to_thread(build_judge, settings)
        if getattr(app.state, "owns_process", False):
            _settle_garbage_collector()
        yield
        await groups.aclose()
        close = getattr(state["judge"].backend, "aclose", None)
        if close is not None:  # the http backend's connection pool
            await close()

    app = FastAPI(
        title="ra-agents judge",
        version=__version__,
        description="A principle-following judge (RewardAnything): native, RewardAnything-compatible "
        "and OpenRLHF remote-reward endpoints.",
        lifespan=lifespan,
        **_without_native_telemetry(),
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.groups = groups

    # ----------------------------------------------------------- middleware

    app.add_middleware(_Observe, settings=settings, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(UsageError(_malformed(exc)))

    @app.exception_handler(RAError)
    async def on_ra_error(request: Request, exc: RAError) -> JSONResponse:
        if isinstance(exc, VerdictError):
            metrics.verdict_failures.inc()
        headers = {"Retry-After": "1"} if isinstance(exc, LimitError) and exc.status == 429 else None
        return _error_response(exc, headers=headers)

    # ---------------------------------------------------------- dependencies

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        if state["in_flight"] >= settings.max_in_flight:
            raise LimitError(
                f"too many requests in flight (max_in_flight={settings.max_in_flight}); retry after a second",
                limit="max_in_flight",
                value=settings.max_in_flight,
                status=429,
            )
        state["in_flight"] += 1
        metrics.in_flight.inc()
        try:
            yield
        finally:
            state["in_flight"] -= 1
            metrics.in_flight.dec()

    @asynccontextmanager
    async def waiting(n: int) -> AsyncIterator[None]:
        """``n`` reward samples waiting for their groups: they hold no request slot, since a
        sample's group completes only when its other samples get in."""
        if state["waiting"] + n > settings.max_waiting_samples:
            raise LimitError(
                f"too many reward samples waiting for their groups (max_waiting_samples="
                f"{settings.max_waiting_samples}); retry after a second, or raise --max-waiting-samples",
                limit="max_waiting_samples",
                value=settings.max_waiting_samples,
                status=429,
            )
        state["waiting"] += n
        metrics.group_depth.inc(n)
        try:
            yield
        finally:
            state["waiting"] -= n
            metrics.group_depth.dec(n)

    # ---------------------------------------------------------------- helpers

    def check_limits(principle: PrincipleLike, prompt: str, responses: Any) -> None:
        text = principle_text(principle)
        if len(text) > settings.max_principle_chars:
            raise LimitError(
                f"the principle has {len(text)} characters, more than max_principle_chars="
                f"{settings.max_principle_chars}; shorten it",
                limit="max_principle_chars",
                value=settings.max_principle_chars,
            )
        if len(prompt) > settings.max_prompt_chars:
            raise LimitError(
                f"the prompt has {len(prompt)} characters, more than max_prompt_chars={settings.max_prompt_chars}",
                limit="max_prompt_chars",
                value=settings.max_prompt_chars,
            )
        items = list(responses.values()) if isinstance(responses, Mapping) else list(responses)
        if len(items) > settings.max_candidates:
            raise LimitError(
                f"{len(items)} candidates, more than max_candidates={settings.max_candidates}; split the request",
                limit="max_candidates",
                value=settings.max_candidates,
            )
        for i, item in enumerate(items):
            size = len(item) if isinstance(item, str) else len(json.dumps(item, default=str))
            if size > settings.max_candidate_chars:
                raise LimitError(
                    f"candidate {i} has {size} characters, more than max_candidate_chars="
                    f"{settings.max_candidate_chars}; shorten it",
                    limit="max_candidate_chars",
                    value=settings.max_candidate_chars,
                )

    async def _judge(
        principle: PrincipleLike, prompt: str, responses: Any, *, checked: bool = False, **options: Any
    ) -> JudgeResult:
        if not checked:
            check_limits(principle, prompt, responses)
        result = await current_judge().ajudge(principle, prompt, responses, **options)
        if result.retries:
            metrics.retries.inc(result.retries)
        return result

    def parse_request(raw: Any) -> JudgeRequest:
        req = _validated(JudgeRequest, raw)
        check_limits(req.principle, req.prompt, req.responses)
        return req

    def check_batch(items: list[Any]) -> None:
        if not items:
            raise UsageError("the batch is empty; send at least one request")
        if len(items) > settings.max_batch:
            raise LimitError(
                f"{len(items)} requests in one batch, more than max_batch={settings.max_batch}; split it",
                limit="max_batch",
                value=settings.max_batch,
            )

    # ------------------------------------------------------------ native API

    @app.post(
        "/v1/judge",
        response_model=None,
        responses={200: {"description": "The verdict", "content": {"application/json": {"schema": VERDICT_SCHEMA}}}},
        tags=["native"],
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": JudgeRequest.model_json_schema()}}}},
    )
    async def judge_one(request: Request) -> Response:
        """Judge one request: every candidate scored, a strict ranking, the reasoning."""
        body = parse_request(await _json_body(request))
        async with slot():
            result = await _judge(
                body.principle,
                body.prompt,
                body.responses,
                checked=True,
                permutations=body.permutations,
                seed=body.seed,
            )
        return Response(verdict_json(result), media_type="application/json")

    @app.post("/v1/judge/batch", response_model=BatchOut, tags=["native"])
    async def judge_batch(request: Request) -> Response:
        """Judge many requests; results in request order, each a verdict or a typed error."""
        raw = await _json_body(request)
        items = raw.get("requests") if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise UsageError('the batch body must be {"requests": [...]} or a JSON array of requests')
        check_batch(items)
        async with slot():
            return _json_data({"results": await _batch(items)})

    async def _batch(items: list[Any]) -> list[dict[str, Any]]:
        """One :class:`~ra_agents.remote.wire.BatchItemOut` as JSON data per request, in request order."""
        out: list[dict[str, Any] | None] = [None] * len(items)
        valid: list[tuple[int, JudgeRequest]] = []
        for index, raw in enumerate(items):
            try:
                valid.append((index, parse_request(raw)))
            except RAError as exc:
                rid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str | int) else None
                out[index] = _item_error(index, rid, exc)
        results = await current_judge().ajudge_batch([req for _, req in valid])
        for (index, req), result in zip(valid, results, strict=False):
            if isinstance(result, JudgeResult):
                if result.retries:
                    metrics.retries.inc(result.retries)
                out[index] = {"index": index, "id": req.id, "ok": True, "verdict": verdict_to_dict(result)}
            else:
                out[index] = _item_error(index, req.id, result)
        return [item for item in out if item is not None]

    def _item_error(index: int, rid: Any, exc: RAError) -> dict[str, Any]:
        if isinstance(exc, VerdictError):
            metrics.verdict_failures.inc()
        return {"index": index, "id": rid, "ok": False, "error": _error_data(exc)}

    # ------------------------------------------------- RewardAnything compatible

    def ra_response(result: JudgeResult) -> RAResponse:
        scores = {n: int(s) if float(s).is_integer() else s for n, s in result.scores.items()}
        return RAResponse(thoughts=result.reasoning, results={"scores": scores, "best-to-worst": list(result.ranking)})

    def ra_request(raw: Any) -> RARequest:
        req = _validated(RARequest, raw)
        extra = sorted(set(raw) - set(RARequest.model_fields)) if isinstance(raw, dict) else []
        if extra:
            raise UsageError(
                f"unknown fields {extra}: the server's model, upstream and paths are fixed by its operator"
            )
        return req

    @app.post("/api/rewardanything", response_model=RAResponse, tags=["rewardanything"])
    async def rewardanything(request: Request) -> Response:
        """The reference server's single request; always masked and shuffled."""
        req = ra_request(await _json_body(request))
        async with slot():
            return _json(ra_response(await _judge(req.principle, req.prompt, req.responses)))

    @app.post(
        "/api/rewardanything_batch",
        response_model=None,
        tags=["rewardanything"],
        responses={200: {"model": list[RAResponse]}},
    )
    async def rewardanything_batch(request: Request, partial: bool = False) -> Any:
        """The reference batch: a JSON array in, an array out, in request order with real names.

        Any failed item fails the whole call with its error (the reference client would read
        an item without scores as an empty verdict); ``?partial=true`` instead returns every
        item, failed ones with empty results and an ``error`` object.
        """
        raw = await _json_body(request)
        if not isinstance(raw, list):
            raise UsageError("the batch body must be a JSON array of requests")
        check_batch(raw)
        async with slot():
            items: list[JudgeRequest | RAError] = []
            for r in raw:
                try:
                    req = ra_request(r)
                    check_limits(req.principle, req.prompt, req.responses)
                    items.append(JudgeRequest(principle=req.principle, prompt=req.prompt, responses=req.responses))
                except RAError as exc:
                    items.append(exc)
            if not partial:
                bad = [(i, e) for i, e in enumerate(items) if isinstance(e, RAError)]
                if bad:
                    i, e = bad[0]
                    raise UsageError(f"request {i} of the batch: {e}")
            todo = [(i, r) for i, r in enumerate(items) if isinstance(r, JudgeRequest)]
            results = await current_judge().ajudge_batch([r for _, r in todo])
            out: list[Any] = list(items)
            for (i, _), res in zip(todo, results, strict=False):
                out[i] = res
            failures = [(i, o) for i, o in enumerate(out) if isinstance(o, RAError)]
            for _, failure in failures:
                if isinstance(failure, VerdictError):
                    metrics.verdict_failures.inc()
            if failures and not partial:
                first, failure = failures[0]
                if isinstance(failure, LimitError):
                    raise failure
                raise type(failure)(f"request {first} of the batch: {failure}")
            body = []
            for o in out:
                if isinstance(o, JudgeResult):
                    body.append(ra_response(o).model_dump())
                else:
                    body.append(
                        {
                            "thoughts": "",
                            "results": {"scores": {}, "best-to-worst": []},
                            "error": _error_data(o),
                        }
                    )
            return body

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness, answered like the reference server."""
        return {"status": "healthy", "service": "RewardAnything API"}

    # ---------------------------------------------------------------- OpenRLHF

    @app.post("/v1/rewards/openrlhf", response_model=OpenRLHFResponse, tags=["rl"])
    async def openrlhf(request: Request) -> OpenRLHFResponse:
        """OpenRLHF's remote reward: each sample judged within its prompt's WHOLE group, one call per group.

        A sample waits until its group is complete: ``group_size`` samples (the body's
        ``group_size``, else the server's) of the same ``group_ids`` entry when the body gives
        one, else of the same principle and prompt. A group incomplete after ``group_wait_s``
        fails its samples (408, a LimitError naming the group and the counts); a failed judge
        call fails its samples with the judge's error. ``extra_logs`` carries each sample's
        ``judge_score``, ``group_size`` and ``group_wait_s``.
        """
        body = _validated(_RewardRequest, await _json_body(request))
        n = len(body.query)
        if body.group_ids is not None and len(body.group_ids) != n:
            raise UsageError(f"'group_ids' has {len(body.group_ids)} items but 'query' has {n}; send one per query")
        if body.prompts is not None and len(body.prompts) != n:
            raise UsageError(f"'prompts' has {len(body.prompts)} items but 'query' has {n}; send one prompt per query")
        if body.labels is not None and len(body.labels) != n:
            raise UsageError(f"'labels' has {len(body.labels)} items but 'query' has {n}; send one label per query")
        if n > settings.max_batch:
            raise LimitError(
                f"{n} samples, more than max_batch={settings.max_batch}", limit="max_batch", value=settings.max_batch
            )
        samples: list[tuple[str, str, str, str | None]] = []
        for i, query in enumerate(body.query):
            prompt = body.prompts[i] if body.prompts is not None else ""
            response = response_of(query, prompt)
            principle = (
                principle_of_label(body.labels[i] if body.labels is not None else None)
                or body.principle
                or settings.default_principle
            )
            if not principle:
                raise UsageError(
                    'no principle for sample {i}: put one in its label ({"principle": ...}), in the body\'s '
                    "'principle', or start the server with a default principle".replace("{i}", str(i))
                )
            check_limits(principle, prompt, [response])
            samples.append((principle, prompt, response, body.group_ids[i] if body.group_ids is not None else None))
        async with waiting(n):  # samples join their groups only once every sample is valid
            outcomes = await asyncio.gather(
                *(groups.reward(p, q, r, group=g, size=body.group_size) for p, q, r, g in samples),
                return_exceptions=True,
            )
        rewards = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                incomplete = isinstance(outcome, LimitError) and outcome.limit == INCOMPLETE_LIMIT
                reason = "incomplete_group" if incomplete else "judge_error"
                metrics.reward_failures.labels(reason).inc()
                continue
            metrics.group_size.observe(outcome.group_size)
            metrics.group_wait.observe(outcome.wait_s)
            rewards.append(outcome)
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            raise failure
        return OpenRLHFResponse(
            rewards=[r.reward for r in rewards],
            scores=[r.reward for r in rewards],
            extra_logs={
                "judge_score": [r.score for r in rewards],
                "group_size": [float(r.group_size) for r in rewards],
                "group_wait_s": [r.wait_s for r in rewards],
            },
        )

    # -------------------------------------------------------------- operations

    @app.get("/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        """Readiness: the judge exists and its backend answers."""
        j = state["judge"]
        if j is None:
            return JSONResponse({"ready": False, "reason": "the judge is starting"}, status_code=503)
        reason = await _backend_problem(j)
        if reason:
            return JSONResponse({"ready": False, "reason": reason}, status_code=503)
        return JSONResponse({"ready": True, "model": j.backend.model})

    @app.get("/metrics", tags=["operations"])
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # The single-verdict endpoints are the hot path: served by plain Starlette routes placed
    # first (the same functions; no dependency solving or response re-validation per request).
    # FastAPI's routes above stay for the OpenAPI docs and answer nothing the fast ones take.
    for path, endpoint in (("/v1/judge", judge_one), ("/api/rewardanything", rewardanything)):
        app.router.routes.insert(0, Route(path, endpoint, methods=["POST"], include_in_schema=False))

    return app


def _without_native_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry off (FastAPI >= 0.16x has it; older versions lack the option).

    The server makes its own server span, metrics and access log (:class:`_Observe`); with
    FastAPI's on as well, a traced request had two server spans.
    """
    import inspect

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _settle_garbage_collector() -> None:
    """Tune the collector of a process that only serves (``ra-agents serve``, its workers).

    Everything loaded at start-up (modules, the app, the judge) lives as long as the process:
    ``gc.freeze`` moves it to the permanent generation, so collections scan only what requests
    allocate; and a young generation of 10,000 objects instead of 700 makes collections rarer.
    Measured under ``python -m benchmarks server``: collections took about an eighth of the server's
    CPU time per request before, under a fiftieth after. Not done for an app created in
    another process (tests, an embedding application).
    """
    import gc

    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_YOUNG_GENERATION, older, oldest)


class _RewardRequest(OpenRLHFRequest):
    """OpenRLHF's request, plus what a trainer that knows its groups may send."""

    group_ids: list[str | None] | None = Field(None, description="each sample's group id (default: its prompt's)")
    group_size: int | None = Field(None, ge=1, le=256, description="samples per group (default: the server's)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise UsageError(f"the JSON body gives the key {key!r} twice; candidate names and fields must be unique")
        obj[key] = value
    return obj


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        raise UsageError("the request body is empty; send a JSON document")
    try:
        return json.loads(body, object_pairs_hook=_unique_keys)
    except UsageError:
        raise
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"the request body is not valid JSON ({exc})") from None


class _Observe:
    """Pure ASGI middleware: the server span, the body-size limit, metrics and the access log.

    A plain ASGI wrapper rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs the app in a task of its own and pipes the response
    through memory streams, which cost a noticeable share of a fast request's CPU. The
    body is read here, bounded by ``max_body_bytes`` (413 beyond it, whatever the
    declared length), and replayed to the app.
    """

    def __init__(self, app: Any, *, settings: ServerSettings, metrics: _Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self._keys = [k.encode() for k in settings.api_keys]

    def _authorized(self, path: str, headers: Mapping[str, str]) -> bool:
        """Whether the request may go on: a public path, no keys configured, or a right bearer key."""
        if not self._keys or path in PUBLIC_PATHS:
            return True
        scheme, _, token = headers.get("authorization", "").partition(" ")
        given = token.strip().encode() if scheme.lower() == "bearer" else b""
        ok = False
        for key in self._keys:  # compare with every key, in constant time, whatever matches
            ok |= hmac.compare_digest(given, key)
        return ok

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        status = 500
        started = time.perf_counter()

        async def send_observed(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if tracing_enabled() or "traceparent" in headers:
                with _tracer.start_as_current_span(
                    f"{method} {path}",
                    context=propagate.extract(headers),
                    kind=trace.SpanKind.SERVER,
                    attributes={"http.request.method": method, "url.path": path},
                ) as span:
                    try:
                        await self._handle(scope, headers, receive, send_observed)
                    finally:
                        span.set_attribute("http.response.status_code", status)
            else:  # nothing would be recorded nor passed on: no span
                await self._handle(scope, headers, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            if path != "/metrics":
                self.metrics.requests.labels(path, str(status)).inc()
                self.metrics.latency.labels(path).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    json.dumps(
                        {
                            "method": method,
                            "path": path,
                            "status": status,
                            "ms": round(elapsed * 1e3, 2),
                            "client": client[0] if client else None,
                        }
                    )
                )

    async def _handle(self, scope: dict[str, Any], headers: Mapping[str, str], receive: Any, send: Any) -> None:
        if not self._authorized(scope["path"], headers):
            await _UNAUTHORIZED(scope, receive, send)
            return
        body = await self._bounded_body(headers, scope["method"], receive)
        if body is None:
            await _too_large(self.settings)(scope, receive, send)
        else:
            await self.app(scope, _replay(body, receive), send)

    async def _bounded_body(self, headers: Mapping[str, str], method: str, receive: Any) -> bytes | None:
        """The whole request body, or ``None`` when it is larger than the limit."""
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        if method not in ("POST", "PUT", "PATCH"):
            return b""
        chunks = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """An ASGI ``receive`` that gives ``body`` once, then defers to the real one (disconnects)."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


_UNAUTHORIZED = JSONResponse(
    {"error": error_to_dict(UsageError("missing or wrong API key; send 'Authorization: Bearer <key>'"))},
    status_code=401,
    headers={"WWW-Authenticate": "Bearer"},
)


def _too_large(settings: ServerSettings) -> JSONResponse:
    exc = LimitError(
        f"the request body is larger than max_body_bytes={settings.max_body_bytes}; send less per request",
        limit="max_body_bytes",
        value=settings.max_body_bytes,
        status=413,
    )
    return _error_response(exc)


async def _backend_problem(judge: Judge) -> str | None:
    """Why the judge's backend cannot serve now, or None. Each server it calls is asked ``GET /models``."""
    endpoints: list[tuple[str, str | None]] = getattr(judge.backend, "endpoints", [])
    if not endpoints:
        return None
    import httpx

    async with httpx.AsyncClient(timeout=5.0) as client:
        for base, key in endpoints:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            try:
                r = await client.get(f"{base.rstrip('/')}/models", headers=headers)
            except httpx.HTTPError as exc:
                return f"the backend at {base} is unreachable ({type(exc).__name__})"
            if r.status_code >= 500:
                return f"the backend at {base} answered {r.status_code}"
    return None


def create_app_from_env() -> FastAPI:
    """The app for uvicorn worker processes: settings from :data:`SETTINGS_ENV`."""
    import multiprocessing
    import os

    from ...local.processes import exit_with_parent

    raw = os.environ.get(SETTINGS_ENV)
    settings = ServerSettings.model_validate_json(raw) if raw else ServerSettings()
    if (supervisor := multiprocessing.parent_process()) is not None and supervisor.pid is not None:
        exit_with_parent(supervisor.pid)  # a worker of ra-agents serve --workers N: gone with it, even after SIGKILL
    owner = os.environ.get(GROUP_OWNER_ENV) or None
    if owner is None:
        check_whole_groups(settings)
    app = create_app(settings, group_owner=owner)
    app.state.owns_process = True  # the process is this server's alone: tune its collector
    return app


def check_whole_groups(settings: ServerSettings) -> None:
    """Refuse a deployment where reward groups would be split between processes.

    Each worker holding its own groups would judge fragments. ``ra-agents serve`` gives
    several workers one group owner; an app started by another supervisor (``uvicorn
    --workers N``) as one of several processes has none.

    Raises:
        UsageError: several worker processes and no group owner.
    """
    import multiprocessing

    if settings.workers > 1 or multiprocessing.parent_process() is not None:
        raise UsageError(
            "this server runs as one of several worker processes without a group owner, so the samples of one "
            "prompt would be judged in fragments; start it with 'ra-agents serve --workers N' (one process holds "
            f"every reward group), or run one worker; {GROUP_OWNER_ENV} names the owner's socket"
        )


async def group_owner_buffer(settings: ServerSettings) -> GroupBuffer:
    """The group owner's buffer: every reward group of a multi-worker server, judged by its own judge."""
    judge = await asyncio.to_thread(build_judge, settings)

    async def judge_group(principle: str, prompt: str, responses: dict[str, str]) -> JudgeResult:
        return await judge.ajudge(principle, prompt, responses)

    return GroupBuffer(judge_group, group_size=settings.group_size, wait_s=settings.group_wait_s)
