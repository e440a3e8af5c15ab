"""``ra-agents principles``: browse the principle library.

ra-agents principles list [--category C] [--json]   every principle: id, category, summary
ra-agents principles show ID [--json]               one principle's metadata and the text the judge reads
ra-agents principles search QUERY [--json]          principles matching QUERY, best first

Each takes ``--library FILE`` (a .toml or .jsonl file in the library's format) to use
your own library instead of the shipped one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .._errors import RAError, UsageError
from ..principles import Library, Principle, default_library, load

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``ra-agents principles`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--library", metavar="FILE", help="your own library (.toml or .jsonl) instead of the shipped one"
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser = argparse.ArgumentParser(
        prog="ra-agents principles",
        description="Browse the principle library: ready principles to pass to the judge by id.",
        epilog="examples:\n  ra-agents principles list --category safety\n  ra-agents principles show concise\n"
        "  ra-agents principles search citation\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, helptext: str, description: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=helptext,
            description=description,
            epilog=f"example:\n  {example}\n",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    listing = action(
        "list",
        "every principle: id, category and summary",
        "Every principle of the library: its id (what --principle and Principle ids take), category and summary.",
        "ra-agents principles list --category tone",
    )
    listing.add_argument("--category", "-c", help="only this category (content, structure, tone, ..., composite)")
    listing.set_defaults(run=_list)
    show = action(
        "show",
        "one principle's metadata and rendered text",
        "One principle's metadata and the text the judge reads for it.",
        "ra-agents principles show accuracy-then-brevity --json",
    )
    show.add_argument("id", metavar="ID")
    show.set_defaults(run=_show)
    find = action(
        "search",
        "principles matching a word, tag or phrase, best first",
        "Principles whose id, tags, summary or text match the query, best first.",
        "ra-agents principles search honest uncertainty",
    )
    find.add_argument("query", nargs="+", metavar="QUERY")
    find.set_defaults(run=_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ra-agents principles``; returns the exit code (0 ok, 1 no match, 2 usage)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    try:
        return int(args.run(args))
    except RAError as exc:
        print(f"ra-agents: error: {exc}", file=sys.stderr)
        return 2


def _library(args: argparse.Namespace) -> Library:
    return load(args.library) if args.library else default_library()


def _list(args: argparse.Namespace) -> int:
    library = _library(args)
    entries = list(library)
    if args.category:
        wanted = args.category.strip().casefold()
        entries = [p for p in entries if (p.category or "").casefold() == wanted]
        if not entries:
            raise UsageError(
                f"no principles in category {args.category!r}; categories: {', '.join(library.categories())}"
            )
    _print_entries(entries, as_json=args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    p = _library(args).get(args.id)
    if args.json:
        _print_json({**p.to_dict(), "rendered": p.render()})
        return 0
    print(f"id:       {p.id}")
    print(f"category: {p.category or '-'}")
    print(f"tags:     {', '.join(p.tags) or '-'}")
    print(f"summary:  {p.summary or '-'}")
    print()
    print(p.render())
    return 0


def _search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    found = _library(args).search(query)
    if not found and not args.json:
        print(f"no principle matches {query!r}; `ra-agents principles list` shows them all", file=sys.stderr)
        return 1
    _print_entries(found, as_json=args.json)
    return 0 if found else 1


def _print_entries(entries: Sequence[Principle], *, as_json: bool) -> None:
    if as_json:
        _print_json([p.to_dict() for p in entries])
        return
    id_width = max((len(p.id or "") for p in entries), default=0)
    category_width = max((len(p.category or "-") for p in entries), default=0)
    for p in entries:
        print(f"{p.id or '':<{id_width}}  {p.category or '-':<{category_width}}  {p.summary}".rstrip())


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))
