"""Judge-quality evaluations you run on your own judge: RM-Bench, listwise references, steering candidates.

Run them with ``ra-agents eval <subcommand>`` (``rm-bench``, ``listwise``, ``forged``; the
command line is :mod:`ra_agents.cli.eval`); see BENCHMARKS.md for what each measures and the
figures of the bundled and served models. :mod:`ra_agents.evals.metrics` and
:mod:`ra_agents.evals.report` hold the metrics and the table, JSON and plot writers they share
with calibration.
"""

__all__: list[str] = []
