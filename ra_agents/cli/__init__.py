"""The ``ra-agents`` command line: one module per command family.

- :mod:`.commands`: the entry point (``main``) and the judge, demo, serve, vllm and config commands;
- :mod:`.flags`: the judge options every command shares, and the judge they build;
- :mod:`.sweep`, :mod:`.calibrate`, :mod:`.principles`, :mod:`.eval`: those commands.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ra-agents`` with ``argv`` (default: the process's arguments); returns the exit status.

    The commands are imported here, not with the package, so that importing one module of it
    (the shared judge flags) loads no command.
    """
    from .commands import main as run

    return run(argv)
