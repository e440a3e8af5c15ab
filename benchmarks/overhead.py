"""The framework's own overhead, against an instant local upstream.

:class:`InstantUpstream` is an OpenAI-compatible ``/v1/chat/completions`` server on
127.0.0.1 (a free port) that answers at once with a valid verdict for the masked names in
the request. The same verdict requests go through each named target; comparing their
latency shows what the layers cost. Targets are a registry (:data:`TARGETS`) of
factories ``(api_base) -> Target``: adding an HTTP judge server later means adding one
factory that starts it against ``api_base`` and posts to it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ra_agents import protocol
from ra_agents.evals.metrics import percentile
from ra_agents.evals.report import md_table, plot, progress
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion, shown_responses

__all__ = [
    "InstantUpstream",
    "instant_verdict",
    "Target",
    "TARGETS",
    "make_requests",
    "run_overhead",
    "render_markdown",
    "plot_overhead",
]


def instant_verdict(body: dict[str, Any]) -> Reply:
    """A valid verdict for the masked names of a judge request, at once."""
    try:
        names = list(shown_responses(body["messages"]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return 400, {"error": {"message": f"not a verdict request: {exc}"}}
    verdict = {"scores": {m: 5 - min(i, 4) for i, m in enumerate(names)}, protocol.RANKING_KEY: names}
    return chat_completion(
        json.dumps(verdict), model=body.get("model", "x"), prompt_tokens=100, completion_tokens=10 * len(names)
    )


class InstantUpstream(LoopbackOpenAI):
    """A canned-verdict OpenAI-compatible server on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        super().__init__(instant_verdict)


class Target(Protocol):
    """One way of sending a verdict request (``{"principle", "prompt", "responses"}``)."""

    name: str

    async def start(self) -> None: ...

    async def send(self, request: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class HttpxDirect:
    """The floor: the judge's chat request body, pre-rendered, posted with one httpx client."""

    name = "httpx-direct"

    def __init__(self, api_base: str, model: str = "x") -> None:
        self.url = api_base.rstrip("/") + "/chat/completions"
        self.model = model
        self._client: Any = None

    async def start(self) -> None:
        import httpx

        self._client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64))

    def body(self, request: dict[str, Any]) -> dict[str, Any]:
        """The body the judge sends for ``request`` (same messages, schema and logprob ask)."""
        masked = protocol.masked_names(len(request["responses"]))
        texts = dict(zip(masked, request["responses"].values(), strict=False))
        return {
            "model": self.model,
            "messages": protocol.render_messages(request["principle"], request["prompt"], texts),
            "max_tokens": 32 + 24 * len(masked),  # the judge's own sizing for structured verdicts
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 5,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": protocol.verdict_schema(masked), "strict": True},
            },
        }

    async def send(self, request: dict[str, Any]) -> None:
        response = await self._client.post(self.url, json=self.body(request))
        response.raise_for_status()
        response.json()

    async def close(self) -> None:
        await self._client.aclose()


class JudgeLiteLLM:
    """The framework path: ``Judge.from_litellm("hosted_vllm/x", api_base=...)`` (render, call, parse, map back)."""

    name = "judge-litellm"

    def __init__(self, api_base: str) -> None:
        self.api_base = api_base
        self._judge: Any = None

    async def start(self) -> None:
        from ra_agents import Judge

        self._judge = Judge.from_litellm("hosted_vllm/x", api_base=self.api_base, num_retries=0, seed=0)

    async def send(self, request: dict[str, Any]) -> None:
        await self._judge.ajudge(request["principle"], request["prompt"], request["responses"])

    async def close(self) -> None:
        pass


TARGETS: dict[str, Callable[[str], Target]] = {
    "httpx-direct": HttpxDirect,
    "judge-litellm": JudgeLiteLLM,
}
"""Named target factories ``(upstream api_base) -> Target``; add e.g. an HTTP judge server here."""


def make_requests(count: int, candidates: int) -> list[dict[str, Any]]:
    """``count`` small verdict requests with ``candidates`` candidates each."""
    return [
        {
            "principle": "Correctness first; style does not matter.",
            "prompt": f"What is {i} + {i}?",
            "responses": {f"r{j}": f"The answer is {2 * i + j}." for j in range(candidates)},
        }
        for i in range(count)
    ]


async def _measure(
    target: Target, requests: Sequence[dict[str, Any]], concurrency: int, warmup: int, advance: Callable[[int], None]
) -> dict[str, Any]:
    for req in requests[:warmup]:
        await target.send(req)
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(req: dict[str, Any]) -> None:
        nonlocal errors
        async with limit:
            t0 = time.perf_counter()
            try:
                await target.send(req)
            except Exception:  # noqa: BLE001 - counted, reported
                errors += 1
            else:
                latencies.append(time.perf_counter() - t0)
            advance(1)

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {
        "requests": len(requests),
        "errors": errors,
        "concurrency": concurrency,
        "wall_s": round(wall, 4),
        "throughput_rps": len(latencies) / wall if wall > 0 else float("nan"),
        "mean_ms": sum(ms) / len(ms) if ms else float("nan"),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


async def run_overhead(
    *,
    targets: Sequence[str] = tuple(TARGETS),
    requests: int = 200,
    candidates: int = 4,
    concurrency: Sequence[int] = (1, 16),
    warmup: int = 5,
    show_progress: bool = True,
    api_base: str | None = None,
) -> dict[str, Any]:
    """Measure each target at each concurrency against the instant upstream (or ``api_base``)."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        from ra_agents import UsageError

        raise UsageError(f"unknown overhead targets {unknown}; known: {list(TARGETS)}")
    reqs = make_requests(requests, candidates)
    rows: list[dict[str, Any]] = []
    upstream = InstantUpstream() if api_base is None else None
    if upstream is not None:
        upstream.__enter__()
    base = upstream.api_base if upstream is not None else api_base
    try:
        with progress(len(targets) * len(concurrency) * requests, "overhead", show_progress) as advance:
            for name in targets:
                target = TARGETS[name](base)  # type: ignore[arg-type]
                await target.start()
                try:
                    for c in concurrency:
                        rows.append({"target": name, **await _measure(target, reqs, c, warmup, advance)})
                finally:
                    await target.close()
    finally:
        if upstream is not None:
            upstream.__exit__(None, None, None)
    return {
        "benchmark": "overhead",
        "upstream": "instant local OpenAI-compatible server" if api_base is None else api_base,
        "candidates": candidates,
        "rows": rows,
    }


def render_markdown(results: dict[str, Any]) -> str:
    """One row per (target, concurrency), with the p50 added over the first target."""
    rows = results["rows"]
    floor = {r["concurrency"]: r["p50_ms"] for r in rows if r["target"] == rows[0]["target"]} if rows else {}
    table = md_table(
        [
            "target",
            "concurrency",
            "requests",
            "errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "mean ms",
            "req/s",
            "p50 over floor ms",
        ],
        [
            [
                r["target"],
                r["concurrency"],
                r["requests"],
                r["errors"],
                r["p50_ms"],
                r["p90_ms"],
                r["p99_ms"],
                r["mean_ms"],
                r["throughput_rps"],
                r["p50_ms"] - floor.get(r["concurrency"], float("nan")),
            ]
            for r in rows
        ],
        digits=2,
    )
    return (
        f"## Framework overhead ({results['upstream']}, {results['candidates']} candidates per request)\n\n"
        f"The first target is the floor; the last column is each target's median latency above it.\n\n{table}"
    )


def plot_overhead(results: dict[str, Any], path: Path) -> Path | None:
    """p50/p90/p99 bars per target and concurrency."""
    rows = results["rows"]

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        labels = [f"{r['target']}\nc={r['concurrency']}" for r in rows]
        width = 0.27
        for n, key in enumerate(("p50_ms", "p90_ms", "p99_ms")):
            ax.bar([i + n * width for i in range(len(rows))], [r[key] for r in rows], width, label=key[:3])
        ax.set_xticks([i + width for i in range(len(rows))], labels, fontsize=7)
        ax.set_ylabel("latency ms")
        ax.set_title("per-request latency against an instant upstream", fontsize=9)
        ax.legend(fontsize=7)

    return plot(path, draw)
