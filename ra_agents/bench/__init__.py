"""Benchmarks: judgement quality (RM-Bench, listwise references), position bias, cost and overhead.

Run them with ``ra-agents bench <subcommand>`` or ``python -m ra_agents.bench``;
see BENCHMARKS.md. :func:`ra_agents.bench.cli.main` is the entry point.
"""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``ra-agents bench`` with ``argv`` (see :mod:`ra_agents.bench.cli`)."""
    from .cli import main as _main

    return _main(argv)
