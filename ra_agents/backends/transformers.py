"""In-process backend on Hugging Face transformers (the embedded default).

Concurrent ``generate`` calls are gathered into padded batches and run in a worker
thread, so ``judge_batch`` on this backend costs a few batched forward passes rather
than one generation after another. JSON-schema constrained decoding uses xgrammar.

Generation on a CPU is slow (one judge call of the bundled model takes tens of seconds on
two cores). When stderr is a terminal, a one-line counter shows the tokens generated so
far, and once per process a hint says how to point the judge at a served model instead
(on anything else the hint goes to this module's logger, at INFO, and nothing is drawn).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO, cast

from .._errors import BackendError, ContextLengthError, MissingDependencyError
from .._types import Completion, GenerationSettings, Message, TokenLogprob, Usage

__all__ = ["TransformersBackend"]

_log = logging.getLogger(__name__)

SERVED_MODEL_HINT = (
    "ra-agents: the judge model is generating in-process on the CPU, which is slow; for a faster judge, "
    "serve it (`ra-agents vllm serve`) and set RA_AGENTS_MODEL=hosted_vllm/smollm2 "
    "RA_AGENTS_API_BASE=http://127.0.0.1:8000/v1 (or --model/--api-base; `ra-agents config` shows the settings)"
)
"""The once-per-process hint shown when in-process generation starts on a CPU."""

_hinted = threading.Event()
_PROGRESS_EVERY_S = 0.5  # how often the token counter is redrawn


@dataclass
class _Job:
    messages: Sequence[Message]
    settings: GenerationSettings
    future: asyncio.Future[Completion]
    prompt_ids: list[int] = field(default_factory=list)


class TransformersBackend:
    """Generate in-process with transformers.

    Args:
        model_path: a local model folder; ``None`` uses the bundled SmolLM2 model
            (exported once to the cache, see :mod:`ra_agents.local.model`).
        model_name: name reported in results and spans (defaults to the folder name).
        device: ``"cpu"``, ``"cuda"`` ...; ``None`` picks CUDA when present.
        dtype: ``"auto"`` is float32 on CPU and bfloat16 on CUDA, or a torch dtype name.
        max_batch_size: most requests in one padded generation.
        batch_window_s: how long the first request waits for company before a batch starts.
    """

    provider = "transformers"
    supports_logprobs = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model_name: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        max_batch_size: int = 8,
        batch_window_s: float = 0.01,
    ) -> None:
        _require("torch")
        _require("transformers")
        self._model_path = Path(model_path) if model_path is not None else None
        from ..local.model import BUNDLED_MODEL_NAME

        self.model = model_name or (self._model_path.name if self._model_path else BUNDLED_MODEL_NAME)
        self._device = device
        self._dtype = dtype
        self.max_batch_size = max_batch_size
        self.batch_window_s = batch_window_s
        try:
            import xgrammar  # noqa: F401

            self.supports_json_schema = True
        except ImportError:
            self.supports_json_schema = False
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any] | None = None  # model, tokenizer, grammar compiler
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[_Job]] = weakref.WeakKeyDictionary()
        self._flushing: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._flush_tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def load(self) -> None:
        """Load the model now instead of on the first call (idempotent, thread-safe)."""
        self._components()

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        loop = asyncio.get_running_loop()
        job = _Job(list(messages), dict(settings), loop.create_future())  # type: ignore[arg-type]
        self._queues.setdefault(loop, []).append(job)
        if loop not in self._flushing:
            self._flushing.add(loop)
            task = loop.create_task(self._flush(loop))
            self._flush_tasks.add(task)
            task.add_done_callback(self._flush_tasks.discard)
        return await job.future

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await asyncio.sleep(self.batch_window_s)
            queue = self._queues.get(loop, [])
            while queue:
                temperature = queue[0].settings.get("temperature", 0.0)
                batch = [j for j in queue if j.settings.get("temperature", 0.0) == temperature][: self.max_batch_size]
                for job in batch:
                    queue.remove(job)
                try:
                    outcomes = await asyncio.to_thread(self._run_batch, batch)
                except Exception as exc:  # noqa: BLE001 - every waiter must hear of it
                    error = (
                        exc if isinstance(exc, BackendError) else BackendError(f"in-process generation failed: {exc}")
                    )
                    outcomes = [error] * len(batch)
                for job, outcome in zip(batch, outcomes, strict=True):
                    if job.future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        job.future.set_exception(outcome)
                    else:
                        job.future.set_result(outcome)
        finally:
            self._flushing.discard(loop)

    # ------------------------------------------------------------ worker side

    def _components(self) -> tuple[Any, Any, Any]:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from ..local.model import ensure_bundled_model

        hf_logging.disable_progress_bar()

        path = self._model_path or ensure_bundled_model()
        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self._dtype == "auto":
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, self._dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        # functools.wraps makes transformers' .to() look unbound to a type checker (typeshed's _Wrapped)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(device)  # type: ignore[arg-type]
        model.eval()
        compiler = None
        if self.supports_json_schema:
            import xgrammar as xgr

            info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
            compiler = xgr.GrammarCompiler(info)
            self._grammar = lru_cache(maxsize=256)(
                lambda schema: compiler.compile_json_schema(
                    schema, strict_mode=True, any_whitespace=False, separators=(",", ":")
                )
            )
        return model, tokenizer, compiler

    def _run_batch(self, jobs: list[_Job]) -> list[Completion | BaseException]:
        import torch

        model, tokenizer, compiler = self._components()
        limit = getattr(model.config, "max_position_embeddings", None) or 2048
        outcomes: list[Completion | BaseException | None] = [None] * len(jobs)
        runnable: list[int] = []
        for i, job in enumerate(jobs):
            ids = tokenizer.apply_chat_template(list(job.messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):  # newer transformers return a BatchEncoding
                ids = ids["input_ids"]
            job.prompt_ids = list(ids)
            want = int(job.settings.get("max_tokens", 256))
            if len(job.prompt_ids) + want > limit:
                outcomes[i] = ContextLengthError(
                    f"the prompt has {len(job.prompt_ids)} tokens and max_tokens is {want}, more than the "
                    f"model's context of {limit} tokens; judge fewer or shorter candidates, or lower max_tokens"
                )
            else:
                runnable.append(i)
        if runnable:
            with self._run_lock:
                if model.device.type == "cpu":
                    _hint_once()
                started = time.perf_counter()
                done = self._generate([jobs[i] for i in runnable], model, tokenizer, compiler, torch)
                elapsed = time.perf_counter() - started
            for i, completion in zip(runnable, done, strict=True):
                outcomes[i] = _with_latency(completion, elapsed)
        return outcomes  # type: ignore[return-value]

    def _generate(self, jobs: list[_Job], model: Any, tokenizer: Any, compiler: Any, torch: Any) -> list[Completion]:
        width = max(len(j.prompt_ids) for j in jobs)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(j.prompt_ids)) + j.prompt_ids for j in jobs])
        attention = torch.tensor([[0] * (width - len(j.prompt_ids)) + [1] * len(j.prompt_ids) for j in jobs])
        grammars = [
            self._grammar(json.dumps(j.settings["json_schema"], sort_keys=True))
            if compiler is not None and "json_schema" in j.settings
            else None
            for j in jobs
        ]
        processors = [_grammar_processor(grammars, model.config.vocab_size)] if any(grammars) else []
        max_new = max(int(j.settings.get("max_tokens", 256)) for j in jobs)
        temperature = float(jobs[0].settings.get("temperature", 0.0))
        seed = jobs[0].settings.get("seed")
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            if seed is not None:
                torch.manual_seed(int(seed))
        progress = _progress_streamer(len(jobs), max_new)
        if progress is not None:
            sampling["streamer"] = progress
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention.to(model.device),
                max_new_tokens=max_new,
                logits_processor=processors,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=pad,
                **sampling,
            )
        stop_ids = {tokenizer.eos_token_id, pad} | set(_as_list(getattr(model.generation_config, "eos_token_id", None)))
        completions = []
        for row, job in enumerate(jobs):
            generated = out.sequences[row, width:].tolist()
            own_max = int(job.settings.get("max_tokens", 256))
            kept: list[int] = []
            finish = "length"
            for tok in generated[:own_max]:
                if tok in stop_ids:
                    finish = "stop"
                    break
                kept.append(tok)
            logprobs = None
            k = int(job.settings.get("top_logprobs", 0) or 0)
            if k:
                logprobs = []
                for step, tok in enumerate(kept):
                    dist = torch.log_softmax(out.scores[step][row].float(), dim=-1)
                    top = torch.topk(dist, k)
                    logprobs.append(
                        TokenLogprob(
                            token=tokenizer.decode([tok]),
                            logprob=float(dist[tok]),
                            top={
                                tokenizer.decode([int(t)]): float(v)
                                for v, t in zip(top.values, top.indices, strict=True)
                            },
                        )
                    )
            completions.append(
                Completion(
                    text=tokenizer.decode(kept, skip_special_tokens=True),
                    usage=Usage(len(job.prompt_ids), len(kept)),
                    model=self.model,
                    finish_reason=finish,
                    logprobs=logprobs,
                )
            )
        return completions


def _stderr() -> TextIO | None:
    """Standard error when it is a terminal (where progress may be drawn), else ``None``."""
    stream = sys.stderr
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):  # a replaced or closed stream
        return None


def _hint_once() -> None:
    """Say once per process how to use a served model: on a terminal's stderr, else in the log."""
    if _hinted.is_set():
        return
    _hinted.set()
    stream = _stderr()
    if stream is None:
        _log.info(SERVED_MODEL_HINT)
        return
    stream.write(SERVED_MODEL_HINT + "\n")
    stream.flush()


class _Progress:
    """A one-line counter of generated tokens on a terminal (transformers' streamer protocol).

    ``generate`` calls :meth:`put` with the prompt ids first, then once per generated token
    (one per row of the batch), and :meth:`end` when done.
    """

    def __init__(self, stream: TextIO, rows: int, max_new: int, every_s: float = 0.5) -> None:
        self.stream = stream
        self.rows = rows
        self.max_new = max_new
        self.every_s = every_s
        self.tokens = 0
        self._prompt_seen = False
        self._started = time.perf_counter()
        self._drawn = 0.0

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # the prompt, not a generated token
            self._prompt_seen = True
            return
        self.tokens += 1
        now = time.perf_counter()
        if now - self._drawn >= self.every_s:
            self._drawn = now
            self._draw(now)

    def end(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")  # clear the counter's line
            self.stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        requests = f", {self.rows} requests batched" if self.rows > 1 else ""
        self.stream.write(
            f"\rra-agents: generating in-process: {self.tokens}/{self.max_new} tokens{requests} "
            f"({self.tokens / elapsed:.1f} tokens/s, {elapsed:.0f} s)\033[K"
        )
        self.stream.flush()


def _progress_streamer(rows: int, max_new: int) -> Any:
    """A streamer drawing :class:`_Progress` when stderr is a terminal, else ``None``."""
    stream = _stderr()
    if stream is None:
        return None
    from transformers.generation.streamers import BaseStreamer

    class _Streamer(_Progress, BaseStreamer):
        pass

    return _Streamer(stream, rows, max_new, every_s=_PROGRESS_EVERY_S)


def _with_latency(c: Completion, seconds: float) -> Completion:
    from dataclasses import replace

    return replace(c, latency_s=seconds)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _grammar_processor(grammars: list[Any], vocab_size: int) -> Any:
    """A logits processor applying one grammar per batch row (``None`` rows run free)."""
    import torch
    import xgrammar as xgr
    from transformers import LogitsProcessor

    class _RowGrammars(LogitsProcessor):
        def __init__(self) -> None:
            self.matchers = [xgr.GrammarMatcher(g) if g is not None else None for g in grammars]
            self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
            self.started = False

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            if self.started:
                for row, matcher in enumerate(self.matchers):
                    if matcher is not None and not matcher.is_terminated():
                        matcher.accept_token(int(input_ids[row, -1]))
            self.started = True
            rows = []
            for row, matcher in enumerate(self.matchers):
                if matcher is not None and not matcher.is_terminated():
                    matcher.fill_next_token_bitmask(self.bitmask, row)
                    rows.append(row)
            if rows:
                masked = scores.to("cpu", copy=True) if scores.device.type != "cpu" else scores
                xgr.apply_token_bitmask_inplace(masked, self.bitmask, indices=rows)
                scores = cast(torch.FloatTensor, masked.to(scores.device))  # .to() is typed as returning Tensor
            return scores

    return _RowGrammars()


def _require(package: str) -> None:
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise MissingDependencyError(package, "local", "The in-process transformers backend")
