"""``ra-agents eval``: how well a judge judges, rerunnable on your own judge.

Subcommands: ``rm-bench`` (RM-Bench accuracy by answer style, position bias), ``listwise``
(agreement with reference rankings), ``forged`` (candidates that try to steer the judge).
Each prints a markdown table and writes ``<name>.json``, ``<name>.md`` and ``<name>.png``
under ``--output``. The judge is ``--model`` (a LiteLLM string) with ``--api-base``, else the
configured or bundled model in-process, as everywhere in the project.

The flag and report helpers here (:func:`add_subcommand`, :func:`add_output_flags`,
:func:`add_judge_flags`, :func:`judge_from_args`, :func:`run_and_report`) are also what the
performance benchmarks of a source checkout (``python -m benchmarks``) build on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from .._errors import RAError, UsageError
from ..settings import comma_list

__all__ = [
    "main",
    "build_parser",
    "bench_alias",
    "MOVED_TO_BENCHMARKS",
    "positive_int",
    "positive_ints",
    "add_subcommand",
    "add_output_flags",
    "add_judge_flags",
    "judge_from_args",
    "run_and_report",
]

Outcome = tuple[str, dict[str, Any], str, Callable[[dict[str, Any], Path], Path | None]]
"""What a run returns: its name, its results, their markdown table and the function that plots them."""

DEFAULT_TIMEOUT = 600.0
"""Seconds per request when neither --timeout nor the settings give one: evaluation batches queue long."""

MOVED_TO_BENCHMARKS = ("cost", "overhead", "parser", "server", "cache", "ray", "rl")
"""The former ``ra-agents bench`` subcommands that are now ``python -m benchmarks NAME`` in a source checkout."""


def positive_int(text: str) -> int:
    """An argparse ``type=``: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_ints(text: str) -> list[int]:
    """An argparse ``type=``: comma-separated integers >= 1, at least one."""
    try:
        values = [int(x) for x in comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _cells(text: str) -> list[tuple[int, int]]:
    from ..evals.rmbench import parse_cells

    try:
        return parse_cells(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_judge_flags(p: argparse.ArgumentParser) -> None:
    """The judge flags of an evaluation: the shared spellings, a fixed seed and a long default timeout.

    The same flags as every other command that builds a judge (:mod:`ra_agents.cli.flags`),
    except ``--permutations``, which each evaluation defines as its own passes, and ``--seed``,
    which defaults to 0 so that reruns are comparable.
    """
    from .flags import add_backend_options

    g = p.add_argument_group("judge")
    add_backend_options(g)
    g.add_argument(
        "--concurrency",
        type=positive_int,
        help="requests in flight at once (default: RA_AGENTS_JUDGE_CONCURRENCY, else 8)",
    )
    g.add_argument("--max-tokens", type=int, help="generation budget per call (default: the judge's own sizing)")
    g.add_argument(
        "--timeout",
        type=float,
        help=f"seconds per model request (default: RA_AGENTS_TIMEOUT, [backend], else {DEFAULT_TIMEOUT:.0f})",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the candidate shuffles (default 0)")


def judge_from_args(args: argparse.Namespace) -> Any:
    """The judge the flags of :func:`add_judge_flags` name."""
    from ..settings import BackendSettings, resolve
    from .flags import judge_from_flags

    timeout = args.timeout
    if timeout is None and resolve(BackendSettings)[1]["timeout"] == "default":
        timeout = DEFAULT_TIMEOUT
    return judge_from_flags(
        args.model,
        args.api_base,
        backend={"api_key": args.api_key, "timeout": timeout},
        concurrency=args.concurrency,
        seed=args.seed,
        max_tokens=args.max_tokens,
    )


def add_output_flags(p: argparse.ArgumentParser) -> None:
    """``-o/--output DIR``, ``--no-progress`` and ``--no-plot``."""
    from .flags import add_hidden_alias

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


def add_subcommand(sub: Any, name: str, helptext: str, example: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` has a description and an example."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=helptext,
        description=helptext[0].upper() + helptext[1:] + ".",
        epilog=f"example:\n  {example}\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ra-agents eval``."""
    from ..evals.rmbench import DEFAULT_PRINCIPLE, DOMAINS

    parser = argparse.ArgumentParser(
        prog="ra-agents eval",
        description="How well a judge judges: each evaluation prints a markdown table and writes NAME.json, "
        "NAME.md and NAME.png under --output (bench-results/).",
        epilog="examples:\n  ra-agents eval listwise\n  ra-agents eval rm-bench --limit 6 --cells 00,02,20 "
        "--model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1\n  ra-agents eval SUBCOMMAND --help\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{rm-bench,listwise,forged}")

    p = add_subcommand(
        sub,
        "rm-bench",
        "RM-Bench accuracy (hard/normal/easy) and position bias",
        "ra-agents eval rm-bench --limit 6 --cells 00,02,20 --model hosted_vllm/rewardanything --api-base http://gpu-box:8000/v1",
    )
    p.add_argument(
        "--data",
        type=Path,
        help="folder with the RM-Bench <domain>.json files (default: "
        "$RA_AGENTS_RMBENCH_DATA, else THU-KEG/RM-Bench from the Hugging Face Hub, downloaded once "
        "into $RA_AGENTS_CACHE/rm-bench, ~/.cache/ra-agents/rm-bench by default)",
    )
    p.add_argument(
        "--domains", type=comma_list, default=list(DOMAINS), help=f"comma-separated (default {','.join(DOMAINS)})"
    )
    p.add_argument("--limit", type=positive_int, help="items per domain (default all; each item is 9 pair requests)")
    p.add_argument(
        "--cells",
        type=_cells,
        default="all",
        help="style pairs to judge, chosen then rejected style "
        "(0 concise, 1 detailed, 2 markdown), e.g. 00,02,20 (default all nine)",
    )
    p.add_argument(
        "--permutations",
        type=positive_int,
        default=2,
        help="passes per pair over different orders (default 2: both orders)",
    )
    p.add_argument(
        "--principle",
        default=DEFAULT_PRINCIPLE,
        help="the judging principle (default: correctness and safety first, style irrelevant)",
    )
    add_judge_flags(p)
    add_output_flags(p)

    p = add_subcommand(
        sub,
        "listwise",
        "Kendall tau, NDCG, pairwise accuracy against reference rankings (JSONL)",
        "ra-agents eval listwise --limit 2",
    )
    p.add_argument("--data", type=Path, help="JSONL cases (default: the bundled 4-case sample; format: BENCHMARKS.md)")
    p.add_argument("--limit", type=positive_int, help="the first N cases only (default all)")
    p.add_argument(
        "--permutations", type=positive_int, default=2, help="passes per case over different orders (default 2)"
    )
    add_judge_flags(p)
    add_output_flags(p)

    p = add_subcommand(
        sub,
        "forged",
        "how often a candidate that tries to steer the judge wins, and is flagged",
        "ra-agents eval forged -o bench-results",
    )
    p.add_argument("--data", type=Path, help="steering cases JSONL (default: the shipped steering_cases.jsonl)")
    p.add_argument("--permutations", type=positive_int, default=2, help="orders judged per case (default 2)")
    add_judge_flags(p)
    add_output_flags(p)
    return parser


async def _run(args: argparse.Namespace) -> Outcome:
    show = not args.no_progress
    if args.command == "rm-bench":
        from ..evals import rmbench

        data = rmbench.resolve_data_dir(args.data)  # before the judge: a missing data set fails fast
        results = await rmbench.run_rm_bench(
            judge_from_args(args),
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
    if args.command == "forged":
        from ..evals import forged

        results = await forged.run_forged(
            judge_from_args(args), forged.load_cases(args.data), permutations=args.permutations, show_progress=show
        )
        return "forged", results, forged.render_markdown(results), forged.plot_forged
    from ..evals import listwise

    results = await listwise.run_listwise(
        judge_from_args(args),
        listwise.load_cases(args.data)[: args.limit],
        permutations=args.permutations,
        seed=args.seed,
        show_progress=show,
    )
    return "listwise", results, listwise.render_markdown(results), listwise.plot_listwise


def run_and_report(
    prog: str,
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Outcome]],
) -> int:
    """Run ``run(args)``, then print its table and write its JSON, markdown and plot under ``args.out``.

    Returns:
        The exit status: 0, or 2 after printing a usage or backend error as ``PROG COMMAND: message``.
    """
    from ..evals.report import machine_info, write_outputs

    try:
        name, results, markdown, plotter = asyncio.run(run(args))
    except RAError as exc:
        print(f"{prog} {args.command}: {exc}", file=sys.stderr)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one evaluation; returns the exit status (0 ok, 2 usage or backend error)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    return run_and_report("ra-agents eval", args, argv, _run)


def bench_alias(argv: Sequence[str]) -> int:
    """``ra-agents bench ...``, the name before ``ra-agents eval``: kept for one release.

    An evaluation runs as ``ra-agents eval`` after a one-line deprecation note on stderr; a
    performance benchmark is refused with where it went (``python -m benchmarks NAME`` in a
    source checkout).
    """
    argv = list(argv)
    name = argv[0] if argv else ""
    if name in MOVED_TO_BENCHMARKS:
        print(
            f"ra-agents bench {name}: the performance benchmarks are not installed with ra-agents; "
            f"in a source checkout run: python -m benchmarks {name} (see BENCHMARKS.md)",
            file=sys.stderr,
        )
        return 2
    shown = f"ra-agents eval {name}".rstrip() if name and not name.startswith("-") else "ra-agents eval"
    print(
        f"ra-agents bench is deprecated and goes in the next release: use {shown} "
        f"(the performance benchmarks: python -m benchmarks, in a source checkout)",
        file=sys.stderr,
    )
    return main(argv or ["--help"])
