"""``ra-agents calibrate``: measure the judge against labelled cases, and pick the principle that agrees best.

Kept out of ``cli.py`` so that the command line's main module stays a dispatcher.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import RAError, UsageError

__all__ = ["add_parser", "add_arguments", "run"]

_DESCRIPTION = """\
Judge labelled cases and report how far the judge agrees with the labels: accuracy,
precision/recall and false-pass rate of the pass decision, Cohen's kappa, Kendall tau-b,
pair accuracy and the position-bias rate, Krippendorff's alpha among repeated judges, each
with a bootstrap confidence interval; a threshold table and the threshold suggested for a
false-pass target. With several --principle, which one agrees best, and whether the
difference is real (paired bootstrap)."""

_EXAMPLES = """\
examples:
  ra-agents calibrate -i labels.jsonl --principle helpful-and-harmless --principle "concise=Prefer short answers."
  ra-agents calibrate -i labels.jsonl --max-false-pass 0.02 --markdown report.md --png report.png
  ra-agents calibrate --rm-bench DIR --limit 6 --cells 00,02,20 --model hosted_vllm/rewardanything \\
      --api-base http://gpu-box:8000/v1
  ra-agents calibrate --langsmith-dataset support-labels          (LANGSMITH_API_KEY set)
  ra-agents calibrate --langsmith-project my-experiment --feedback-key correctness
"""


def add_parser(sub: Any, judge_options: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Register ``calibrate`` on ``ra-agents``'s subparsers (``judge_options`` adds --model, --api-base ...)."""
    from ..calibration import labels

    p = sub.add_parser(
        "calibrate",
        help="measure the judge against labelled cases; compare principles on them",
        description=_DESCRIPTION,
        epilog="labels file (JSONL):\n" + _indent((labels.__doc__ or "").partition("\n\n")[2]) + "\n\n" + _EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    judge_options(p)
    p.set_defaults(run=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The calibration's own flags."""
    from .flags import add_principle_items

    source = p.add_argument_group("labels (one source)")
    source.add_argument("-i", "--input", help="labelled cases, one JSON object per line (.jsonl); - for stdin")
    source.add_argument(
        "--rm-bench", metavar="DIR", help="RM-Bench <domain>.json files, judged as chosen/rejected pairs"
    )
    source.add_argument("--limit", type=int, help="--rm-bench: the first N items of each domain")
    source.add_argument("--cells", default="00,02,20", help="--rm-bench: style cells (default 00,02,20; 'all' for 9)")
    source.add_argument("--domains", help="--rm-bench: comma-separated domains (default: all four)")
    source.add_argument(
        "--langsmith-dataset", metavar="NAME", help="a LangSmith dataset whose examples hold the labels"
    )
    source.add_argument("--langsmith-project", metavar="NAME", help="a LangSmith project whose runs carry feedback")
    source.add_argument("--feedback-key", help="--langsmith-project: the feedback key of the human label")
    add_principle_items(
        p,
        help="a principle to judge under (repeat to compare): a library id, or NAME=TEXT inline; "
        "default: each case's own principle",
    )
    p.add_argument("--threshold", type=float, default=0.5, help="the judge's pass line on the unit score (0.5)")
    p.add_argument(
        "--label-threshold",
        type=float,
        default=0.5,
        help="a human score's pass line, as a unit score (0.5: a 3 on 1-5)",
    )
    p.add_argument(
        "--max-false-pass", type=float, default=0.02, help="false-pass target of the suggested threshold (0.02)"
    )
    p.add_argument("--single-order", action="store_true", help="judge pairs in one order only (no position-bias rate)")
    p.add_argument("--repeats", type=int, default=1, help="judge every case N times with seeds (a panel): alpha")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, help="the bootstrap's seed (0)")
    p.add_argument("-o", "--output", help="write the JSON report here")
    p.add_argument("--markdown", help="write the markdown report here (default: print it to stdout)")
    p.add_argument("--png", help="write the plot here (needs matplotlib, the 'eval' extra; skipped without it)")


def run(args: argparse.Namespace) -> int:
    """Calibrate from parsed flags; 0 when every case was judged, 1 when some failed."""
    from ..calibration import calibrate
    from ..evals.report import progress
    from ..judging import Judging
    from ..panel import Panel
    from .flags import judge_from_flags, judge_keywords
    from .sweep import _write, resolve_principles

    cases = _read_cases(args)
    principles = resolve_principles(args.principle_items) if args.principle_items else None
    if args.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
    judge: Judging = judge_from_flags(args.model, args.api_base, **judge_keywords(args))
    if args.repeats > 1:
        base = 0 if args.seed is None else args.seed
        judge = Panel.repeat(judge, [base + i for i in range(args.repeats)])
    total = len(cases) * (len(principles) if principles else 1)
    started = time.perf_counter()
    with progress(total, "calibrating") as advance:
        report = calibrate(
            judge,
            cases,
            principles=principles,
            threshold=args.threshold,
            label_threshold=args.label_threshold,
            max_false_pass=args.max_false_pass,
            both_orders=not args.single_order,
            resamples=args.resamples,
            seed=args.bootstrap_seed,
            on_result=lambda *_: advance(1),
        )
    markdown = report.to_markdown()
    if args.output:
        _write(args.output, report.to_json(indent=2) + "\n")
    if args.markdown:
        _write(args.markdown, markdown)
    else:
        sys.stdout.write(markdown)
    if args.png and report.save_plot(args.png) is None:
        print("no plot: matplotlib is not installed (pip install 'ra-agents[eval]')", file=sys.stderr)
    failed = sum(len(p.failures) for p in report.principles)
    tokens = sum(
        o.result.usage.total_tokens for p in report.principles for o in p.outcomes if not isinstance(o.result, RAError)
    )
    print(
        f"calibrated on {len(cases)} cases x {len(report.principles)} principle(s): {total - failed} judged, "
        f"{failed} failed, {tokens} tokens, {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0 if not failed else 1


def _read_cases(args: argparse.Namespace) -> list[Any]:
    from ..calibration import labels_from_langsmith, labels_from_rm_bench, read_labels

    given = [f for f, v in (("--input", args.input), ("--rm-bench", args.rm_bench)) if v]
    if args.langsmith_dataset or args.langsmith_project:
        given.append("--langsmith-*")
    if len(given) != 1:
        raise UsageError(
            "give one source of labels: --input FILE, --rm-bench DIR, --langsmith-dataset NAME, "
            f"or --langsmith-project NAME --feedback-key KEY (got {', '.join(given) or 'none'})"
        )
    if args.input:
        return list(read_labels(args.input))
    if args.rm_bench:
        from ..evals.rmbench import parse_cells
        from ..settings import comma_list

        try:
            cells = parse_cells(args.cells)
        except UsageError as exc:
            raise UsageError(f"--cells: {exc}") from None
        domains = comma_list(args.domains) or None
        return list(labels_from_rm_bench(Path(args.rm_bench), domains=domains, limit=args.limit, cells=cells))
    return list(
        labels_from_langsmith(
            dataset_name=args.langsmith_dataset,
            project_name=args.langsmith_project,
            feedback_key=args.feedback_key,
        )
    )


def _indent(text: str) -> str:
    """A docstring section for ``--help``: indented, without its reStructuredText backticks."""
    text = text.replace("``", "")
    return "\n".join(("  " + line) if line.strip() else "" for line in text.strip().splitlines())
