"""RL rewards from whole groups: rewards per second and judge calls per group, one sample per request.

``prompts`` x ``group`` samples (OpenRLHF's ``--n_samples_per_prompt``), shuffled as generations
finish, each sent on its own, all at once, as OpenRLHF 0.9+ sends them:

- ``http-workers<N>``: ``POST /v1/rewards/openrlhf`` of ``ra-agents serve --workers N
  --group-size <group> --backend http``, one sample per request (with several workers the
  group owner holds every group);
- ``reward-func-threads<T>``: the ``reward_func`` file
  (:class:`~ra_agents.integrations.openrlhf.GroupedReward`), one sample per call from a pool
  of ``T`` threads, as OpenRLHF's ``asyncio.to_thread`` calls it.

The upstream is an instant OpenAI-compatible server in this process
(:class:`~ra_agents.testing.LoopbackOpenAI`) that answers every judge call with a valid
verdict at once and counts the calls and the candidates each showed, so ``calls/group`` is
what the judge really received (1.0 means every group was judged whole in one call). The
group wait is the time a sample waited for its group to complete (``group_wait_s`` of each
answer's ``extra_logs``), the judge call excluded.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from ra_agents import Judge, UsageError
from ra_agents.evals.metrics import percentile
from ra_agents.evals.report import md_table, plot, progress
from ra_agents.protocol import RANKING_KEY
from ra_agents.sync import run_sync
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion, shown_responses

from .processes import aiohttp_module, start_serve

__all__ = ["run_rl_bench", "render_markdown", "plot_rl", "PRINCIPLE"]

PRINCIPLE = "Shorter is better: rank the shortest answer first."
_JSON = {"content-type": "application/json"}
_RETRIES = 5  # as OpenRLHF's request_api_wrapper: five tries, a second apart


class _CountingUpstream:
    """A valid verdict for whatever the judge shows (shortest first), counting calls and group sizes."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        shown = shown_responses(body["messages"])
        with self._lock:
            self.sizes.append(len(shown))
        ranking = sorted(shown, key=lambda name: (len(shown[name]), name))
        scores = {name: max(1, 5 - rank) for rank, name in enumerate(ranking)}
        return chat_completion(json.dumps({"scores": scores, RANKING_KEY: ranking}))


def _samples(prompts: int, group: int, seed: int) -> list[tuple[str, str]]:
    """(prompt, response) of every sample, shuffled across prompts."""
    out = [
        (f"<|user|>Question {k}: say something.<|assistant|>", f"answer {k}." + " more" * ((j * 3 + k) % group))
        for k in range(prompts)
        for j in range(group)
    ]
    random.Random(seed).shuffle(out)
    return out


def _warmup(group: int) -> list[tuple[str, str]]:
    """One group, not measured (its judge call is not counted either)."""
    return [("<|user|>Warm up.<|assistant|>", "x" * (j + 1)) for j in range(group)]


def _row(
    name: str, oks: list[float], errors: list[str], wall: float, sizes: list[int], prompts: int, retries: int = 0
) -> dict[str, Any]:
    ms = [w * 1000 for w in oks]
    return {
        "config": name,
        "samples": len(oks) + len(errors),
        "ok": len(oks),
        "errors": len(errors),
        "retried_429": retries,
        "wall_s": round(wall, 4),
        "rewards_per_s": len(oks) / wall if wall > 0 else float("nan"),
        "judge_calls": len(sizes),
        "calls_per_group": len(sizes) / prompts,
        "judged_group_sizes": sorted(set(sizes)),
        "wait_p50_ms": percentile(ms, 50),
        "wait_p95_ms": percentile(ms, 95),
        "first_error": errors[0] if errors else None,
    }


async def _post(client: Any, root: str, body: bytes) -> tuple[int, bytes]:
    async with client.post(root + "/v1/rewards/openrlhf", data=body, headers=_JSON) as response:
        return response.status, await response.read()


async def _http(
    workers: int, api_base: str, samples: list[tuple[str, str]], group: int, wait_s: float, workdir: Path
) -> tuple[list[float], list[str], float, int]:
    aiohttp = aiohttp_module()
    flags = [
        "--backend",
        "http",
        "--workers",
        str(workers),
        "--group-size",
        str(group),
        "--group-wait",
        f"{wait_s:g}",
        "--max-waiting-samples",  # every sample waits for its group inside the server
        str(max(8192, len(samples) + group)),
    ]
    label = json.dumps({"principle": PRINCIPLE})
    bodies = [json.dumps({"query": [p + s], "prompts": [p], "labels": [label]}).encode() for p, s in samples]
    waits: list[float] = []
    errors: list[str] = []
    retried: list[int] = []
    async with AsyncExitStack() as stack:
        timeout = aiohttp.ClientTimeout(total=wait_s + 60)
        client = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout)
        )
        root, _ = await start_serve(
            stack, client, api_base=api_base, workdir=workdir, flags=flags, log=f"serve-{workers}.log"
        )
        warm = [json.dumps({"query": [p + s], "prompts": [p], "labels": [label]}).encode() for p, s in _warmup(group)]
        await asyncio.gather(*(_post(client, root, b) for b in warm))

        async def post(body: bytes) -> None:
            try:
                status, raw = await _post(client, root, body)
                for _ in range(_RETRIES):  # OpenRLHF's request wrapper retries a refused post after a second
                    if status != 429:
                        break
                    retried.append(1)
                    await asyncio.sleep(1.0)
                    status, raw = await _post(client, root, body)
                if status != 200:
                    errors.append(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
                else:
                    waits.append(float(json.loads(raw)["extra_logs"]["group_wait_s"][0]))
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        wall = time.perf_counter() - started
    return waits, errors, wall, len(retried)


def _reward_func(
    threads: int, api_base: str, samples: list[tuple[str, str]], group: int, wait_s: float
) -> tuple[list[float], list[str], float]:
    from ra_agents.backends.openai_http import OpenAIHTTPBackend
    from ra_agents.integrations.openrlhf import GroupedReward

    backend = OpenAIHTTPBackend("hosted_vllm/x", api_base=api_base)
    reward = GroupedReward(
        Judge(backend),
        principle=PRINCIPLE,
        group_size=group,
        wait_s=wait_s,
    )
    waits: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def call(sample: tuple[str, str]) -> None:
        prompt, response = sample
        try:
            out = reward([prompt + response], [prompt])
        except Exception as exc:  # noqa: BLE001 - counted as an error of this sample
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            waits.append(float(out["extra_logs"]["group_wait_s"][0]))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda s: reward([s[0] + s[1]], [s[0]]), _warmup(group)))  # connections, lazy imports
        started = time.perf_counter()
        list(pool.map(call, samples))
        wall = time.perf_counter() - started
    # The backend's connections live on the loop the synchronous reward_func runs on: close them there.
    run_sync(backend.aclose(), async_name="aclose")
    return waits, errors, wall


async def run_rl_bench(
    *,
    prompts: int = 64,
    group: int = 8,
    workers: tuple[int, ...] | list[int] = (1, 2, 4),
    threads: int = 8,
    wait_s: float = 60.0,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run every configuration against one instant upstream.

    Args:
        prompts: prompts (groups).
        group: samples per prompt.
        workers: server worker counts to measure (``ra-agents serve --workers``).
        threads: the reward_func file's thread pool (0 skips that configuration).
        wait_s: the group wait (``--group-wait``); a group incomplete after it fails its samples.
        seed: the shuffle of the samples.
        show_progress: a progress bar on stderr.

    Returns:
        ``{"benchmark": "rl", "rows": [...], ...}``: per configuration the samples, ok, errors,
        wall_s, rewards_per_s, judge_calls, calls_per_group, judged_group_sizes, the group wait's
        median and p95 (ms) and first_error.
    """
    if prompts < 1 or group < 1 or any(w < 1 for w in workers) or threads < 0:
        raise UsageError("prompts, group and workers must be at least 1, threads at least 0")
    samples = _samples(prompts, group, seed)
    upstream = _CountingUpstream()
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="ra-bench-rl-"))
    configs = len(workers) + (1 if threads else 0)
    try:
        with LoopbackOpenAI(upstream) as server, progress(configs, "rl", show_progress) as advance:
            for n in workers:
                before = len(upstream.sizes) + 1  # after the warm-up group's call
                waits, errors, wall, retries = await _http(n, server.api_base, samples, group, wait_s, workdir)
                rows.append(_row(f"http-workers{n}", waits, errors, wall, upstream.sizes[before:], prompts, retries))
                advance(1)
            if threads:
                before = len(upstream.sizes) + 1
                waits, errors, wall = await asyncio.to_thread(
                    _reward_func, threads, server.api_base, samples, group, wait_s
                )
                rows.append(
                    _row(f"reward-func-threads{threads}", waits, errors, wall, upstream.sizes[before:], prompts)
                )
                advance(1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "rl",
        "upstream": "instant local OpenAI-compatible server (LoopbackOpenAI, in the benchmark's process)",
        "prompts": prompts,
        "group": group,
        "workers": list(workers),
        "threads": threads,
        "group_wait_s": wait_s,
        "rows": rows,
    }


def render_markdown(results: dict[str, Any]) -> str:
    """The table, one row per configuration."""
    table = md_table(
        [
            "config",
            "ok",
            "errors",
            "429 retries",
            "rewards/s",
            "judge calls",
            "calls/group",
            "group wait p50 ms",
            "p95 ms",
        ],
        [
            [
                r["config"],
                r["ok"],
                r["errors"],
                r.get("retried_429", 0),
                r["rewards_per_s"],
                r["judge_calls"],
                r["calls_per_group"],
                r["wait_p50_ms"],
                r["wait_p95_ms"],
            ]
            for r in results["rows"]
        ],
        digits=2,
    )
    lines = [
        f"## RL rewards from whole groups ({results['prompts']} prompts x {results['group']} samples, one sample "
        f"per request or call; {results['upstream']})",
        "",
        "`http-workers<N>`: `POST /v1/rewards/openrlhf` of `ra-agents serve --workers N --backend http`, all "
        "samples posted at once, `--max-waiting-samples` above the sample count (a refused post is retried up to 5 "
        "times a second apart, as OpenRLHF's request wrapper does); `reward-func-threads<T>`: the OpenRLHF "
        "`reward_func` file called with one sample per call from T threads. calls/group 1.00 means every "
        "group was judged whole, in one call. The group wait is how long a sample waited for its group to "
        "complete.",
        "",
        table,
    ]
    errors = [r for r in results["rows"] if r["errors"]]
    lines += [f"\n- first error of {r['config']}: {r['first_error']}" for r in errors]
    return "\n".join(lines)


def plot_rl(results: dict[str, Any], path: Path) -> Path | None:
    """Rewards per second, one bar per configuration."""
    rows = results["rows"]

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        ax.bar([r["config"] for r in rows], [r["rewards_per_s"] for r in rows])
        ax.set_ylabel("rewards per second")
        ax.set_title(f"{results['prompts']} prompts x {results['group']} samples, one sample per request", fontsize=9)

    return plot(path, draw)
