"""Cost of picking the best of N: listwise vs pointwise vs pairwise knockout.

The same judge (same server) and the same candidates for each strategy:

- listwise: one request with all N candidates;
- pointwise: N requests with one candidate each (sent concurrently), best = top score
  (ties go to the earlier candidate, and are counted);
- pairwise knockout: N - 1 two-candidate requests in ceil(log2 N) rounds (the matches of
  a round are sent concurrently; an odd one out gets a bye).

``calls`` counts every generation, re-asks after unusable answers included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ra_agents import Judge, JudgeResult, RAError, UsageError
from ra_agents.evals.report import fmt, md_table, plot, progress

__all__ = ["load_candidates", "run_cost", "render_markdown", "plot_cost", "STRATEGIES"]

STRATEGIES = ("listwise", "pointwise", "pairwise")


SAMPLE = Path(__file__).parent / "data" / "cost_candidates.json"
"""The bundled 16-candidate sample."""


def load_candidates(path: Path | None = None) -> dict[str, Any]:
    """``{"principle", "prompt", "candidates": [...]}`` from ``path`` or the bundled 16-candidate sample.

    Raises:
        UsageError: the file cannot be read, is not JSON, or lacks a string ``prompt`` and
            a list of at least two ``candidates``.
    """
    source = Path(path) if path is not None else SAMPLE
    where = str(path) if path is not None else "benchmarks/data/cost_candidates.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the candidates file {where}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON ({exc})") from exc
    if not (
        isinstance(data, dict)
        and isinstance(data.get("prompt"), str)
        and isinstance(data.get("candidates"), list)
        and len(data["candidates"]) >= 2
    ):
        raise UsageError(f'{where}: expected {{"principle": ..., "prompt": "...", "candidates": [two or more]}}')
    return data


class _Tally:
    def __init__(self) -> None:
        self.calls = self.requests = self.prompt_tokens = self.completion_tokens = self.failures = 0
        self.errors: list[str] = []  # the first line of each failure, so a failed row says why

    def add(self, item: JudgeResult | RAError) -> None:
        self.requests += 1
        if isinstance(item, JudgeResult):
            self.calls += sum(p.attempts for p in item.passes)
            self.prompt_tokens += item.usage.prompt_tokens
            self.completion_tokens += item.usage.completion_tokens
        else:
            self.failures += 1
            self.errors.append(f"{type(item).__name__}: {str(item).splitlines()[0] if str(item) else ''}")
            self.calls += getattr(item, "attempts", 1)  # tokens of failed calls are unknown

    def as_dict(self, wall: float, best: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "failures": self.failures,
            "errors": self.errors,
            "wall_s": round(wall, 3),
            "best": best,
            **extra,
        }


async def _listwise(judge: Judge, principle: str, prompt: str, cands: dict[str, str], seed: int) -> dict[str, Any]:
    tally = _Tally()
    started = time.perf_counter()
    out = (
        await judge.ajudge_batch(
            [{"principle": principle, "prompt": prompt, "responses": cands, "permutations": 1, "seed": seed}]
        )
    )[0]
    wall = time.perf_counter() - started
    tally.add(out)
    return tally.as_dict(wall, out.best if isinstance(out, JudgeResult) else None)


async def _pointwise(judge: Judge, principle: str, prompt: str, cands: dict[str, str], seed: int) -> dict[str, Any]:
    tally = _Tally()
    started = time.perf_counter()
    outs = await judge.ajudge_batch(
        [
            {"principle": principle, "prompt": prompt, "responses": {n: t}, "permutations": 1, "seed": seed}
            for n, t in cands.items()
        ]
    )
    wall = time.perf_counter() - started
    scores: dict[str, float] = {}
    for name, out in zip(cands, outs, strict=False):
        tally.add(out)
        if isinstance(out, JudgeResult):
            scores[name] = out.scores[name]
    best = None
    tied = 0
    if scores:
        top = max(scores.values())
        leaders = [n for n in cands if scores.get(n) == top]
        best, tied = leaders[0], len(leaders)
    return tally.as_dict(wall, best, tied_at_top=tied)


async def _pairwise(judge: Judge, principle: str, prompt: str, cands: dict[str, str], seed: int) -> dict[str, Any]:
    tally = _Tally()
    alive = list(cands)
    rounds = 0
    started = time.perf_counter()
    while len(alive) > 1:
        rounds += 1
        pairs = [(alive[i], alive[i + 1]) for i in range(0, len(alive) - 1, 2)]
        bye = [alive[-1]] if len(alive) % 2 else []
        outs = await judge.ajudge_batch(
            [
                {
                    "principle": principle,
                    "prompt": prompt,
                    "responses": {a: cands[a], b: cands[b]},
                    "permutations": 1,
                    "seed": seed + i,
                }
                for i, (a, b) in enumerate(pairs)
            ]
        )
        winners = []
        for (a, _b), out in zip(pairs, outs, strict=False):
            tally.add(out)
            winners.append(out.best if isinstance(out, JudgeResult) else a)  # a failed match: the first advances
        alive = winners + bye
    wall = time.perf_counter() - started
    return tally.as_dict(wall, alive[0] if alive else None, rounds=rounds)


_RUNNERS = {"listwise": _listwise, "pointwise": _pointwise, "pairwise": _pairwise}


async def run_cost(
    judge: Judge,
    *,
    sizes: Sequence[int] = (2, 4, 8, 16),
    candidates: dict[str, Any] | None = None,
    principle: str | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the three strategies for each N; return the results dict."""
    data = candidates or load_candidates()
    pool: list[str] = list(data["candidates"])
    if max(sizes) > len(pool):
        raise UsageError(f"N={max(sizes)} needs {max(sizes)} candidates; the candidates file has {len(pool)}")
    principle = principle or data.get("principle") or "Correctness first."
    rows: list[dict[str, Any]] = []
    total_requests = sum(1 + n + (n - 1) for n in sizes)
    with progress(total_requests, "cost", show_progress) as advance:
        for n in sizes:
            cands = {f"c{i + 1:02d}": pool[i] for i in range(n)}
            for strategy in STRATEGIES:
                row = await _RUNNERS[strategy](judge, principle, data["prompt"], cands, seed)
                rows.append({"n": n, "strategy": strategy, **row})
                advance(row["requests"])
    return {
        "benchmark": "cost",
        "model": judge.backend.model,
        "principle": principle,
        "prompt": data["prompt"],
        "sizes": list(sizes),
        "concurrency": judge.concurrency,
        "rows": rows,
    }


def render_markdown(results: dict[str, Any]) -> str:
    """One row per (N, strategy)."""
    table = md_table(
        [
            "N",
            "strategy",
            "requests",
            "calls",
            "prompt tokens",
            "completion tokens",
            "wall s",
            "failures",
            "best",
            "note",
        ],
        [
            [
                r["n"],
                r["strategy"],
                r["requests"],
                r["calls"],
                r["prompt_tokens"],
                r["completion_tokens"],
                r["wall_s"],
                r["failures"],
                r["best"],
                _note(r),
            ]
            for r in results["rows"]
        ],
        digits=2,
    )
    return (
        f"## Best-of-N cost ({results['model']}, concurrency {fmt(results['concurrency'])})\n\n"
        "calls = generations including re-asks; pointwise and knockout rounds send their requests concurrently.\n\n"
        f"{table}"
    )


def _note(row: dict[str, Any]) -> str:
    if row.get("errors"):
        return row["errors"][0][:80]
    if row.get("tied_at_top", 0) > 1:
        return f"{row['tied_at_top']} tied at the top score"
    if "rounds" in row:
        return f"{row['rounds']} round{'s' if row['rounds'] != 1 else ''}"
    return ""


def plot_cost(results: dict[str, Any], path: Path) -> Path | None:
    """Calls, total tokens and wall time against N, one line per strategy."""
    rows = results["rows"]

    def draw(fig: Any) -> None:
        axes = fig.subplots(1, 3)
        metrics = [
            ("calls", lambda r: r["calls"]),
            ("tokens", lambda r: r["prompt_tokens"] + r["completion_tokens"]),
            ("wall s", lambda r: r["wall_s"]),
        ]
        for ax, (label, get) in zip(axes, metrics, strict=False):
            for strategy in STRATEGIES:
                pts = [(r["n"], get(r)) for r in rows if r["strategy"] == strategy]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=strategy)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("N candidates")
            ax.set_title(label, fontsize=9)
        axes[0].legend(fontsize=7)

    return plot(path, draw, size=(11, 3.6))
