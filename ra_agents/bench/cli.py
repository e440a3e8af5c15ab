"""``ra-agents bench``: rerunnable benchmarks.

Subcommands: ``rm-bench``, ``listwise``, ``cost``, ``overhead``, ``parser``, ``server``, ``cache``, ``ray``,
``forged``, ``rl``.
Each prints a markdown table and writes ``<name>.json``, ``<name>.md`` and ``<name>.png`` under ``--output``.
The judge is ``--model`` (a LiteLLM string) with ``--api-base``, else the configured or
bundled model in-process, as everywhere in the project.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._errors import RAError, UsageError

__all__ = ["main", "build_parser"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _csv_ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _cells(text: str) -> list[tuple[int, int]]:
    if text == "all":
        from .rmbench import ALL_CELLS

        return list(ALL_CELLS)
    cells = []
    for part in _csv(text):
        if len(part) != 2 or any(c not in "012" for c in part):
            raise argparse.ArgumentTypeError(
                f"expected 'all' or cells like 00,02,20 (chosen, rejected style 0-2), got {part!r}"
            )
        cells.append((int(part[0]), int(part[1])))
    return cells


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _judge_options(p: argparse.ArgumentParser) -> None:
    # The same flags as every other command that builds a judge (ra_agents.cli.flags), except the
    # benchmark's own --permutations default and a fixed seed, so that reruns are comparable.
    g = p.add_argument_group("judge")
    g.add_argument(
        "--model",
        help="LiteLLM model string, e.g. hosted_vllm/rewardanything (default: RA_AGENTS_MODEL, [backend], "
        "else the bundled model in-process)",
    )
    g.add_argument(
        "--api-base",
        help="the model server's base URL, e.g. http://127.0.0.1:8000/v1, or replicas comma-separated "
        "(default: RA_AGENTS_API_BASE)",
    )
    g.add_argument("--api-key", help="the model server's key, if it wants one (default: RA_AGENTS_API_KEY)")
    g.add_argument(
        "--concurrency",
        type=_positive,
        help="requests in flight at once (default: RA_AGENTS_JUDGE_CONCURRENCY, else 8)",
    )
    g.add_argument("--max-tokens", type=int, help="generation budget per call (default: the judge's own sizing)")
    g.add_argument(
        "--timeout",
        type=float,
        help=f"seconds per model request (default: RA_AGENTS_TIMEOUT, [backend], else {_BENCH_TIMEOUT:.0f})",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the candidate shuffles (default 0)")


_BENCH_TIMEOUT = 600.0
"""Seconds per request when neither --timeout nor the settings give one: benchmark batches queue long."""


def _common(p: argparse.ArgumentParser) -> None:
    from ..cli.flags import add_hidden_alias

    p.add_argument(
        "-o",
        "--output",
        dest="out",
        metavar="DIR",
        type=Path,
        default=Path("bench-results"),
        help="output folder (default bench-results/)",
    )
    add_hidden_alias(p, "--out", "out", type=Path)  # the spelling before 0.x: read for one release
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plot")


def _add(sub: Any, name: str, helptext: str, example: str) -> argparse.ArgumentParser:
    """A benchmark subcommand whose ``--help`` has a description and an example."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=helptext,
        description=helptext[0].upper() + helptext[1:] + ".",
        epilog=f"example:\n  {example}\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ra-agents bench``."""
    from .rmbench import DEFAULT_PRINCIPLE, DOMAINS

    parser = argparse.ArgumentParser(
        prog="ra-agents bench",
        description="Rerunnable benchmarks: each prints a markdown table and writes NAME.json, NAME.md and "
        "NAME.png under --output (bench-results/).",
        epilog="examples:\n  ra-agents bench overhead\n  ra-agents bench rm-bench --limit 6 --cells 00,02,20 "
        "--model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1\n  ra-agents bench SUBCOMMAND --help\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{rm-bench,listwise,cost,overhead,parser,server,cache,ray,forged,rl}"
    )

    p = _add(
        sub,
        "rm-bench",
        "RM-Bench accuracy (hard/normal/easy) and position bias",
        "ra-agents bench rm-bench --limit 6 --cells 00,02,20 --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1",
    )
    p.add_argument(
        "--data",
        type=Path,
        help="folder with the RM-Bench <domain>.json files (default: "
        "$RA_AGENTS_RMBENCH_DATA, else THU-KEG/RM-Bench from the Hugging Face Hub, downloaded once "
        "into $RA_AGENTS_CACHE/rm-bench, ~/.cache/ra-agents/rm-bench by default)",
    )
    p.add_argument("--domains", type=_csv, default=list(DOMAINS), help=f"comma-separated (default {','.join(DOMAINS)})")
    p.add_argument("--limit", type=_positive, help="items per domain (default all; each item is 9 pair requests)")
    p.add_argument(
        "--cells",
        type=_cells,
        default="all",
        help="style pairs to judge, chosen then rejected style "
        "(0 concise, 1 detailed, 2 markdown), e.g. 00,02,20 (default all nine)",
    )
    p.add_argument(
        "--permutations",
        type=_positive,
        default=2,
        help="passes per pair over different orders (default 2: both orders)",
    )
    p.add_argument(
        "--principle",
        default=DEFAULT_PRINCIPLE,
        help="the judging principle (default: correctness and safety first, style irrelevant)",
    )
    _judge_options(p)
    _common(p)

    p = _add(
        sub,
        "listwise",
        "Kendall tau, NDCG, pairwise accuracy against reference rankings (JSONL)",
        "ra-agents bench listwise --limit 2",
    )
    p.add_argument("--data", type=Path, help="JSONL cases (default: the bundled 4-case sample; format: BENCHMARKS.md)")
    p.add_argument("--limit", type=_positive, help="the first N cases only (default all)")
    p.add_argument(
        "--permutations", type=_positive, default=2, help="passes per case over different orders (default 2)"
    )
    _judge_options(p)
    _common(p)

    p = _add(
        sub,
        "cost",
        "calls, tokens and wall time of best-of-N: listwise vs pointwise vs pairwise",
        "ra-agents bench cost --sizes 2,4",
    )
    p.add_argument("--sizes", type=_csv_ints, default=[2, 4, 8, 16], help="comma-separated N values (default 2,4,8,16)")
    p.add_argument(
        "--candidates",
        type=Path,
        help='JSON {"principle", "prompt", "candidates": [...]} (default: bundled, 16 candidates)',
    )
    _judge_options(p)
    _common(p)

    from .overhead import TARGETS

    p = _add(
        sub,
        "overhead",
        "the framework's own latency against an instant local upstream (no model)",
        "ra-agents bench overhead --requests 100 --concurrency 1,16",
    )
    p.add_argument("--targets", type=_csv, default=list(TARGETS), help=f"comma-separated (default {','.join(TARGETS)})")
    p.add_argument(
        "--requests", type=_positive, default=300, help="measured requests per target and concurrency (default 300)"
    )
    p.add_argument("--warmup", type=int, default=5, help="unmeasured requests first (default 5)")
    p.add_argument("--candidates", type=_positive, default=4, help="candidates per request (default 4)")
    p.add_argument("--concurrency", type=_csv_ints, default=[1, 16], help="comma-separated (default 1,16)")
    _common(p)

    from .parser import SHAPES

    p = _add(
        sub,
        "parser",
        "verdict parsing time against answer shape and size (no model)",
        "ra-agents bench parser --sizes 64,256",
    )
    p.add_argument("--sizes", type=_csv_ints, default=[64, 256, 1024], help="answer sizes in KiB (default 64,256,1024)")
    p.add_argument("--shapes", type=_csv, default=list(SHAPES), help=f"comma-separated (default {','.join(SHAPES)})")
    p.add_argument("--candidates", type=_positive, default=8, help="N, the candidates the verdict covers (default 8)")
    p.add_argument("--repeats", type=_positive, default=3, help="timed runs per case; the best is reported (default 3)")
    _common(p)

    from .server import TARGET_NAMES as SERVER_TARGETS

    p = _add(
        sub,
        "server",
        "judge server throughput: ra-agents serve vs the reference server and upstream",
        "ra-agents bench server --requests 500 --concurrency 16",
    )
    p.add_argument(
        "--requests", type=_positive, default=2000, help="measured requests per target and concurrency (default 2000)"
    )
    p.add_argument(
        "--concurrency", type=_csv_ints, default=[16, 64], help="concurrent clients, comma-separated (default 16,64)"
    )
    p.add_argument("--candidates", type=_positive, default=4, help="candidates per request (default 4)")
    p.add_argument(
        "--targets",
        type=_csv,
        default=list(SERVER_TARGETS),
        help=f"comma-separated (default {','.join(SERVER_TARGETS)})",
    )
    p.add_argument(
        "--reference-python",
        type=Path,
        help="a Python with rewardanything==1.0.1 installed (default: a virtual environment "
        "created once under the ra-agents cache, bench-reference-venv)",
    )
    _common(p)

    from .cache import STORES

    p = _add(
        sub,
        "forged",
        "how often a candidate that tries to steer the judge wins, and is flagged",
        "ra-agents bench forged -o bench-results",
    )
    p.add_argument("--data", type=Path, help="steering cases JSONL (default: the shipped steering_cases.jsonl)")
    p.add_argument("--permutations", type=_positive, default=2, help="orders judged per case (default 2)")
    _judge_options(p)
    _common(p)

    p = _add(
        sub,
        "cache",
        "verdict cache: judge calls and wall time of a rerun, cold vs warm (no model)",
        "ra-agents bench cache --requests 50",
    )
    p.add_argument("--requests", type=_positive, default=200, help="requests in the batch (default 200)")
    p.add_argument("--candidates", type=_positive, default=4, help="candidates per request (default 4)")
    p.add_argument("--concurrency", type=_positive, default=8, help="requests in flight at once (default 8)")
    p.add_argument("--stores", type=_csv, default=list(STORES), help=f"comma-separated (default {','.join(STORES)})")
    _common(p)

    p = _add(
        sub,
        "ray",
        "rows/s of batch judging on Ray Data (local cluster) vs one process (no model)",
        "ra-agents bench ray --rows 100 --actors 1,2",
    )
    p.add_argument("--rows", type=_positive, default=400, help="requests per run (default 400)")
    p.add_argument("--candidates", type=_positive, default=4, help="candidates per request (default 4)")
    p.add_argument("--actors", type=_csv_ints, default=[1, 2], help="actor counts, comma-separated (default 1,2)")
    p.add_argument("--batch-size", type=_positive, default=50, help="rows per actor call (default 50)")
    p.add_argument(
        "--concurrency", type=_positive, default=16, help="requests in flight per judge and actor (default 16)"
    )
    p.add_argument("--num-cpus", type=_positive, help="CPUs of the local Ray cluster (default: all)")
    _common(p)

    p = _add(
        sub,
        "rl",
        "RL rewards from whole groups: rewards/s and judge calls per group, one sample per request (no model)",
        "ra-agents bench rl --prompts 16 --workers 1,2",
    )
    p.add_argument("--prompts", type=_positive, default=64, help="prompts, i.e. groups (default 64)")
    p.add_argument("--group", type=_positive, default=8, help="samples per prompt (default 8)")
    p.add_argument("--workers", type=_csv_ints, default=[1, 2, 4], help="ra-agents serve worker counts (default 1,2,4)")
    p.add_argument("--threads", type=int, default=8, help="threads calling the reward_func file; 0 skips (default 8)")
    p.add_argument("--group-wait", type=float, default=60.0, help="seconds a group may take to complete (default 60)")
    _common(p)
    return parser


def _make_judge(args: argparse.Namespace) -> Any:
    from ..cli.flags import judge_from_flags

    timeout = args.timeout
    if timeout is None:
        from ..settings import BackendSettings, resolve

        if resolve(BackendSettings)[1]["timeout"] == "default":
            timeout = _BENCH_TIMEOUT
    return judge_from_flags(
        args.model,
        args.api_base,
        backend={"api_key": args.api_key, "timeout": timeout},
        concurrency=args.concurrency,
        seed=args.seed,
        max_tokens=args.max_tokens,
    )


async def _run(args: argparse.Namespace) -> tuple[str, dict[str, Any], str, Any]:
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
    if args.command == "rm-bench":
        from . import rmbench

        data = rmbench.resolve_data_dir(args.data)  # before the judge: a missing data set fails fast
        judge = _make_judge(args)
        results = await rmbench.run_rm_bench(
            judge,
            data_dir=data,
            domains=args.domains,
            limit=args.limit,
            permutations=args.permutations,
            principle=args.principle,
            cells=args.cells,
            seed=args.seed,
            show_progress=show,
        )
        return "rm-bench", results, rmbench.render_markdown(results), rmbench.plot_rm_bench
    judge = _make_judge(args)
    if args.command == "forged":
        from . import forged

        results = await forged.run_forged(
            judge, forged.load_cases(args.data), permutations=args.permutations, show_progress=show
        )
        return "forged", results, forged.render_markdown(results), forged.plot_forged
    if args.command == "listwise":
        from . import listwise

        results = await listwise.run_listwise(
            judge,
            listwise.load_cases(args.data)[: args.limit],
            permutations=args.permutations,
            seed=args.seed,
            show_progress=show,
        )
        return "listwise", results, listwise.render_markdown(results), listwise.plot_listwise
    from . import cost

    results = await cost.run_cost(
        judge,
        sizes=args.sizes,
        candidates=cost.load_candidates(args.candidates) if args.candidates else None,
        seed=args.seed,
        show_progress=show,
    )
    return "cost", results, cost.render_markdown(results), cost.plot_cost


def main(argv: Sequence[str] | None = None) -> int:
    """Run one benchmark subcommand; returns the exit status (0 ok, 2 usage or backend error)."""
    from .report import machine_info, write_outputs

    args = build_parser().parse_args(None if argv is None else list(argv))
    try:
        name, results, markdown, plotter = asyncio.run(_run(args))
    except RAError as exc:
        print(f"ra-agents bench {args.command}: {exc}", file=sys.stderr)
        return 2
    results["machine"] = machine_info()
    results["argv"] = list(sys.argv[1:] if argv is None else argv)
    paths = write_outputs(args.out, name, results, markdown)
    if not args.no_plot:
        png = plotter(results, args.out / f"{name}.png")
        if png is not None:
            paths["png"] = png
    print(markdown)
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0
