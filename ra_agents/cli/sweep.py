"""``ra-agents sweep``: judge a JSONL file of cases under many principles.

Kept out of ``cli.py`` so that the command line's main module stays a dispatcher.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .._errors import UsageError
from .._jsonl import jsonl_rows, read_input
from .._types import JudgeResult
from ..evals.report import progress
from ..principles import Principle, PrincipleLike
from ..settings import comma_list
from ..sweep import SweepCase, _require_matplotlib, sweep
from .flags import add_hidden_alias, add_principle_items, judge_from_flags, judge_keywords

__all__ = ["add_arguments", "run", "read_cases", "resolve_principles"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The sweep's own flags (the judge options are added by the caller)."""
    add_principle_items(
        p, help="a principle to compare (repeat): a library id (ra-agents principles list), or NAME=TEXT inline"
    )
    # --principles ID,ID,... was the comma-list spelling: still read, hidden, for one release.
    add_hidden_alias(p, "--principles", "principle_items", type=comma_list, action="extend")
    p.add_argument("-i", "--input", required=True, help="cases, one JSON object per line (.jsonl); - for stdin")
    p.add_argument("-o", "--output", help="write the JSON report here")
    p.add_argument("--markdown", help="write the markdown report here (default: print it to stdout)")
    p.add_argument("--png", help="write a heatmap of the agreement matrix here (needs the 'eval' extra)")


def run(args: argparse.Namespace) -> int:
    """Run a sweep from parsed flags; 0 when everything was judged, 1 when some judgements failed."""
    principles = resolve_principles(args.principle_items)
    cases = read_cases(args.input)
    if args.png:
        _require_matplotlib()  # before any judging, not after
    # with --cache, a sweep rerun with one more principle judges only the new column
    judge = judge_from_flags(args.model, args.api_base, **judge_keywords(args))
    total = len(cases) * len(principles)
    started = time.perf_counter()
    with progress(total, "sweeping") as advance:
        report = sweep(judge, principles, cases, on_result=lambda *_: advance(1))

    markdown = report.to_markdown()
    if args.output:
        _write(args.output, report.to_json(indent=2) + "\n")
    if args.markdown:
        _write(args.markdown, markdown)
    else:
        sys.stdout.write(markdown)
    if args.png:
        report.save_heatmap(args.png)
    failed = len(report.failures)
    tokens = sum(
        item.usage.total_tokens
        for per_case in report.results.values()
        for item in per_case.values()
        if isinstance(item, JudgeResult)
    )
    print(
        f"swept {len(cases)} cases x {len(principles)} principles: {total - failed} judged, {failed} failed, "
        f"{tokens} tokens, {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0 if not failed else 1


def resolve_principles(items: list[str]) -> dict[str, PrincipleLike]:
    """name -> principle from ``NAME=TEXT`` items (inline text) and bare library ids.

    Raises:
        UsageError: no items, an empty name or text, a repeated name, an unknown id.
    """
    if not items:
        raise UsageError(
            "give the principles to compare, one --principle each: a library id (ra-agents principles list) "
            'or NAME=TEXT, e.g. --principle concise --principle "brief=Prefer the shortest answer."'
        )
    out: dict[str, PrincipleLike] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if sep:
            if not name or not text.strip():
                raise UsageError(f"a principle takes NAME=TEXT with both parts non-empty, got {item!r}")
            principle: PrincipleLike = text.strip()
        else:
            principle = _library_principle(name)
        if name in out:
            raise UsageError(f"principle {name!r} is given twice; names must be unique")
        out[name] = principle
    return out


def read_cases(path: str) -> list[SweepCase]:
    """Cases from a JSONL file (``-`` for stdin); a case without an id is named by its line number.

    Raises:
        UsageError: a missing file, an empty one, or a bad line (named by its number).
    """
    text, name = read_input(path, "cases file")
    cases: list[SweepCase] = []
    seen: dict[str, int] = {}
    for lineno, data in jsonl_rows(text, name):
        try:
            case = SweepCase.from_dict(data, default_id=str(lineno))
        except UsageError as exc:
            raise UsageError(f"{name} line {lineno}: {exc}") from None
        if case.id in seen:
            raise UsageError(f"{name} line {lineno}: case id {case.id!r} is already used on line {seen[case.id]}")
        seen[case.id] = lineno
        cases.append(case)
    if not cases:
        raise UsageError(f"{name} holds no cases; write one JSON object per line: {{id, prompt, responses}}")
    return cases


def _library_principle(principle_id: str) -> Principle:
    """A principle from the library by id (the library is imported only when an id is given)."""
    if not principle_id:
        raise UsageError("an empty principle id; give a library id or NAME=TEXT")
    from .. import principles as library

    return library.get(principle_id)


def _write(path: str, text: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
