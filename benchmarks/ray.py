"""Rows per second of batch judging on Ray Data, against the same rows in one process.

The same ``rows`` verdict requests of ``candidates`` candidates each are judged

- by ``Judge.judge_batch`` in this process (``concurrency`` requests in flight), and
- by :func:`ra_agents.integrations.ray.judge_dataset` on a local Ray cluster, once per
  actor count in ``actors`` (each actor's judge with ``concurrency`` requests in flight,
  ``batch_size`` rows per actor call),

all against the instant upstream of the overhead benchmark
(:class:`~benchmarks.overhead.InstantUpstream`, a valid verdict at once) in a process
of its own. No model runs: the figures are what the judge and Ray cost per row. Every run
must return every row, with its id, as a verdict; anything else fails the benchmark.

A Ray run's wall time includes starting its actors (each imports LiteLLM), which Ray Data
does anew for every dataset; ``first rows s`` is when the first rows came back, and the
last column the rate after that, nearer what a long run sees. ``ray.init`` is timed apart
(0 when a running session was reused).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from ra_agents import RAError
from ra_agents.evals.report import md_table, plot, progress

from .overhead import make_requests
from .processes import start_upstream

__all__ = ["run_ray_bench", "render_markdown", "plot_ray"]

_OBJECT_STORE_BYTES = 128 * 1024 * 1024  # a small store: each row is a few hundred bytes


def _one_process(api_base: str, requests: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    from ra_agents import Judge, JudgeResult

    judge = Judge.from_litellm("hosted_vllm/x", api_base=api_base, num_retries=0, seed=0, concurrency=concurrency)
    started = time.perf_counter()
    results = judge.judge_batch(requests)
    wall = time.perf_counter() - started
    errors = sum(not isinstance(r, JudgeResult) for r in results)
    return _row("judge_batch, one process", None, len(results), errors, wall, None, None)


def _on_ray(
    ray: Any, api_base: str, requests: list[dict[str, Any]], actors: int, batch_size: int, concurrency: int
) -> dict[str, Any]:
    from ra_agents.integrations.ray import judge_dataset

    ds = ray.data.from_items([{"id": i, **r} for i, r in enumerate(requests)])
    verdicts = judge_dataset(
        ds,
        model="hosted_vllm/x",
        api_base=api_base,
        concurrency=actors,
        batch_size=batch_size,
        judge_options={"concurrency": concurrency, "seed": 0},
        backend_options={"num_retries": 0},
    )
    ids: list[int] = []
    errors = 0
    first: tuple[float, int] | None = None
    started = time.perf_counter()
    for batch in verdicts.iter_batches(batch_format="pyarrow", batch_size=None):
        table: Any = batch  # a pyarrow.Table (pyarrow ships no type information)
        ids += table.column("id").to_pylist()
        errors += table.num_rows - sum(table.column("ok").to_pylist())
        if first is None:
            first = (time.perf_counter() - started, len(ids))
    wall = time.perf_counter() - started
    if sorted(ids) != list(range(len(requests))):
        raise RAError(f"Ray returned {len(ids)} rows with ids other than the {len(requests)} sent")
    return _row("Ray Data", actors, len(ids), errors, wall, *(first or (None, None)))


def _row(
    mode: str,
    actors: int | None,
    rows: int,
    errors: int,
    wall: float,
    first_s: float | None,
    first_rows: int | None,
) -> dict[str, Any]:
    after = None
    if first_s is not None and first_rows is not None and rows > first_rows and wall > first_s:
        after = (rows - first_rows) / (wall - first_s)
    return {
        "mode": mode,
        "actors": actors,
        "rows": rows,
        "errors": errors,
        "wall_s": round(wall, 3),
        "rows_per_s": rows / wall if wall > 0 else float("nan"),
        "first_rows_s": None if first_s is None else round(first_s, 3),
        "rows_per_s_after_first": after,
    }


def _ray_runs(
    api_base: str,
    requests: list[dict[str, Any]],
    actors: Sequence[int],
    batch_size: int,
    concurrency: int,
    num_cpus: int,
    show_progress: bool,
    advance: Callable[[int], None],
) -> tuple[float, list[dict[str, Any]]]:
    from ra_agents.integrations.ray import ray_session

    running = sys.modules.get("ray")
    reused = running is not None and running.is_initialized()
    rows = []
    options = {"num_cpus": num_cpus, "include_dashboard": False, "object_store_memory": _OBJECT_STORE_BYTES}
    started = time.perf_counter()
    with ray_session("local", **options) as ray:
        init_s = 0.0 if reused else time.perf_counter() - started
        context = ray.data.DataContext.get_current()
        bars = context.enable_progress_bars
        context.enable_progress_bars = show_progress
        try:
            for n in actors:
                rows.append(_on_ray(ray, api_base, requests, n, batch_size, concurrency))
                advance(len(requests))
        finally:
            context.enable_progress_bars = bars
    return init_s, rows


async def run_ray_bench(
    *,
    rows: int = 400,
    candidates: int = 4,
    actors: Sequence[int] = (1, 2),
    batch_size: int = 50,
    concurrency: int = 16,
    num_cpus: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Judge the same rows in one process and on Ray with each actor count (see the module docs).

    Args:
        rows: requests per run.
        candidates: candidates per request.
        actors: the actor counts to run, one Ray Data run each.
        batch_size: rows per actor call.
        concurrency: requests in flight per judge (the one process's, and each actor's).
        num_cpus: CPUs of the local cluster, when one is started (default: all of them).
        show_progress: progress bars on stderr (Ray Data's own among them).
    """
    requests = make_requests(rows, candidates)
    with progress(rows * (1 + len(actors)), "ray bench", show_progress) as advance:
        async with AsyncExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ra-bench-ray-")))
            api_base, _ = await start_upstream(stack, workdir)
            baseline = await asyncio.to_thread(_one_process, api_base, requests, concurrency)
            advance(rows)
            init_s, ray_rows = await asyncio.to_thread(
                _ray_runs,
                api_base,
                requests,
                actors,
                batch_size,
                concurrency,
                num_cpus or os.cpu_count() or 1,
                show_progress,
                advance,
            )
    return {
        "benchmark": "ray",
        "upstream": "instant local OpenAI-compatible server, in its own process",
        "rows": rows,
        "candidates": candidates,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "ray_init_s": round(init_s, 3),
        "results": [baseline, *ray_rows],
    }


def render_markdown(results: dict[str, Any]) -> str:
    """One row for the single process, one per actor count."""
    table = md_table(
        ["mode", "actors", "rows", "errors", "wall s", "rows/s", "first rows s", "rows/s after first"],
        [
            [
                r["mode"],
                r["actors"],
                r["rows"],
                r["errors"],
                r["wall_s"],
                r["rows_per_s"],
                r["first_rows_s"],
                r["rows_per_s_after_first"],
            ]
            for r in results["results"]
        ],
        digits=1,
    )
    return (
        f"## Batch judging on Ray Data ({results['upstream']}; {results['rows']} rows of "
        f"{results['candidates']} candidates)\n\n"
        f"{results['concurrency']} requests in flight per judge, {results['batch_size']} rows per actor call; "
        f"ray.init took {results['ray_init_s']:.1f} s.\n\n{table}"
    )


def plot_ray(results: dict[str, Any], path: Path) -> Path | None:
    """Rows per second per mode, overall and after the first rows."""
    rows = results["results"]

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        labels = [r["mode"] if r["actors"] is None else f"{r['mode']}\n{r['actors']} actor(s)" for r in rows]
        width = 0.4
        ax.bar(list(range(len(rows))), [r["rows_per_s"] for r in rows], width, label="overall")
        ax.bar(
            [i + width for i in range(len(rows))],
            [r["rows_per_s_after_first"] or 0.0 for r in rows],
            width,
            label="after the first rows",
        )
        ax.set_xticks([i + width / 2 for i in range(len(rows))], labels, fontsize=7)
        ax.set_ylabel("rows/s")
        ax.set_title("batch judging against an instant upstream", fontsize=9)
        ax.legend(fontsize=7)

    return plot(path, draw)
