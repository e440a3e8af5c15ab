"""Judge-quality evaluations you run on your own judge: RM-Bench, listwise references, steering candidates.

Run them with ``ra-agents eval <subcommand>`` (``rm-bench``, ``listwise``, ``forged``); see
BENCHMARKS.md for what each measures and the figures of the bundled and served models.
:func:`main` is the entry point; :mod:`ra_agents.evals.metrics` and
:mod:`ra_agents.evals.report` hold the metrics and the table, JSON and plot writers they share
with calibration.
"""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``ra-agents eval`` with ``argv`` (see :mod:`ra_agents.evals.cli`)."""
    from .cli import main as _main

    return _main(argv)
