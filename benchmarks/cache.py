"""The verdict cache: judge calls and wall time of a rerun, cold against warm (no model).

A CLI-style batch (the requests of a JSONL file, judged with ``Judge.judge_batch`` by the
judge ``--model hosted_vllm/x --api-base ...`` names, as ``ra-agents judge --input ... --cache
DIR`` does) goes to the instant local upstream of :mod:`benchmarks.overhead`, which
counts the chat calls it answers. Rows:

- ``none``: no cache, the floor's baseline;
- per store (``disk``: a :class:`~ra_agents.cache.DiskCache` folder reopened by a fresh
  judge for every run, as separate CLI runs do; ``memory``: one
  :class:`~ra_agents.cache.MemoryCache` kept across runs): ``cold`` (empty store),
  ``warm`` (the same batch again) and ``warm, renamed`` (the same batch with every
  request's candidates renamed and reversed, as a replay would present them).

Every warm verdict is checked against the cold one, candidate text by candidate text.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ra_agents import BatchItem, Judge, JudgeResult, UsageError
from ra_agents.cache import DiskCache, MemoryCache, cache_stats
from ra_agents.cli.flags import judge_from_flags
from ra_agents.evals.report import md_table, plot, progress
from ra_agents.testing import LoopbackOpenAI, Reply

from .overhead import instant_verdict, make_requests

__all__ = ["STORES", "CountingUpstream", "run_cache_bench", "render_markdown", "plot_cache"]

STORES = ("disk", "memory")


class CountingUpstream(LoopbackOpenAI):
    """The instant upstream, counting the chat calls it answers (:attr:`calls`)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        super().__init__(self._answer)

    def _answer(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.calls += 1
        return instant_verdict(body)


def renamed(requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same requests with every candidate renamed and the candidates in reverse order."""
    return [
        {**r, "responses": {f"replay-{j}": text for j, text in enumerate(reversed(list(r["responses"].values())))}}
        for r in requests
    ]


def _by_text(request: dict[str, Any], item: BatchItem) -> dict[str, float] | None:
    if not isinstance(item, JudgeResult):
        return None
    return {request["responses"][name]: float(score) for name, score in item.scores.items()}


async def _one_run(
    api_base: str, upstream: CountingUpstream, batch: list[dict[str, Any]], cache: Any, concurrency: int
) -> tuple[dict[str, Any], list[BatchItem]]:
    judge: Judge = judge_from_flags(
        "hosted_vllm/x", api_base, backend={"num_retries": 0}, seed=0, concurrency=concurrency, cache=cache
    )
    before = cache_stats(judge.cache)
    calls = upstream.calls
    started = time.perf_counter()
    items = await judge.ajudge_batch(batch)
    wall = time.perf_counter() - started
    after = cache_stats(judge.cache)
    if isinstance(judge.cache, DiskCache):
        judge.cache.close()  # a CLI run ends here, and its DiskCache object with it
    row = {
        "requests": len(batch),
        "ok": sum(isinstance(i, JudgeResult) for i in items),
        "judge_calls": upstream.calls - calls,
        "hits": after["hits"] - before["hits"] if before and after else None,
        "misses": after["misses"] - before["misses"] if before and after else None,
        "wall_s": wall,
        "ms_per_request": 1000 * wall / len(batch),
    }
    return row, items


async def run_cache_bench(
    *,
    requests: int = 200,
    candidates: int = 4,
    concurrency: int = 8,
    stores: Sequence[str] = STORES,
    warmup: int = 5,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the batch with no cache, then cold, warm and renamed-warm per store; return the rows."""
    unknown = [s for s in stores if s not in STORES]
    if unknown:
        raise UsageError(f"unknown cache stores {unknown}; known: {list(STORES)}")
    batch = make_requests(requests, candidates)
    replay = renamed(batch)
    rows: list[dict[str, Any]] = []
    with CountingUpstream() as upstream, tempfile.TemporaryDirectory(prefix="ra-agents-cache-bench-") as tmp:
        base = upstream.api_base
        await _one_run(base, upstream, make_requests(warmup, candidates), None, concurrency)  # imports, pools
        with progress(1 + 3 * len(stores), "cache", show_progress) as advance:
            row, cold_items = await _one_run(base, upstream, batch, None, concurrency)
            reference = [_by_text(r, i) for r, i in zip(batch, cold_items, strict=True)]
            rows.append({"store": "none", "run": "no cache", **row, "same_verdicts": None})
            advance(1)
            for store in stores:
                cache: Any = str(Path(tmp) / "verdicts") if store == "disk" else MemoryCache(maxsize=2 * requests)
                for run, reqs in (("cold", batch), ("warm", batch), ("warm, renamed", replay)):
                    row, items = await _one_run(base, upstream, reqs, cache, concurrency)
                    same = [_by_text(r, i) for r, i in zip(reqs, items, strict=True)] == reference
                    rows.append({"store": store, "run": run, **row, "same_verdicts": same})
                    advance(1)
    return {
        "benchmark": "cache",
        "upstream": "instant local OpenAI-compatible server",
        "requests": requests,
        "candidates": candidates,
        "concurrency": concurrency,
        "rows": rows,
    }


def render_markdown(results: dict[str, Any]) -> str:
    """One row per (store, run)."""

    def same(value: bool | None) -> str:
        return "\u2013" if value is None else ("yes" if value else "**no**")

    table = md_table(
        ["store", "run", "requests", "ok", "judge calls", "hits", "misses", "wall s", "ms/request", "verdicts = cold"],
        [
            [
                r["store"],
                r["run"],
                r["requests"],
                r["ok"],
                r["judge_calls"],
                r["hits"],
                r["misses"],
                r["wall_s"],
                r["ms_per_request"],
                same(r["same_verdicts"]),
            ]
            for r in results["rows"]
        ],
        digits=3,
    )
    return (
        f"## Verdict cache ({results['upstream']}, {results['requests']} requests of "
        f"{results['candidates']} candidates, concurrency {results['concurrency']})\n\n"
        "`judge calls` are the chat calls the upstream answered; `verdicts = cold` compares every "
        f"verdict with the uncached run's, candidate text by candidate text.\n\n{table}"
    )


def plot_cache(results: dict[str, Any], path: Path) -> Path | None:
    """Wall time and judge calls per run."""
    rows = results["rows"]

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 2)
        labels = [f"{r['store']}\n{r['run']}" for r in rows]
        for ax, key, title in ((axes[0], "wall_s", "wall s"), (axes[1], "judge_calls", "judge calls")):
            ax.bar(range(len(rows)), [r[key] for r in rows])
            ax.set_xticks(range(len(rows)), labels, fontsize=6)
            ax.set_title(title, fontsize=9)

    return plot(path, draw, size=(10, 3.6))
