"""The ``ra-agents`` command line: one module per command family.

- :mod:`.commands`: the entry point (``main``) and the judge, demo, serve, vllm and config commands;
- :mod:`.flags`: the judge options every command shares, and the judge they build;
- :mod:`.sweep`, :mod:`.calibrate`, :mod:`.principles`: those commands.
"""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
