"""LangChain-native judging: the judge as an LCEL ``Runnable``, and best-of-n for any chain.

- :class:`JudgeRunnable`: ``{"prompt", "responses"[, "principle"]} -> JudgeResult``, one
  listwise judge call per input. It composes with ``|``, has ``invoke``/``ainvoke``/
  ``batch``/``abatch``/``astream_events``, and shows in callbacks, LangSmith traces and
  ``astream_events`` as ONE run named :data:`JUDGE_RUN_NAME`::

      chain = build_request | JudgeRunnable(judge, principle="Correct, then short.") | (lambda r: r.best)

- :func:`best_of_n`: runs any runnable (a chat model, a chain, a function) ``n`` times
  concurrently on the same input and keeps the best output, judged in ONE call. It is a
  ``Runnable`` itself, usable inside any chain; no graph is needed::

      pick = best_of_n(model, judge, n=4, principle="Correct, then short.")
      pick.invoke("Why is the sky blue?").output

The principle is resolved per call, as the LangGraph nodes do: the input's ``principle``,
else ``config["configurable"]["principle"]``, else the default given at construction.
So one chain serves many principles: ``chain.invoke(x, {"configurable": {"principle": p}})``.

The prompt is read by :func:`ra_agents.prompt_text`, as every ra-agents entry point reads
it: text, chat messages (LangChain or OpenAI-style, system messages included), a prompt
value, a LangGraph state or a one-key input dict all become the same text. The judge is
any :class:`ra_agents.Judging` (a local :class:`ra_agents.Judge` or an HTTP client). Neither
runnable takes an accept/reject decision, so a judge failure propagates (LangChain records
it on the run; ``batch(..., return_exceptions=True)`` returns it in place).

Both runnables are written once, async; ``invoke`` runs the async path on ra-agents'
event-loop thread (call ``ainvoke`` from async code: ``invoke`` inside a running event
loop raises :class:`~ra_agents.UsageError`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Required

from pydantic import ConfigDict, SkipValidation
from typing_extensions import TypedDict  # pydantic needs this TypedDict, not typing's, before Python 3.12

from ra_agents import (
    Judge,
    JudgeResult,
    Judging,
    MissingDependencyError,
    PrincipleLike,
    PromptLike,
    SamplesFailedError,
    UsageError,
    prompt_text,
)
from ra_agents.feedback import JUDGE_RUN_NAME
from ra_agents.principles import principle_text
from ra_agents.protocol import render_candidate
from ra_agents.sync import run_sync
from ra_agents.warn import warn_at_caller

try:
    from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSerializable
    from langchain_core.runnables.base import coerce_to_runnable
    from langchain_core.runnables.config import merge_configs
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain-core", "langchain", "The LCEL integration") from exc

__all__ = [
    "JUDGE_RUN_NAME",
    "BEST_OF_N_RUN_NAME",
    "JudgeInput",
    "JudgeRunnable",
    "BestOfN",
    "BestOfNRunnable",
    "SamplesFailedError",
    "best_of_n",
]

BEST_OF_N_RUN_NAME = "best_of_n"
"""The run name of a :func:`best_of_n` runnable; its samples run as ``candidate-0``, ``candidate-1``..."""


class JudgeInput(TypedDict, total=False):
    """What :class:`JudgeRunnable` takes. Other keys are ignored.

    Attributes:
        prompt: the prompt the candidates answer: text, chat messages, a prompt value ...
            (anything :func:`ra_agents.prompt_text` reads).
        responses: name -> candidate, or a list of candidates (named ``"0"``, ``"1"``...).
        principle: overrides the configured principle for this input.
        permutations: overrides the judge's number of passes.
        seed: overrides the judge's shuffle seed.
    """

    prompt: Required[PromptLike]
    responses: Required[Mapping[str, Any] | Sequence[Any]]
    principle: PrincipleLike
    permutations: int
    seed: int


class JudgeRunnable(RunnableSerializable[Mapping[str, Any], JudgeResult]):
    """The judge as an LCEL runnable: ``{"prompt", "responses"[, "principle"]} -> JudgeResult``.

    One input is one listwise judge call, recorded as one run (:data:`JUDGE_RUN_NAME`
    unless ``name=`` says otherwise). ``batch``/``abatch`` keep input order and honour
    ``max_concurrency``; ``return_exceptions=True`` returns the error of a failed input in
    its place.

    Args:
        judge: the judge (any :class:`~ra_agents.Judging`: a local :class:`~ra_agents.Judge`
            or an HTTP client); ``None`` builds the configured :class:`~ra_agents.Judge`.
        principle: the default principle, used when neither the input nor
            ``config["configurable"]["principle"]`` gives one.
        name: the run name.

    Raises (on invoke):
        UsageError: the input is not a dict with ``prompt`` and ``responses``, or no principle is set.
        BackendError: the backend failed.
        VerdictError: no usable verdict after the allowed re-asks.
    """

    judge: SkipValidation[Judging]  # duck-typed: only ajudge is called
    principle: PrincipleLike | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def __init__(
        self,
        judge: Judging | None = None,
        *,
        principle: PrincipleLike | None = None,
        name: str = JUDGE_RUN_NAME,
        **kwargs: Any,
    ) -> None:
        if principle is not None:
            principle_text(principle)  # a blank default fails here, not on the first call
        super().__init__(judge=judge if judge is not None else Judge(), principle=principle, name=name, **kwargs)

    @property
    def InputType(self) -> Any:  # noqa: N802 - LangChain's name
        return JudgeInput

    async def ainvoke(
        self, input: Mapping[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> JudgeResult:
        """Judge one request (see :class:`JudgeInput`)."""
        return await self._acall_with_config(self._ajudge_run, input, config)

    def invoke(self, input: Mapping[str, Any], config: RunnableConfig | None = None, **kwargs: Any) -> JudgeResult:
        """Synchronous :meth:`ainvoke`."""
        return self._call_with_config(self._judge_run, input, config)

    # The (input, run_manager, config) shape is what _acall_with_config/_call_with_config are
    # typed for; config arrives with this run's child callbacks.
    async def _ajudge_run(
        self, input: Mapping[str, Any], run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> JudgeResult:
        return await self._ajudge(input, config)

    def _judge_run(
        self, input: Mapping[str, Any], run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> JudgeResult:
        return run_sync(self._ajudge(input, config), async_name="ainvoke")

    async def _ajudge(self, input: Mapping[str, Any], config: RunnableConfig) -> JudgeResult:
        if not isinstance(input, Mapping) or "prompt" not in input or "responses" not in input:
            got = sorted(input) if isinstance(input, Mapping) else type(input).__name__
            raise UsageError(
                f"the judge runnable takes a dict with 'prompt' and 'responses' (and optionally 'principle'), got {got}"
            )
        principle = _resolve_principle(input.get("principle"), config, self.principle)
        return await self.judge.ajudge(
            principle,
            prompt_text(input["prompt"]),
            input["responses"],
            permutations=input.get("permutations"),
            seed=input.get("seed"),
        )


def _resolve_principle(
    given: PrincipleLike | None, config: RunnableConfig, default: PrincipleLike | None
) -> PrincipleLike:
    """The input's principle, else ``config["configurable"]["principle"]``, else the default."""
    configurable = config.get("configurable") or {}
    principle = given or configurable.get("principle") or default
    if not principle:
        raise UsageError(
            "no principle: put 'principle' in the input, in config['configurable']['principle'], "
            "or give the runnable a default principle="
        )
    return principle


# ------------------------------------------------------------------ best of n


@dataclass(frozen=True)
class BestOfN:
    """What a :func:`best_of_n` runnable returns.

    Attributes:
        output: the winning sample, as the runnable returned it (text, ``AIMessage``, dict...).
        verdict: the judge's verdict; candidates are named by their position in
            ``candidates`` (``"0"``, ``"1"``...), so ``verdict.score_list()`` lines up with it.
        candidates: the samples that succeeded, in sample order: what the judge saw.
        failures: sample index (0 to n-1) -> the error of each sample that failed; these
            were left out of judging.
    """

    output: Any
    verdict: JudgeResult
    candidates: tuple[Any, ...]
    failures: Mapping[int, Exception] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary; outputs are rendered as the judge read them."""
        return {
            "output": render_candidate(self.output),
            "verdict": self.verdict.to_dict(),
            "candidates": [render_candidate(c) for c in self.candidates],
            "failures": {str(i): f"{type(e).__name__}: {e}" for i, e in self.failures.items()},
        }


class BestOfNRunnable(RunnableSerializable[Any, BestOfN]):
    """Runs ``samples`` concurrently on one input and judges their outputs in one call.

    Build it with :func:`best_of_n`, which documents the behaviour.
    """

    runnable: Runnable
    samples: list[Runnable]
    judge: JudgeRunnable
    prompt_from: Callable[[Any], PromptLike] | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def InputType(self) -> Any:  # noqa: N802 - LangChain's name
        return self.runnable.InputType

    def get_input_schema(self, config: RunnableConfig | None = None) -> Any:
        return self.runnable.get_input_schema(config)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BestOfN:
        """Sample, judge once, return the best (see :func:`best_of_n`)."""
        return await self._acall_with_config(self._arun_with, input, config)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BestOfN:
        """Synchronous :meth:`ainvoke`."""
        return self._call_with_config(self._run_with, input, config)

    async def _arun_with(
        self, input: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> BestOfN:
        return await self._arun(input, config)

    def _run_with(self, input: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig) -> BestOfN:
        return run_sync(self._arun(input, config), async_name="ainvoke")

    async def _arun(self, input: Any, config: RunnableConfig) -> BestOfN:
        limit = config.get("max_concurrency")
        gate = asyncio.Semaphore(limit) if limit else None

        async def sample(index: int, runnable: Runnable) -> Any:
            sample_config = merge_configs(
                config, {"run_name": f"candidate-{index}", "metadata": {"candidate_index": index}}
            )
            if gate is None:
                return await runnable.ainvoke(input, sample_config)
            async with gate:
                return await runnable.ainvoke(input, sample_config)

        outcomes = await asyncio.gather(*(sample(i, r) for i, r in enumerate(self.samples)), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation and interrupts are not sample failures
        failures = {i: o for i, o in enumerate(outcomes) if isinstance(o, Exception)}
        candidates = [o for o in outcomes if not isinstance(o, BaseException)]
        if not candidates:
            raise _all_failed(failures)
        prompt = prompt_text(self.prompt_from(input) if self.prompt_from is not None else input)
        verdict = await self.judge.ainvoke({"prompt": prompt, "responses": candidates}, config)
        return BestOfN(
            output=candidates[int(verdict.best)],
            verdict=verdict,
            candidates=tuple(candidates),
            failures=failures,
        )


def best_of_n(
    runnable: Runnable | Callable[..., Any],
    judge: Judging | JudgeRunnable,
    *,
    n: int = 3,
    principle: PrincipleLike | None = None,
    temperature: float | None = None,
    prompt_from: Callable[[Any], PromptLike] | None = None,
    name: str = BEST_OF_N_RUN_NAME,
) -> BestOfNRunnable:
    """A runnable that samples ``runnable`` ``n`` times concurrently and keeps the best output.

    The ``n`` samples run at once on the same input (``config["max_concurrency"]`` caps
    them), each as a child run ``candidate-<i>`` with ``candidate_index`` in its metadata.
    The outputs that came back are judged together in ONE listwise call (a child run
    named :data:`JUDGE_RUN_NAME`); the result is a :class:`BestOfN`. Samples that raised
    are left out of judging and reported in ``failures``; if every sample fails,
    :class:`SamplesFailedError` is raised and the judge is not called.

    How samples are made to differ:

    - ``runnable`` is a chat model (``BaseChatModel``, or one wrapped by ``.bind(...)``/
      ``.bind_tools(...)``): when the model declares a ``seed`` field and it is set,
      sample ``i`` runs on a copy with ``seed + i``, so samples differ yet a run can be
      replayed; an unseeded model samples freely. ``temperature=`` sets the copies'
      ``temperature`` field (a model without one is refused). A model at temperature 0
      gives ``n`` identical samples: a warning says so.
    - anything else (a chain, a function) runs as is: its own sampling makes the samples
      differ. Read ``config["metadata"]["candidate_index"]`` to vary them yourself.

    Fields are changed on copies (``model_copy``), not passed as call arguments, so a
    provider never receives a parameter it does not take.

    Args:
        runnable: what to sample: a chat model, a chain, or a function (coerced to a runnable).
        judge: the judge (any :class:`~ra_agents.Judging`), or a :class:`JudgeRunnable`
            (its default principle is kept unless ``principle`` is given).
        n: number of samples (at least 1).
        principle: the default principle; ``config["configurable"]["principle"]`` overrides it.
        temperature: sampling temperature for chat-model samples.
        prompt_from: picks the prompt out of the input (say, one key of a dict); by
            default the whole input. Either way :func:`ra_agents.prompt_text` reads it, so
            the judge reads the same text as from every other entry point: text as is,
            messages and prompt values as one transcript (a lone human message as its
            text), a dict with one value as that value, anything else as JSON.
        name: the run name.

    Raises:
        UsageError: ``n`` below 1, a blank principle, or ``temperature`` for a runnable
            that has no temperature field.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UsageError(f"n must be a positive integer, got {n!r}")
    if isinstance(judge, JudgeRunnable):
        judge_runnable = (
            judge if principle is None else JudgeRunnable(judge.judge, principle=principle, name=judge.get_name())
        )
    else:
        judge_runnable = JudgeRunnable(judge, principle=principle)
    target = coerce_to_runnable(runnable)
    return BestOfNRunnable(
        runnable=target,
        samples=_samples(target, n, temperature),
        judge=judge_runnable,
        prompt_from=prompt_from,
        name=name,
    )


def _samples(runnable: Runnable, n: int, temperature: float | None) -> list[Runnable]:
    """The ``n`` runnables to sample: per-sample copies of a chat model, else ``runnable`` n times."""
    binding = runnable if isinstance(runnable, RunnableBinding) else None
    model = binding.bound if binding is not None else runnable
    if not isinstance(model, BaseChatModel):
        if temperature is not None:
            raise UsageError(
                "temperature= applies to a chat model (or a bound one); for a chain, set the temperature "
                "on the model inside it"
            )
        return [runnable] * n
    fields = type(model).model_fields
    update: dict[str, Any] = {}
    if temperature is not None:
        if "temperature" not in fields:
            raise UsageError(f"{type(model).__name__} has no temperature field; leave temperature= unset")
        update["temperature"] = temperature
    if n > 1 and update.get("temperature", getattr(model, "temperature", None)) == 0:
        warn_at_caller(
            f"{type(model).__name__} samples at temperature 0, so the {n} samples will be identical; "
            "pass temperature= above 0 to best_of_n"
        )
    seed = getattr(model, "seed", None) if "seed" in fields else None
    samples: list[Runnable] = []
    for i in range(n):
        changes = {**update, "seed": seed + i} if isinstance(seed, int) else update
        copy = model.model_copy(update=changes) if changes else model
        samples.append(binding.model_copy(update={"bound": copy}) if binding is not None else copy)
    return samples


def _all_failed(failures: Mapping[int, Exception]) -> SamplesFailedError:
    listed = "; ".join(f"sample {i}: {type(e).__name__}: {e}" for i, e in failures.items())
    error = SamplesFailedError(
        f"all {len(failures)} samples failed, so nothing was judged ({listed}); fix the runnable being sampled",
        failures,
    )
    error.__cause__ = next(iter(failures.values()))
    return error
