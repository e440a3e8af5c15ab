"""Command-line flags shared by ``ra-agents`` and ``ra-agents bench``.

A module of its own so that neither command line has to import the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import UsageError
from .judge import Judge

__all__ = ["judge_from_flags"]


def judge_from_flags(
    model: str | None, api_base: str | None, *, backend: Mapping[str, Any] | None = None, **options: Any
) -> Judge:
    """The judge that ``--model`` / ``--api-base`` name (shared by ``judge``, ``demo`` and ``bench``).

    Args:
        model: a LiteLLM model string; without it, the configured or bundled judge.
        api_base: the server's base URL; only meaningful with ``model``.
        backend: extra settings of the LiteLLM backend, e.g. ``timeout`` or ``api_key``.
        **options: keyword arguments of :class:`Judge`.

    Returns:
        The judge.

    Raises:
        UsageError: ``api_base`` without ``model``.
    """
    if model:
        return Judge.from_litellm(model, api_base=api_base, **(backend or {}), **options)
    if api_base:
        raise UsageError("--api-base needs --model too, e.g. --model hosted_vllm/rewardanything")
    return Judge(**options)
