"""``python -m benchmarks``: the performance benchmarks of a source checkout (not installed with ra-agents).

Subcommands: ``cost``, ``overhead``, ``parser``, ``server``, ``cache``, ``ray``, ``rl``. Each prints
a markdown table and writes ``<name>.json``, ``<name>.md`` and ``<name>.png`` under ``--output``.
``cost`` judges with ``--model``/``--api-base`` (else the configured or bundled model in-process);
the others need no model (an instant local upstream stands in for it). The judge-quality
evaluations are the installed ``ra-agents eval`` (:mod:`ra_agents.evals`).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from ra_agents import UsageError
from ra_agents.cli.eval import (
    Outcome,
    add_judge_flags,
    add_output_flags,
    add_subcommand,
    judge_from_args,
    positive_int,
    positive_ints,
    run_and_report,
)
from ra_agents.settings import comma_list

__all__ = ["NAMES", "main", "build_parser"]

NAMES = ("cost", "overhead", "parser", "server", "cache", "ray", "rl")
"""The benchmarks, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Performance benchmarks (run from the project root): each prints a markdown table and "
        "writes NAME.json, NAME.md and NAME.png under --output (bench-results/).",
        epilog="examples:\n  python -m benchmarks overhead\n  python -m benchmarks cost --sizes 2,4,8,16 "
        "--model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1\n"
        "  python -m benchmarks NAME --help\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(NAMES) + "}")

    p = add_subcommand(
        sub,
        "cost",
        "calls, tokens and wall time of best-of-N: listwise vs pointwise vs pairwise",
        "python -m benchmarks cost --sizes 2,4",
    )
    p.add_argument(
        "--sizes", type=positive_ints, default=[2, 4, 8, 16], help="comma-separated N values (default 2,4,8,16)"
    )
    p.add_argument(
        "--candidates",
        type=Path,
        help='JSON {"principle", "prompt", "candidates": [...]} (default: bundled, 16 candidates)',
    )
    add_judge_flags(p)
    add_output_flags(p)

    from .overhead import TARGETS

    p = add_subcommand(
        sub,
        "overhead",
        "the framework's own latency against an instant local upstream (no model)",
        "python -m benchmarks overhead --requests 100 --concurrency 1,16",
    )
    p.add_argument(
        "--targets", type=comma_list, default=list(TARGETS), help=f"comma-separated (default {','.join(TARGETS)})"
    )
    p.add_argument(
        "--requests", type=positive_int, default=300, help="measured requests per target and concurrency (default 300)"
    )
    p.add_argument("--warmup", type=int, default=5, help="unmeasured requests first (default 5)")
    p.add_argument("--candidates", type=positive_int, default=4, help="candidates per request (default 4)")
    p.add_argument("--concurrency", type=positive_ints, default=[1, 16], help="comma-separated (default 1,16)")
    add_output_flags(p)

    from .parser import SHAPES

    p = add_subcommand(
        sub,
        "parser",
        "verdict parsing time against answer shape and size (no model)",
        "python -m benchmarks parser --sizes 64,256",
    )
    p.add_argument(
        "--sizes", type=positive_ints, default=[64, 256, 1024], help="answer sizes in KiB (default 64,256,1024)"
    )
    p.add_argument(
        "--shapes", type=comma_list, default=list(SHAPES), help=f"comma-separated (default {','.join(SHAPES)})"
    )
    p.add_argument(
        "--candidates", type=positive_int, default=8, help="N, the candidates the verdict covers (default 8)"
    )
    p.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs per case; the best is reported (default 3)"
    )
    add_output_flags(p)

    from .server import TARGET_NAMES as SERVER_TARGETS

    p = add_subcommand(
        sub,
        "server",
        "judge server throughput: ra-agents serve vs the reference server and upstream",
        "python -m benchmarks server --requests 500 --concurrency 16",
    )
    p.add_argument(
        "--requests",
        type=positive_int,
        default=2000,
        help="measured requests per target and concurrency (default 2000)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_ints,
        default=[16, 64],
        help="concurrent clients, comma-separated (default 16,64)",
    )
    p.add_argument("--candidates", type=positive_int, default=4, help="candidates per request (default 4)")
    p.add_argument(
        "--targets",
        type=comma_list,
        default=list(SERVER_TARGETS),
        help=f"comma-separated (default {','.join(SERVER_TARGETS)})",
    )
    p.add_argument(
        "--reference-python",
        type=Path,
        help="a Python with rewardanything==1.0.1 installed (default: a virtual environment "
        "created once under the ra-agents cache, bench-reference-venv)",
    )
    add_output_flags(p)

    from .cache import STORES

    p = add_subcommand(
        sub,
        "cache",
        "verdict cache: judge calls and wall time of a rerun, cold vs warm (no model)",
        "python -m benchmarks cache --requests 50",
    )
    p.add_argument("--requests", type=positive_int, default=200, help="requests in the batch (default 200)")
    p.add_argument("--candidates", type=positive_int, default=4, help="candidates per request (default 4)")
    p.add_argument("--concurrency", type=positive_int, default=8, help="requests in flight at once (default 8)")
    p.add_argument(
        "--stores", type=comma_list, default=list(STORES), help=f"comma-separated (default {','.join(STORES)})"
    )
    add_output_flags(p)

    p = add_subcommand(
        sub,
        "ray",
        "rows/s of batch judging on Ray Data (local cluster) vs one process (no model)",
        "python -m benchmarks ray --rows 100 --actors 1,2",
    )
    p.add_argument("--rows", type=positive_int, default=400, help="requests per run (default 400)")
    p.add_argument("--candidates", type=positive_int, default=4, help="candidates per request (default 4)")
    p.add_argument("--actors", type=positive_ints, default=[1, 2], help="actor counts, comma-separated (default 1,2)")
    p.add_argument("--batch-size", type=positive_int, default=50, help="rows per actor call (default 50)")
    p.add_argument(
        "--concurrency", type=positive_int, default=16, help="requests in flight per judge and actor (default 16)"
    )
    p.add_argument("--num-cpus", type=positive_int, help="CPUs of the local Ray cluster (default: all)")
    add_output_flags(p)

    p = add_subcommand(
        sub,
        "rl",
        "RL rewards from whole groups: rewards/s and judge calls per group, one sample per request (no model)",
        "python -m benchmarks rl --prompts 16 --workers 1,2",
    )
    p.add_argument("--prompts", type=positive_int, default=64, help="prompts, i.e. groups (default 64)")
    p.add_argument("--group", type=positive_int, default=8, help="samples per prompt (default 8)")
    p.add_argument(
        "--workers", type=positive_ints, default=[1, 2, 4], help="ra-agents serve worker counts (default 1,2,4)"
    )
    p.add_argument("--threads", type=int, default=8, help="threads calling the reward_func file; 0 skips (default 8)")
    p.add_argument("--group-wait", type=float, default=60.0, help="seconds a group may take to complete (default 60)")
    add_output_flags(p)
    return parser


async def _run(args: argparse.Namespace) -> Outcome:
    show = not args.no_progress
    if args.command == "overhead":
        from . import overhead

        results = await overhead.run_overhead(
            targets=args.targets,
            requests=args.requests,
            candidates=args.candidates,
            concurrency=args.concurrency,
            warmup=args.warmup,
            show_progress=show,
        )
        return "overhead", results, overhead.render_markdown(results), overhead.plot_overhead
    if args.command == "cache":
        from . import cache

        results = await cache.run_cache_bench(
            requests=args.requests,
            candidates=args.candidates,
            concurrency=args.concurrency,
            stores=args.stores,
            show_progress=show,
        )
        return "cache", results, cache.render_markdown(results), cache.plot_cache
    if args.command == "ray":
        from . import ray as ray_bench

        results = await ray_bench.run_ray_bench(
            rows=args.rows,
            candidates=args.candidates,
            actors=args.actors,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            num_cpus=args.num_cpus,
            show_progress=show,
        )
        return "ray", results, ray_bench.render_markdown(results), ray_bench.plot_ray
    if args.command == "parser":
        from . import parser

        unknown = [shape for shape in args.shapes if shape not in parser.SHAPES]
        if unknown:
            raise UsageError(f"unknown --shapes {unknown}; choose from {', '.join(parser.SHAPES)}")
        results = await asyncio.to_thread(
            parser.run_parser_bench,
            sizes=[kib * 1024 for kib in args.sizes],
            shapes=args.shapes,
            n=args.candidates,
            repeats=args.repeats,
        )
        return "parser", results, parser.render_markdown(results), parser.plot_parser
    if args.command == "rl":
        from . import rl

        results = await rl.run_rl_bench(
            prompts=args.prompts,
            group=args.group,
            workers=args.workers,
            threads=args.threads,
            wait_s=args.group_wait,
            show_progress=show,
        )
        return "rl", results, rl.render_markdown(results), rl.plot_rl
    if args.command == "server":
        from . import server

        results = await server.run_server_bench(
            targets=args.targets,
            requests=args.requests,
            concurrency=args.concurrency,
            candidates=args.candidates,
            reference_python=args.reference_python,
            show_progress=show,
        )
        return "server", results, server.render_markdown(results), server.plot_server
    from . import cost

    results = await cost.run_cost(
        judge_from_args(args),
        sizes=args.sizes,
        candidates=cost.load_candidates(args.candidates) if args.candidates else None,
        seed=args.seed,
        show_progress=show,
    )
    return "cost", results, cost.render_markdown(results), cost.plot_cost


def main(argv: Sequence[str] | None = None) -> int:
    """Run one benchmark; returns the exit status (0 ok, 2 usage or backend error)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    return run_and_report("python -m benchmarks", args, argv, _run)
