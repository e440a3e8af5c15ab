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

from ._errors import RAError, UsageError
from .principle import Principle
from .principles import Library, default_library, load

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
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", parents=[common], help="every principle: id, category and summary")
    listing.add_argument("--category", "-c", help="only this category (content, structure, tone, ..., composite)")
    listing.set_defaults(run=_list)
    show = sub.add_parser("show", parents=[common], help="one principle's metadata and rendered text")
    show.add_argument("id", metavar="ID")
    show.set_defaults(run=_show)
    find = sub.add_parser("search", parents=[common], help="principles matching a word, tag or phrase, best first")
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
