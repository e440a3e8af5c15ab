"""The configured backend and settings as plain dicts: thin wrappers over :mod:`ra_agents.settings`.

Precedence, variables and the config file are described in :mod:`ra_agents.settings`
(``ra-agents config`` prints what is in effect). The main variables::

    RA_AGENTS_MODEL     a LiteLLM model string, e.g. ``hosted_vllm/rewardanything``;
                        unset (and no config file) means the bundled model in-process
    RA_AGENTS_API_BASE  the server's base URL; several comma-separated URLs become
                        replicas behind a LiteLLM Router
    RA_AGENTS_API_KEY   the server's key, if any
    RA_AGENTS_TIMEOUT   seconds per request (default 120)
    RA_AGENTS_JUDGE_*   the judge's settings (RA_AGENTS_JUDGE_PERMUTATIONS=2, ...)
    RA_AGENTS_SERVER_*  the server's settings (RA_AGENTS_SERVER_MAX_BATCH=64, ...)
    RA_AGENTS_CONFIG    a TOML config file (default ``ra-agents.toml`` in the working
                        folder, when present) with [backend], [judge] and [server] tables
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._types import Backend
from .settings import BackendSettings, JudgeSettings, ServerSettings, resolve, resolve_backend

__all__ = ["load_config", "backend_from_config"]


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The effective settings by table (``backend``, ``judge``, ``server``): environment over the file.

    Args:
        path: the TOML file (default ``RA_AGENTS_CONFIG``, else ``./ra-agents.toml`` when present).

    Returns:
        One dict per table holding the settings that are set (not the defaults); the backend's
        ``api_base`` is one URL, or a list when there are several replicas.
    """
    config: dict[str, Any] = {}
    for cls in (BackendSettings, JudgeSettings, ServerSettings):
        settings, origin = resolve(cls, config_path=path)
        config[cls.table] = {k: v for k, v in settings.model_dump().items() if origin[k] != "default"}
    bases = config["backend"].get("api_base")
    if bases is not None:
        config["backend"]["api_base"] = bases[0] if len(bases) == 1 else bases
    return config


def backend_from_config(config: dict[str, Any] | None = None) -> Backend:
    """The configured backend (see :func:`ra_agents.settings.resolve_backend`), else the bundled model."""
    return resolve_backend(**(config["backend"] if config is not None else {}))
