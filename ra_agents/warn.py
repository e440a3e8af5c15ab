"""Warnings that point at the user's line, not at ra-agents' own.

A warning raised deep inside ra-agents (a deprecated argument read by a helper two calls below
the function the user called) is attributed by ``warnings.warn`` to whatever frame its
``stacklevel`` counts to. A fixed count drifts as helpers move, and a wrong one hides the
warning: Python shows a :class:`DeprecationWarning` by default only when it is attributed to
``__main__``. :func:`warn_at_caller` attributes it to the first frame outside the package
(adapters and graphs included: they are imported as ``ra_agents.*``), however deep the call.
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["warn_at_caller"]

_PACKAGE = __name__.partition(".")[0]


def _ours(module: str) -> bool:
    return module == _PACKAGE or module.startswith(_PACKAGE + ".")


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first caller outside ra-agents.

    Example:
        >>> warn_at_caller("record_errors is deprecated; use on_judge_error='raise'", DeprecationWarning)
    """
    frame = sys._getframe(1)  # who called this
    level = 2  # stacklevel 2 names that frame; each step back adds one
    while frame.f_back is not None and _ours(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
