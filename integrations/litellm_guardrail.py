"""An output guardrail for the LiteLLM proxy: every response judged under a principle.

Many teams put every model call behind the LiteLLM proxy; a guardrail there applies to
every application at once, whatever language it is written in. This one runs after the
call (``mode: post_call``) and makes ONE judge call per response: the response alone
(it passes when its unit score reaches the threshold), or, when the request asked for
several choices (``n > 1``), all the choices together, and the best passing choice is
returned (the response is rewritten to contain only it).

Proxy config (``pip install 'ra-agents[litellm-proxy]'``)::

    model_list:
      - model_name: assistant
        litellm_params: {model: hosted_vllm/my-model, api_base: "http://10.0.0.5:8000/v1"}

    guardrails:
      - guardrail_name: ra-policy
        litellm_params:
          guardrail: ra_agents.integrations.litellm_guardrail.PrincipleGuardrail
          mode: post_call
          default_on: true                  # every request; else only requests naming it
          principle: "Never give medical dosages; send the user to a pharmacist."
          # principle_id: no-medical-dosage # or an id from the principle library
          threshold: 0.5                    # lowest passing unit score, 0..1 (0.5 is a 3 of 5)
          on_fail: replace                  # block | replace | log
          fallback: "I can't help with that; please ask a pharmacist."
          on_judge_error: fail_closed       # fail_open | fail_closed | raise, when the judge fails
          judge_model: hosted_vllm/rewardanything
          judge_api_base: "http://10.0.0.6:8000/v1"
          # judge_api_key: os.environ/RA_JUDGE_KEY
          # judge_max_tokens: 256           # the judge's generation budget (reasoning judges need more)
          # judge_timeout: 60               # seconds per judge call
          # allow_request_principle: false  # let a request choose the principle (see below)

Settings (under ``litellm_params``):
    principle / principle_id: what the responses must respect: the text (or a principle
        table: ``text``, ``criteria``, ``priority``), or an id from the principle library
        (``ra_agents.principles``). Exactly one.
    threshold: the lowest passing unit score (:func:`ra_agents.accepts`: the
        :meth:`~ra_agents.JudgeResult.unit_score`, 0..1, the logprob-weighted expected
        score when the judge server returns logprobs; default 0.5). 0 passes everything;
        above 1 fails everything (handy to try the failure path).
    on_fail: what a failing response gets. ``block``: an HTTP 400 error naming the
        principle, the score and the threshold. ``replace``: the ``fallback`` text as the
        answer (needs ``fallback``). ``log``: the response goes out unchanged; the verdict
        is only recorded. (LiteLLM's own schema already owns the key ``action``, for
        block/mask only, hence ``on_fail``.) With ``n > 1``, ``block`` and ``replace``
        return the best passing choice when there is one; ``log`` never changes anything.
    on_judge_error: what a judge failure (server down, no usable verdict) means, in the
        words of every ra-agents adapter (:data:`ra_agents.OnJudgeError`). ``fail_closed``
        (default): an HTTP 503 saying the response was withheld. ``fail_open``: the
        response goes out, and the headers say it was not judged. ``raise``: the judge's
        error propagates (LiteLLM answers with its own error status). The earlier key
        ``on_error`` is still read, with a deprecation warning.
    judge_model / judge_api_base / judge_api_key / judge_max_tokens / judge_timeout: the
        judge, called directly through ra-agents' LiteLLM backend (never through this
        proxy, so its calls are not guarded themselves). ``judge_api_key`` may be
        ``os.environ/NAME``.
    allow_request_principle: when true, a request may choose the principle through its
        metadata (``"metadata": {"ra_principle": "..."}`` or ``{"ra_principle_id": "..."}``)
        or, for LiteLLM premium users, the guardrail's dynamic params
        (``"guardrails": [{"ra-policy": {"extra_body": {"principle": "..."}}}]``). When
        false (default), such a request is judged under the configured principle and the
        headers say the override was denied.

Requests choose guardrails that are not ``default_on`` by name: ``"guardrails": ["ra-policy"]``.
Several guardrails of this class (different principles, thresholds, actions) can live in
one proxy.

The prompt the judge reads is the request's ``messages`` as :func:`ra_agents.prompt_text`
reads them (the same text every ra-agents adapter sends), at most its last 12,000
characters.

The verdict shows in the response headers (``x-ra-guardrail-action``: allow, select, block,
replace, log, fail_open or fail_closed; ``-verdict``: pass, fail or error; ``-score``,
``-threshold``, ``-principle``, ``-name``, and ``-choice``, ``-override``, ``-error`` when
they apply; when two of these guardrails judge one request their values are joined with
", "), in the proxy's log (logger ``LiteLLM Proxy``: failures at WARNING, passes at INFO,
so ``LITELLM_LOG=INFO`` shows every verdict), and in LiteLLM's guardrail logging
(spend logs, OpenTelemetry, Langfuse...), without the response text.

Streaming requests are judged too: the stream is held back until it is complete, judged,
then released, rewritten or blocked (as nothing was sent yet, LiteLLM answers with the
error status and one SSE error event). A streamed verdict shows in the logs, not in the
headers.

This module relies on the installed LiteLLM (1.106) calling ``async_post_call_success_hook``
and ``async_post_call_streaming_iterator_hook`` of a ``CustomGuardrail``, passing extra
``litellm_params`` to its constructor, turning a ``fastapi.HTTPException`` into an error
response that keeps its status and headers, and reading response headers from
``response._hidden_params["additional_headers"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import os
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ra_agents import (
    DEFAULT_THRESHOLD,
    Judge,
    JudgeResult,
    Judging,
    MissingDependencyError,
    OnJudgeError,
    Principle,
    PrincipleLike,
    UsageError,
    accepts,
    prompt_text,
)
from ra_agents.acceptance import check_threshold, resolve_on_judge_error
from ra_agents.principles import principle_text
from ra_agents.trajectory import content_text

try:
    from fastapi import HTTPException
    from litellm._logging import verbose_proxy_logger
    from litellm.integrations.custom_guardrail import CustomGuardrail
    from litellm.types.guardrails import GuardrailEventHooks
    from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "litellm[proxy]", "litellm-proxy", "ra_agents.integrations.litellm_guardrail (the LiteLLM proxy guardrail)"
    ) from _exc

if TYPE_CHECKING:
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.types.utils import LLMResponseTypes

__all__ = ["PrincipleGuardrail", "GuardrailVerdict", "HEADER_PREFIX"]

HEADER_PREFIX = "x-ra-guardrail-"
"""Every verdict header starts with this."""

OnFail = Literal["block", "replace", "log"]
Action = Literal["allow", "select", "block", "replace", "log", "fail_open", "fail_closed", "raise"]

_PROMPT_CHARS = 12_000
"""The judge reads at most this many characters of the conversation (its end)."""
_LABEL_CHARS = 60


@dataclass(frozen=True)
class GuardrailVerdict:
    """What the guardrail decided about one response.

    Attributes:
        guardrail: the guardrail's name in the proxy config.
        action: ``allow`` (unchanged), ``select`` (rewritten to the best passing choice),
            ``block``, ``replace`` (the fallback), ``log`` (failed, recorded only),
            ``fail_open`` / ``fail_closed`` / ``raise`` (the judge failed).
        passed: whether a choice reached the threshold; ``None`` when the judge failed.
        score: the unit score of the returned choice (or of the best one, when none passed).
        threshold: the guardrail's threshold.
        principle: the principle's id, or its first words.
        choice: the index of the returned (or best) choice among the response's choices.
        scores: each choice's unit score, in choice order.
        override: ``"applied"`` or ``"denied"`` when the request asked for its own principle.
        error: the judge's error type, when it failed.
        latency_s: the judge's wall time.
    """

    guardrail: str
    action: Action
    passed: bool | None
    threshold: float
    principle: str
    score: float | None = None
    choice: int | None = None
    scores: tuple[float, ...] = ()
    override: str | None = None
    error: str | None = None
    latency_s: float = 0.0

    @property
    def outcome(self) -> str:
        """``pass``, ``fail`` or ``error``."""
        return "error" if self.passed is None else "pass" if self.passed else "fail"

    def headers(self) -> dict[str, str]:
        """The response headers that show this verdict."""
        out = {
            "name": self.guardrail,
            "action": self.action,
            "verdict": self.outcome,
            "threshold": f"{self.threshold:g}",
            "principle": self.principle,
        }
        if self.score is not None:
            out["score"] = f"{self.score:.3f}"
        if len(self.scores) > 1 and self.choice is not None:
            out["choice"] = str(self.choice)
        if self.override:
            out["override"] = self.override
        if self.error:
            out["error"] = self.error
        return {HEADER_PREFIX + key: _header_safe(value) for key, value in out.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record for logs (no prompt or response text)."""
        return {
            "guardrail": self.guardrail,
            "action": self.action,
            "verdict": self.outcome,
            "score": None if self.score is None else round(self.score, 4),
            "threshold": self.threshold,
            "principle": self.principle,
            "choice": self.choice,
            "scores": [round(s, 4) for s in self.scores],
            "override": self.override,
            "error": self.error,
            "latency_s": round(self.latency_s, 3),
        }


class PrincipleGuardrail(CustomGuardrail):
    """A LiteLLM proxy guardrail that judges responses under a principle (see the module doc).

    LiteLLM builds it from the proxy config, passing every ``litellm_params`` entry as a
    keyword argument (and many of its own defaults, which are ignored here).

    Args:
        principle: what responses must respect (text, or a principle table).
        principle_id: a principle library id, instead of ``principle``.
        threshold: the lowest passing unit score (0..1; above 1 fails everything).
        on_fail: ``"block"``, ``"replace"`` or ``"log"``.
        fallback: the answer ``replace`` gives when no choice passes.
        on_judge_error: ``"fail_closed"`` (default), ``"fail_open"`` or ``"raise"`` when the
            judge fails (``on_error``, its earlier name, is still read).
        judge_model: the judge's LiteLLM model string (``"hosted_vllm/rewardanything"``).
        judge_api_base: the judge server's base URL.
        judge_api_key: its key, or ``os.environ/NAME``.
        judge_max_tokens: the judge's generation budget (``None``: sized by candidates).
        judge_timeout: seconds per judge call.
        allow_request_principle: let a request choose the principle through its metadata.
        judge: a ready judge instead of ``judge_model``: any :class:`ra_agents.Judging`
            (a local judge, or the HTTP client of a judge server; for embedding and tests, a
            YAML config cannot pass one).

    Raises:
        UsageError: a setting that cannot work (the proxy then refuses to start, with
            this message).
    """

    def __init__(
        self,
        *,
        principle: str | Mapping[str, Any] | Principle | None = None,
        principle_id: str | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        on_fail: OnFail = "block",
        fallback: str | None = None,
        on_judge_error: OnJudgeError | None = None,
        judge_model: str | None = None,
        judge_api_base: str | None = None,
        judge_api_key: str | None = None,
        judge_max_tokens: int | None = None,
        judge_timeout: float = 60.0,
        allow_request_principle: bool = False,
        judge: Judging | None = None,
        **kwargs: Any,
    ) -> None:
        old_on_error = kwargs.pop("on_error", None)
        kwargs.setdefault("supported_event_hooks", [GuardrailEventHooks.post_call])
        super().__init__(**kwargs)
        name = self.guardrail_name or "ra-principle"
        self.guardrail_name = name
        if on_fail not in ("block", "replace", "log"):
            raise UsageError(f"guardrail {name!r}: on_fail must be block, replace or log, got {on_fail!r}")
        if on_fail == "replace" and not (isinstance(fallback, str) and fallback.strip()):
            raise UsageError(f"guardrail {name!r}: on_fail: replace needs a fallback text; set fallback:")
        if not isinstance(allow_request_principle, bool):
            raise UsageError(f"guardrail {name!r}: allow_request_principle must be true or false")
        self.threshold = _threshold(name, threshold)
        self.on_fail: OnFail = on_fail
        self.fallback = fallback
        self.on_judge_error: OnJudgeError = resolve_on_judge_error(
            on_judge_error, old_name="on_error", old_value=old_on_error, what=f"guardrail {name!r}"
        )
        self.allow_request_principle = allow_request_principle
        self._library: dict[str, PrincipleLike] = {}
        self.principle = self._configured_principle(name, principle, principle_id)
        self.principle_label = _label(self.principle)
        if judge is None:
            if not judge_model:
                raise UsageError(
                    f"guardrail {name!r}: set judge_model (e.g. hosted_vllm/rewardanything) and judge_api_base"
                )
            judge = Judge.from_litellm(
                judge_model,
                api_base=judge_api_base,
                api_key=_secret(judge_api_key),
                max_tokens=judge_max_tokens,
                timeout=float(judge_timeout),
            )
        self.judge = judge
        if self.threshold > 1:
            verbose_proxy_logger.warning(
                "ra guardrail %r: threshold %g is above 1, so every response fails", name, self.threshold
            )

    # ------------------------------------------------------------------ hooks

    async def async_post_call_success_hook(
        self,
        data: dict[Any, Any],
        user_api_key_dict: UserAPIKeyAuth,
        response: LLMResponseTypes,
    ) -> Any:
        """Judge a chat completion; return it (possibly rewritten) or raise an HTTP error."""
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices or not all(hasattr(c, "message") for c in choices):
            return response  # not a chat completion: nothing this guardrail judges
        candidates = [_candidate(c.message) for c in choices]
        verdict = await self._verdict(data, candidates)
        completion: Any = response
        if verdict.action in ("select", "replace") and verdict.choice is not None:
            kept = choices[verdict.choice]
            kept.index = 0
            if verdict.action == "replace":
                kept.finish_reason = "stop"
                kept.message.content = self.fallback
                kept.message.tool_calls = None
                kept.message.function_call = None
            completion.choices = [kept]
        _add_headers(completion, verdict.headers())
        return completion

    async def async_post_call_streaming_iterator_hook(
        self,
        user_api_key_dict: UserAPIKeyAuth,
        response: Any,
        request_data: dict[Any, Any],
    ) -> AsyncGenerator[ModelResponseStream, None]:
        """Hold a stream back until it is complete, judge it, then release, rewrite or block it."""
        chunks = [chunk async for chunk in response]
        assembled = _assemble(chunks)
        if not assembled:
            for chunk in chunks:
                yield chunk
            return
        indexes = sorted(assembled)
        verdict = await self._verdict(request_data, [assembled[i] for i in indexes])
        chosen = None if verdict.choice is None else indexes[verdict.choice]
        if verdict.action == "replace":
            first = chunks[0]
            yield ModelResponseStream(
                id=getattr(first, "id", None),
                model=getattr(first, "model", None),
                created=getattr(first, "created", None),
                choices=[
                    StreamingChoices(
                        index=0, delta=Delta(role="assistant", content=self.fallback), finish_reason="stop"
                    )
                ],
            )
            return
        for chunk in chunks:
            if verdict.action == "select" and getattr(chunk, "choices", None):  # a selection always has a choice
                kept = [c for c in chunk.choices if getattr(c, "index", 0) == chosen]
                if not kept:
                    continue
                for c in kept:
                    c.index = 0
                chunk.choices = kept
            yield chunk

    # --------------------------------------------------------------- judging

    async def _verdict(self, data: dict[Any, Any], candidates: Sequence[Any]) -> GuardrailVerdict:
        """Judge the candidates; record the verdict; raise the HTTP error that blocks."""
        principle, label, override = await self._principle_for(data)
        base = GuardrailVerdict(
            guardrail=str(self.guardrail_name),
            action="allow",
            passed=None,
            threshold=self.threshold,
            principle=label,
            override=override,
        )
        names = [f"choice-{i}" for i in range(len(candidates))]
        started = time.perf_counter()
        start_time = time.time()
        try:
            result = await self.judge.ajudge(
                principle, _prompt_of(data.get("messages")), dict(zip(names, candidates, strict=True))
            )
        except Exception as exc:  # every judge failure, whatever its kind, is answered by on_judge_error
            verdict = replace(
                base, action=self.on_judge_error, error=type(exc).__name__, latency_s=time.perf_counter() - started
            )
            self._record(data, verdict, start_time, detail=str(exc))
            if self.on_judge_error == "raise":
                raise
            if self.on_judge_error == "fail_closed":
                raise HTTPException(
                    status_code=503,
                    detail={
                        "error": (
                            f"Response withheld by guardrail {self.guardrail_name!r}: the judge could not judge it "
                            f"({type(exc).__name__}), and the guardrail fails closed. Try again later."
                        ),
                        "guardrail": self.guardrail_name,
                        "principle": label,
                    },
                    headers=verdict.headers(),
                ) from None  # the judge's error is in the log line above; clients get no internals
            return verdict
        verdict = self._decide(base, result, names, time.perf_counter() - started)
        self._record(data, verdict, start_time)
        if verdict.action == "block":
            raise HTTPException(status_code=400, detail=self._block_detail(verdict), headers=verdict.headers())
        return verdict

    def _decide(
        self, base: GuardrailVerdict, result: JudgeResult, names: Sequence[str], latency_s: float
    ) -> GuardrailVerdict:
        scores = tuple(result.unit_score(n) for n in names)
        passing = [n for n in result.ranking if accepts(result, n, self.threshold)]
        action: Action
        if passing:
            choice = names.index(passing[0])
            action = "select" if len(names) > 1 and self.on_fail != "log" else "allow"
        else:
            choice = names.index(result.ranking[0])
            action = self.on_fail
        return replace(
            base,
            action=action,
            passed=bool(passing),
            score=scores[choice],
            choice=choice,
            scores=scores,
            latency_s=latency_s,
        )

    def _block_detail(self, verdict: GuardrailVerdict) -> dict[str, Any]:
        of = f"the best of its {len(verdict.scores)} choices" if len(verdict.scores) > 1 else "it"
        message = (
            f"Response blocked by guardrail {self.guardrail_name!r}: under the principle {verdict.principle!r} "
            f"{of} scored {verdict.score:.2f}, below the threshold {verdict.threshold:g}."
        )
        return {
            "error": message,
            "guardrail": self.guardrail_name,
            "principle": verdict.principle,
            "score": None if verdict.score is None else round(verdict.score, 4),
            "threshold": verdict.threshold,
        }

    def _record(self, data: dict[Any, Any], verdict: GuardrailVerdict, start_time: float, detail: str = "") -> None:
        """Write the verdict to the proxy's log and to LiteLLM's guardrail logging."""
        record = verdict.to_dict()
        line = "ra guardrail %r: %s, action %s (score %s, threshold %g, principle %r%s)"
        args: tuple[Any, ...] = (
            verdict.guardrail,
            verdict.outcome,
            verdict.action,
            record["score"],
            verdict.threshold,
            verdict.principle,
            f", judge error {verdict.error}: {detail}" if verdict.error else "",
        )
        if verdict.passed is True:
            verbose_proxy_logger.info(line, *args)
        elif verdict.passed is False:
            verbose_proxy_logger.warning(line, *args)
        else:
            verbose_proxy_logger.error(line, *args)
        status: Literal["success", "guardrail_flagged", "guardrail_intervened", "guardrail_failed_to_respond"]
        if verdict.passed is None:
            status = "guardrail_failed_to_respond"
        elif verdict.action in ("block", "replace"):
            status = "guardrail_intervened"
        elif verdict.action == "log":
            status = "guardrail_flagged"
        else:
            status = "success"
        try:
            self.add_standard_logging_guardrail_information_to_request_data(
                guardrail_json_response=record,
                request_data=data,
                guardrail_status=status,
                start_time=start_time,
                end_time=time.time(),
                duration=verdict.latency_s,
                guardrail_provider="ra-agents",
                event_type=GuardrailEventHooks.post_call,
            )
        except Exception as exc:  # noqa: BLE001 - logging must never change the response
            verbose_proxy_logger.debug("ra guardrail %r: could not record the verdict: %s", verdict.guardrail, exc)

    # ------------------------------------------------------------ principles

    def _configured_principle(
        self, name: str, principle: str | Mapping[str, Any] | Principle | None, principle_id: str | None
    ) -> PrincipleLike:
        if (principle is None) == (principle_id is None):
            raise UsageError(
                f"guardrail {name!r}: set exactly one of principle (the text) and principle_id (a library id)"
            )
        try:
            if principle_id is not None:
                return self._from_library(principle_id)
            return _principle_value(principle)
        except UsageError as exc:
            raise UsageError(f"guardrail {name!r}: {exc}") from None

    def _from_library(self, principle_id: str) -> PrincipleLike:
        if principle_id not in self._library:
            self._library[principle_id] = _library_principle(principle_id)
        return self._library[principle_id]

    async def _principle_for(self, data: dict[Any, Any]) -> tuple[PrincipleLike, str, str | None]:
        """The principle to judge under: the configured one, or the request's when allowed."""
        asked = self._requested_principle(data)
        if asked is None:
            return self.principle, self.principle_label, None
        if not self.allow_request_principle:
            verbose_proxy_logger.warning(
                "ra guardrail %r: a request asked for its own principle; ignored "
                "(set allow_request_principle: true to allow it)",
                self.guardrail_name,
            )
            return self.principle, self.principle_label, "denied"
        text, principle_id = asked
        try:
            if text is not None and principle_id is not None:
                raise UsageError("give either ra_principle or ra_principle_id, not both")
            if principle_id is not None:
                if not isinstance(principle_id, str) or not principle_id.strip():
                    raise UsageError("ra_principle_id must be a non-empty string")
                principle = (
                    self._library[principle_id]
                    if principle_id in self._library
                    else await asyncio.to_thread(self._from_library, principle_id)
                )
            else:
                principle = _principle_value(text)
        except UsageError as exc:
            raise HTTPException(
                status_code=400,
                detail={"error": f"Guardrail {self.guardrail_name!r} cannot use the request's principle: {exc}"},
            ) from None
        return principle, _label(principle), "applied"

    def _requested_principle(self, data: dict[Any, Any]) -> tuple[Any, Any] | None:
        """``(text, id)`` the request asked for, or ``None``."""
        text = principle_id = None
        for key in ("metadata", "litellm_metadata"):
            meta = data.get(key)
            if isinstance(meta, Mapping):
                text = meta.get("ra_principle", text)
                principle_id = meta.get("ra_principle_id", principle_id)
        if self._names_itself_with_params(data):
            extra = self.get_guardrail_dynamic_request_body_params(data)  # premium-gated by LiteLLM
            text = extra.get("principle", text)
            principle_id = extra.get("principle_id", principle_id)
        return None if text is None and principle_id is None else (text, principle_id)

    def _names_itself_with_params(self, data: Mapping[str, Any]) -> bool:
        requested = data.get("guardrails")
        if requested is None:
            for key in ("metadata", "litellm_metadata"):
                meta = data.get(key)
                if isinstance(meta, Mapping) and "guardrails" in meta:
                    requested = meta["guardrails"]
                    break
        return isinstance(requested, list) and any(
            isinstance(g, Mapping) and self.guardrail_name in g for g in requested
        )


# ---------------------------------------------------------------------- helpers


def _threshold(name: str, value: Any) -> float:
    """A unit score in [0, 1] (:func:`ra_agents.acceptance.check_threshold`), or above 1 to fail everything."""
    if isinstance(value, str):  # a number a config store kept as text
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value < math.inf:
        return float(value)
    return check_threshold(value, f"guardrail {name!r}: threshold")


def _principle_value(value: Any) -> PrincipleLike:
    if isinstance(value, Principle):
        return value
    if isinstance(value, Mapping):
        return Principle.from_dict(value)
    if not isinstance(value, str):
        raise UsageError(f"a principle is text or a principle table, got {type(value).__name__}")
    principle_text(value)  # raises on a blank one
    return value


def _library_principle(principle_id: str) -> Principle:
    """Look ``principle_id`` up in ``ra_agents.principles`` (imported on first use).

    Raises:
        UsageError: no such id (the library's message lists close matches).
    """
    library = importlib.import_module("ra_agents.principles")
    found: Principle = library.get(principle_id)
    return found


def _label(principle: PrincipleLike) -> str:
    """The principle's id, or its first words (at most 60 characters)."""
    if isinstance(principle, Principle) and principle.id:
        return principle.id
    text = " ".join(principle_text(principle).split())
    if len(text) <= _LABEL_CHARS:
        return text
    cut = text[: _LABEL_CHARS - 3]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "..."


def _secret(value: str | None) -> str | None:
    if value and value.startswith("os.environ/"):
        return os.environ.get(value.removeprefix("os.environ/"))
    return value


def _header_safe(value: str) -> str:
    """Printable ASCII only: header values must not carry line breaks or other bytes."""
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in value)


def _add_headers(response: Any, headers: Mapping[str, str]) -> None:
    """Add headers through the response's hidden params; join values another guardrail set."""
    hidden = getattr(response, "_hidden_params", None)
    if not isinstance(hidden, dict):
        return
    existing = hidden.get("additional_headers")
    if not isinstance(existing, dict):
        existing = {}
        hidden["additional_headers"] = existing
    for key, value in headers.items():
        existing[key] = f"{existing[key]}, {value}" if key in existing else value


def _prompt_of(messages: Any) -> str:
    """What the judge reads as the prompt: the request's messages as every adapter reads them, their end."""
    prompt = prompt_text(messages) if messages else ""
    if len(prompt) > _PROMPT_CHARS:
        prompt = "(earlier conversation omitted)\n" + prompt[-_PROMPT_CHARS:]
    return prompt


def _candidate(message: Any) -> Any:
    """A choice's message as the judge reads it: its text, or text and tool calls."""
    tool_calls = getattr(message, "tool_calls", None)
    content = getattr(message, "content", None)
    if tool_calls:
        return {"content": content_text(content), "tool_calls": [_plain(c) for c in tool_calls]}
    return content_text(content)


def _plain(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def _assemble(chunks: Sequence[Any]) -> dict[int, Any]:
    """Choice index -> candidate, from streamed chunks (text and tool calls)."""
    texts: dict[int, list[str]] = {}
    calls: dict[int, dict[int, dict[str, str]]] = {}
    for chunk in chunks:
        for choice in getattr(chunk, "choices", None) or ():
            index = getattr(choice, "index", 0) or 0
            delta = getattr(choice, "delta", None)
            texts.setdefault(index, [])
            if delta is None:
                continue
            if getattr(delta, "content", None):
                texts[index].append(delta.content)
            for call in getattr(delta, "tool_calls", None) or ():
                slot = calls.setdefault(index, {}).setdefault(
                    getattr(call, "index", 0) or 0, {"name": "", "arguments": ""}
                )
                function = getattr(call, "function", None)
                if function is not None:
                    slot["name"] += getattr(function, "name", None) or ""
                    slot["arguments"] += getattr(function, "arguments", None) or ""
    out: dict[int, Any] = {}
    for index, parts in texts.items():
        text = "".join(parts)
        if index in calls:
            out[index] = {
                "content": text,
                "tool_calls": [{"function": calls[index][k]} for k in sorted(calls[index])],
            }
        else:
            out[index] = text
    return out
