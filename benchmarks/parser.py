"""``python -m benchmarks parser``: verdict parsing time against answer shape and size.

A model stuck in a repetition loop up to a large ``max_tokens`` produces long degenerate
answers; the parser must reject (or accept) them in time linear in their length. Each
shape is a fragment repeated to the wanted size, optionally followed by a valid verdict,
parsed for N candidates; the table gives the outcome and the best of a few timed runs.
No model and no network: this measures the parser alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ra_agents import VerdictError
from ra_agents.evals.report import md_table, plot
from ra_agents.protocol import RANKING_KEY, masked_names, parse_verdict

__all__ = ["SHAPES", "DEFAULT_SIZES", "run_parser_bench", "render_markdown", "plot_parser"]

SHAPES: dict[str, str] = {
    "quoted braces": '"{"',
    "open braces": "{",
    "nested objects": '{"a": ',
    "unclosed think": "<think>",
    "scores keys": '{"scores": {"model-1": 5, ',
    "repeated-key objects": '{"a": 1, "a": 2} ',
    "prose": "The first answer is better because it is shorter. ",
}
"""Shape name -> the fragment repeated to fill the answer."""

DEFAULT_SIZES = (64 * 1024, 256 * 1024, 1024 * 1024)


def _verdict(n: int) -> str:
    names = masked_names(n)
    return json.dumps({"scores": {m: 5 - i % 5 for i, m in enumerate(names)}, RANKING_KEY: names})


def _answer(fragment: str, size: int, tail: str) -> str:
    return (fragment * (size // len(fragment) + 1))[:size] + tail


def run_parser_bench(
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    shapes: Sequence[str] | None = None,
    n: int = 8,
    repeats: int = 3,
    parse: Callable[..., Any] = parse_verdict,
) -> dict[str, Any]:
    """Time ``parse`` on every shape and size, with and without a trailing valid verdict.

    Returns ``{"n", "repeats", "rows": [{shape, bytes, verdict_after, outcome, ms}]}``;
    ``ms`` is the best of ``repeats`` runs.
    """
    names = masked_names(n)
    tail = _verdict(n)
    rows = []
    for shape in shapes or list(SHAPES):
        fragment = SHAPES[shape]
        for size in sizes:
            for verdict_after in (False, True):
                text = _answer(fragment, size, tail if verdict_after else "")
                best = float("inf")
                outcome = ""
                for _ in range(repeats):
                    started = time.perf_counter()
                    try:
                        parse(text, names)
                        outcome = "verdict"
                    except VerdictError:
                        outcome = "rejected"
                    best = min(best, time.perf_counter() - started)
                rows.append(
                    {
                        "shape": shape,
                        "bytes": size,
                        "verdict_after": verdict_after,
                        "outcome": outcome,
                        "ms": best * 1e3,
                    }
                )
    return {"n": n, "repeats": repeats, "rows": rows}


def _size(b: int) -> str:
    return f"{b // (1024 * 1024)} MiB" if b % (1024 * 1024) == 0 else f"{b // 1024} KiB"


def render_markdown(results: dict[str, Any]) -> str:
    """One row per shape and size: outcome and time without, then with, a trailing verdict."""
    by_key: dict[tuple[str, int], dict[bool, dict[str, Any]]] = {}
    for row in results["rows"]:
        by_key.setdefault((row["shape"], row["bytes"]), {})[row["verdict_after"]] = row
    rows = []
    for (shape, size), pair in by_key.items():
        alone, followed = pair.get(False, {}), pair.get(True, {})
        rows.append(
            [shape, _size(size), alone.get("outcome"), alone.get("ms"), followed.get("outcome"), followed.get("ms")]
        )
    head = ["answer shape", "size", "alone", "ms", "+ valid verdict", "ms"]
    note = f"N = {results['n']} candidates; best of {results['repeats']} runs."
    return md_table(head, rows, digits=2) + "\n\n" + note


def plot_parser(results: dict[str, Any], path: Path) -> Path | None:
    """Parse time against answer size, one line per shape (answers without a verdict)."""

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for shape in dict.fromkeys(r["shape"] for r in results["rows"]):
            rows = [r for r in results["rows"] if r["shape"] == shape and not r["verdict_after"]]
            ax.plot([r["bytes"] / 1024 for r in rows], [r["ms"] for r in rows], marker="o", label=shape)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("answer size (KiB)")
        ax.set_ylabel("parse time (ms, best run)")
        ax.set_title(f"Verdict parsing, N = {results['n']}")
        ax.legend(fontsize=7)

    return plot(path, draw)
