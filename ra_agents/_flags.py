"""Command-line flags shared by ``ra-agents`` and ``ra-agents bench``.

A module of its own so that neither command line has to import the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .judge import Judge
from .settings import resolve_backend

__all__ = ["judge_from_flags"]


def judge_from_flags(
    model: str | None, api_base: str | None, *, backend: Mapping[str, Any] | None = None, **options: Any
) -> Judge:
    """The judge that ``--model`` / ``--api-base`` name (shared by ``judge``, ``demo``, ``sweep`` and ``bench``).

    Both go to the one backend resolver (:func:`ra_agents.settings.resolve_backend`), which fills
    in what they leave unset from ``RA_AGENTS_MODEL``/``RA_AGENTS_API_BASE`` and the config file:
    ``--api-base`` alone works when the model is configured, and comma-separated URLs are replicas.

    Args:
        model: a LiteLLM model string; without it, the configured or bundled judge.
        api_base: the server's base URL (or several, comma-separated).
        backend: more backend settings, e.g. ``timeout`` or ``api_key`` (``None`` values: not given).
        **options: keyword arguments of :class:`Judge` (``None`` values: from the judge's settings).

    Returns:
        The judge.

    Raises:
        UsageError: an api_base but no model anywhere, or an invalid setting.
    """
    return Judge(resolve_backend(model, api_base, **(backend or {})), **options)
