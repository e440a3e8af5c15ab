"""Performance benchmarks of ra-agents, run from a source checkout; not part of the installed package.

``python -m benchmarks NAME [options]`` from the project root, NAME one of ``cost``, ``overhead``,
``parser``, ``server``, ``cache``, ``ray``, ``rl`` (``python -m benchmarks --help``); each prints a
markdown table and writes ``NAME.json``, ``NAME.md`` and ``NAME.png`` under ``--output``. They
use the public API (``ra_agents``, ``ra_agents.testing`` for the loopback upstream) and the
table writers of :mod:`ra_agents.evals.report`. BENCHMARKS.md has the figures and the commands.
"""

__all__: list[str] = []
