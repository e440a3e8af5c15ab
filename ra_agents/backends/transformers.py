"""In-process backend on Hugging Face transformers (the embedded default).

Concurrent ``generate`` calls are gathered into padded batches and run in a worker
thread, so ``judge_batch`` on this backend costs a few batched forward passes rather
than one generation after another. JSON-schema constrained decoding uses xgrammar.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from .._errors import BackendError, ContextLengthError, MissingDependencyError
from .._types import Completion, GenerationSettings, Message, TokenLogprob, Usage

__all__ = ["TransformersBackend"]


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
