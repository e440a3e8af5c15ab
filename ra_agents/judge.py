"""The :class:`Judge`: drives a backend through the listwise protocol."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import protocol
from ._aggregate import aggregate, normalize
from ._errors import BackendError, RAError, UsageError, VerdictError
from ._telemetry import judge_span, record_cache_hit, record_result
from ._types import (
    Backend,
    Completion,
    GenerationSettings,
    JudgeRequest,
    JudgeResult,
    Message,
    PassVerdict,
    Usage,
)
from .cache import CacheKey, VerdictStore, open_store, verdict_lookup
from .judging import JudgingBase
from .principles import PrincipleLike, principle_text
from .prompt import PromptLike, prompt_text

__all__ = ["Judge", "BatchItem"]

_log = logging.getLogger("ra_agents")

BatchItem = JudgeResult | RAError
"""One entry of a batch result: the verdict, or the error that request met."""


class Judge(JudgingBase[JudgeResult]):
    """A principle-following judge over any backend.

    Every setting left ``None`` comes from the environment (``RA_AGENTS_JUDGE_<NAME>``), else the
    config file's ``[judge]`` table, else the default named below (:mod:`ra_agents.settings`;
    ``ra-agents config`` prints what is in effect and where it came from).

    Args:
        backend: where generations come from. ``None`` resolves the configured backend
            (``RA_AGENTS_MODEL`` and friends, see :func:`ra_agents.settings.resolve_backend`),
            falling back to the bundled SmolLM2 model in-process.
        system_prompt: replaces the built-in rubric (for a checkpoint's exact prompt).
        scale: integer score scale ``(low, high)`` (default ``(1, 5)``).
        permutations: passes per request, each over a differently shuffled order (default 1).
        max_retries: re-asks after an unusable answer, per pass (default 2).
        max_tokens: generation budget per call; by default sized by the number of
            candidates (reasoning models need more: set it).
        temperature: sampling temperature (default 0: greedy).
        structured: constrain output with a JSON schema; by default whenever the
            backend supports it.
        logprobs: ask for logprobs (for expected scores) when the backend supports them
            (default True).
        seed: seeds the per-request shuffles; by default fresh orders every call.
        concurrency: requests in flight at once in batches (default 8).
        max_candidates: largest N accepted in one request (default 64).
        render: turns a candidate into the text the judge reads.
        cache: a verdict store (:class:`~ra_agents.cache.MemoryCache`, any object with
            ``get``/``set``) or a folder path for a :class:`~ra_agents.cache.DiskCache`. A
            request judged before (same principle, prompt, settings and candidate texts, under
            any names and in any order) is answered from it with no backend call.
        cache_sampled: cache verdicts of a sampled judge (``temperature > 0``) too (default False).

    Raises:
        UsageError: a setting is invalid (the message names it and where it came from).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        system_prompt: str | None = None,
        scale: tuple[int, int] | None = None,
        permutations: int | None = None,
        max_retries: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        structured: bool | None = None,
        logprobs: bool | None = None,
        seed: int | None = None,
        concurrency: int | None = None,
        max_candidates: int | None = None,
        render: Callable[[Any], str] = protocol.render_candidate,
        cache: VerdictStore | str | os.PathLike[str] | None = None,
        cache_sampled: bool | None = None,
    ) -> None:
        from .settings import JudgeSettings, resolve, resolve_backend

        given = {
            "system_prompt": system_prompt,
            "scale": scale,
            "permutations": permutations,
            "max_retries": max_retries,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "structured": structured,
            "logprobs": logprobs,
            "seed": seed,
            "concurrency": concurrency,
            "max_candidates": max_candidates,
            "cache": os.fspath(cache) if isinstance(cache, str | os.PathLike) else None,
            "cache_sampled": cache_sampled,
        }
        settings, _ = resolve(JudgeSettings, given)  # argument > RA_AGENTS_JUDGE_* > [judge] > default
        if backend is None:
            backend = resolve_backend()
        _check_backend(backend)
        self.backend = backend
        self.system_prompt = settings.system_prompt
        self.scale = settings.scale
        self.permutations = settings.permutations
        self.max_retries = settings.max_retries
        self.max_tokens = settings.max_tokens
        self.temperature = settings.temperature
        self.structured = backend.supports_json_schema if settings.structured is None else settings.structured
        self.logprobs = settings.logprobs
        self.seed = settings.seed
        self.concurrency = settings.concurrency
        self.max_candidates = settings.max_candidates
        self.render = render
        self.cache = open_store(cache if cache is not None and given["cache"] is None else settings.cache)
        self.cache_sampled = settings.cache_sampled

    @classmethod
    def from_litellm(
        cls, model: str, *, api_base: str | None = None, api_key: str | None = None, **kwargs: Any
    ) -> Judge:
        """A judge on any LiteLLM model, e.g. ``"hosted_vllm/rewardanything"`` behind a vLLM server.

        Keyword arguments that :class:`Judge` takes go to the judge; the rest
        (``timeout``, ``num_retries``, ...) go to the backend.
        """
        from .backends.litellm import LiteLLMBackend

        judge_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _JUDGE_KWARGS}
        return cls(LiteLLMBackend(model, api_base=api_base, api_key=api_key, **kwargs), **judge_kwargs)

    # ------------------------------------------------------------------ single

    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: PromptLike,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult:
        """Judge candidate ``responses`` to ``prompt`` under ``principle``.

        Args:
            principle: what to value: text, or a :class:`~ra_agents.Principle` (rendered to
                the text the judge reads, recorded on the result).
            prompt: the prompt the candidates answer: text, or chat messages, content blocks,
                a prompt value or a state, read by :func:`ra_agents.prompt_text`.
            responses: name -> candidate, or a list of candidates (named ``"0"``, ``"1"``...).
                Candidates are strings or structured items (messages with tool calls,
                dicts, pydantic models).
            permutations: overrides the judge's number of passes for this call.
            seed: overrides the judge's shuffle seed for this call.

        Raises:
            UsageError: bad arguments.
            BackendError: the backend failed.
            VerdictError: no usable verdict after the allowed re-asks.
        """
        principle = principle_text(principle)
        prompt = prompt_text(prompt)
        k = self.permutations if permutations is None else permutations
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise UsageError(f"permutations= takes an integer >= 1, e.g. permutations=2; got {k!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise UsageError(f"seed= takes an integer or None, e.g. seed=0; got {seed!r}")
        names, texts = protocol.check_candidates(responses, max_candidates=self.max_candidates, render=self.render)
        text_of = dict(zip(names, texts, strict=True))
        flags = protocol.steering_flags(text_of)
        if flags:
            _log.warning("candidates that try to steer the judge: %s", flags)
        orders = protocol.request_orders(names, k, self.seed if seed is None else seed)
        max_tokens = self._max_tokens(len(names))
        key = self.cache_key(principle, prompt, text_of, permutations=k, seed=seed, max_tokens=max_tokens)
        cached = verdict_lookup(self.cache, key) if self.cache is not None and key is not None else None

        started = time.perf_counter()
        with judge_span(
            model=self.backend.model,
            provider=self.backend.provider,
            candidates=len(names),
            permutations=k,
            max_tokens=max_tokens,
            temperature=self.temperature,
        ) as span:
            if cached is not None:
                hit = await cached.load()
                record_cache_hit(span, hit is not None)
                if hit is not None:
                    if flags:
                        hit = dataclasses.replace(hit, flags=flags)
                    record_result(span, hit)
                    return hit
            if len(orders) == 1:  # the common case: no task to schedule
                done = [await self._one_pass(principle, prompt, orders[0], text_of, max_tokens)]
            else:
                outcomes = await asyncio.gather(
                    *(self._one_pass(principle, prompt, order, text_of, max_tokens) for order in orders),
                    return_exceptions=True,
                )
                failures = [o for o in outcomes if isinstance(o, BaseException)]
                if failures:
                    raise failures[0]
                done = [o for o in outcomes if not isinstance(o, BaseException)]  # all of them, as none failed
            passes = tuple(o[0] for o in done)
            usage = sum((o[1] for o in done), Usage())
            model = next((o[2] for o in done if o[2]), self.backend.model)
            scores, ranking, agreement, pairwise, expected = aggregate(names, passes)
            result = JudgeResult(
                names=tuple(names),
                scores=scores,
                ranking=ranking,
                normalized={n: normalize(s, self.scale) for n, s in scores.items()},
                reasoning="\n\n".join(p.reasoning for p in passes if p.reasoning),
                passes=passes,
                expected_scores=expected,
                agreement=agreement,
                pairwise_agreement=pairwise,
                ranking_repaired=any(p.repaired for p in passes),
                retries=sum(p.attempts - 1 for p in passes),
                usage=usage,
                latency_s=time.perf_counter() - started,
                model=model,
                scale=self.scale,
                principle=principle,
                flags=flags,
            )
            record_result(span, result)
        if cached is not None:
            await cached.save(result)
        return result

    # ------------------------------------------------------------------- batch

    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, BatchItem], None] | None = None,
    ) -> list[BatchItem]:
        """Judge many requests concurrently.

        Returns one entry per request, in request order: a :class:`JudgeResult`, or the
        :class:`RAError` that request met. One bad request never sinks the others.
        ``on_result(index, item)`` is called as each finishes (for progress bars).
        """
        items = list(requests)
        limit = asyncio.Semaphore(concurrency or self.concurrency)

        async def run(index: int, raw: JudgeRequest | Mapping[str, Any]) -> BatchItem:
            async with limit:
                outcome: BatchItem
                try:
                    req = JudgeRequest.read(raw, name=index)
                    outcome = await self.ajudge(
                        req.principle, req.prompt, req.responses, permutations=req.permutations, seed=req.seed
                    )
                except RAError as exc:
                    outcome = exc
                except Exception as exc:  # noqa: BLE001 - a batch must not lose the other results
                    outcome = BackendError(f"request {index} failed unexpectedly: {type(exc).__name__}: {exc}")
                    outcome.__cause__ = exc
            if on_result is not None:
                on_result(index, outcome)
            return outcome

        return list(await asyncio.gather(*(run(i, r) for i, r in enumerate(items))))

    # ------------------------------------------------------ several principles

    # ----------------------------------------------------------------- helpers

    def cache_key(
        self,
        principle: str,
        prompt: str,
        text_of: Mapping[str, str],
        *,
        permutations: int,
        seed: int | None,
        max_tokens: int,
    ) -> CacheKey | None:
        """What decides this call's verdict, or ``None`` for a sampled judge (``temperature > 0``)
        without ``cache_sampled``, whose verdicts are not repeatable.

        Args:
            principle: the principle's rendered text.
            prompt: the prompt's text.
            text_of: candidate name -> rendered text, in request order.
            permutations: passes of this call.
            seed: this call's seed override (``None``: the judge's own).
            max_tokens: this call's generation budget.
        """
        if self.temperature > 0 and not self.cache_sampled:
            return None
        seed = self.seed if seed is None else seed
        settings: dict[str, Any] = {
            "scale": list(self.scale),
            "permutations": permutations,
            "system_prompt": self.system_prompt,
            "temperature": float(self.temperature),
            "max_tokens": max_tokens,
            "structured": bool(self.structured),
            "logprobs": bool(self.logprobs and getattr(self.backend, "supports_logprobs", False)),
        }
        if seed is not None:
            settings["seed"] = seed
        return CacheKey(self.backend.model, principle, prompt, dict(text_of), settings, self.scale)

    def _max_tokens(self, n: int) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        # A compact verdict costs about 11 tokens per candidate; servers that allow free
        # whitespace inside constrained JSON need more, and free-form answers reason first.
        return 32 + 24 * n if self.structured else 512 + 24 * n

    async def _one_pass(
        self, principle: str, prompt: str, order: Sequence[str], text_of: Mapping[str, str], max_tokens: int
    ) -> tuple[PassVerdict, Usage, str]:
        masked = protocol.masked_names(len(order))
        real_of = dict(zip(masked, order, strict=True))
        messages = protocol.render_messages(
            principle,
            prompt,
            {m: text_of[real_of[m]] for m in masked},
            system_prompt=self.system_prompt,
            scale=self.scale,
        )
        settings: GenerationSettings = {"max_tokens": max_tokens, "temperature": self.temperature}
        if self.structured:
            settings["json_schema"] = protocol.verdict_schema(masked, self.scale)
        if self.logprobs and getattr(self.backend, "supports_logprobs", False):
            settings["top_logprobs"] = self.scale[1] - self.scale[0] + 1

        usage = Usage()
        conversation: list[Message] = list(messages)
        attempt = 0
        while True:
            attempt += 1
            completion: Completion = await self.backend.generate(conversation, settings)
            usage = usage + completion.usage
            try:
                verdict = await _parse(completion, masked, self.scale)
                break
            except VerdictError as err:
                if attempt > self.max_retries:
                    raise _final_verdict_error(err, completion, attempt, max_tokens) from None
                conversation = [
                    *messages,
                    {"role": "assistant", "content": completion.text},
                    protocol.feedback_message(err, masked),
                ]

        expected = None
        if completion.logprobs:
            masked_expected = protocol.expected_scores(completion.logprobs, masked, self.scale)
            if masked_expected is not None:
                expected = {real_of[m]: v for m, v in masked_expected.items()}
        return (
            PassVerdict(
                order=tuple(order),
                scores={real_of[m]: s for m, s in verdict.scores.items()},
                ranking=tuple(real_of[m] for m in verdict.ranking),
                reasoning=protocol.unmask(verdict.reasoning, real_of),
                repaired=verdict.repaired,
                expected_scores=expected,
                raw=protocol.raw_answer(completion.text, completion.reasoning),
                attempts=attempt,
            ),
            usage,
            completion.model,
        )


def _check_backend(backend: Any) -> None:
    """Refuse what is not a backend with a message that says what to pass instead.

    A model string is refused rather than resolved: it carries no server URL, and LiteLLM
    would send an ``openai/NAME`` request to the hosted OpenAI API instead of the user's server.
    """
    if isinstance(backend, str):
        raise UsageError(
            f"Judge() takes a backend object, not the model string {backend!r}; for a served model use "
            f"Judge.from_litellm({backend!r}, api_base='http://HOST:8000/v1'), and Judge() with no backend "
            "for the configured (RA_AGENTS_MODEL) or bundled model"
        )
    missing = [name for name in ("model", "provider", "supports_json_schema", "generate") if not hasattr(backend, name)]
    if missing:
        raise UsageError(
            f"Judge() takes a backend (model, provider, supports_json_schema and an async generate(messages, "
            f"settings)); {type(backend).__name__} has no {', '.join(missing)}. "
            "E.g. Judge.from_litellm('hosted_vllm/NAME', api_base='http://HOST:8000/v1'), "
            "or Judge(ScriptedBackend(...)) in tests"
        )


_JUDGE_KWARGS = {
    "system_prompt",
    "scale",
    "permutations",
    "max_retries",
    "max_tokens",
    "temperature",
    "structured",
    "logprobs",
    "seed",
    "concurrency",
    "max_candidates",
    "render",
    "cache",
    "cache_sampled",
}


PARSE_OFF_LOOP_CHARS = 64 * 1024
"""Answers longer than this are parsed in a worker thread, not on the event loop."""


async def _parse(completion: Completion, masked: Sequence[str], scale: tuple[int, int]) -> protocol.MaskedVerdict:
    """Parse an answer; a long one off the event loop.

    Parsing is linear and bounded (milliseconds for a megabyte), so short answers are
    parsed in place; a long answer (a model stuck in a loop up to a large ``max_tokens``)
    goes to a worker thread so that other requests in the process keep running.
    """
    size = len(completion.text) if isinstance(completion.text, str) else 0
    size += len(completion.reasoning or "")
    if size <= PARSE_OFF_LOOP_CHARS:
        return protocol.parse_verdict(completion.text, masked, reasoning=completion.reasoning, scale=scale)
    return await asyncio.to_thread(
        protocol.parse_verdict, completion.text, masked, reasoning=completion.reasoning, scale=scale
    )


def _final_verdict_error(err: VerdictError, completion: Completion, attempts: int, max_tokens: int) -> VerdictError:
    message = f"{err} (after {attempts} attempt{'s' if attempts > 1 else ''})"
    if completion.finish_reason == "length":
        message += (
            f"; the answer was cut off at max_tokens={max_tokens} before the verdict was complete: "
            "raise max_tokens (reasoning models need room for their reasoning plus the JSON verdict)"
        )
    return VerdictError(message, raw=err.raw, finish_reason=completion.finish_reason, attempts=attempts)
