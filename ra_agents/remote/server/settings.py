"""Settings of ``ra-agents serve``: flags, then ``RA_AGENTS_SERVER_*``, then the ``[server]`` table.

:class:`ServerSettings` lives in :mod:`ra_agents.settings`, the one settings layer, beside the
judge's and the backend's; this module resolves it for the server and carries it to workers.
"""

from __future__ import annotations

import json
from typing import Any

from ...settings import ServerSettings, resolve

__all__ = ["ServerSettings", "settings_from_sources", "settings_to_env", "SETTINGS_ENV"]

SETTINGS_ENV = "RA_AGENTS_SERVER_SETTINGS"
"""Carries the resolved settings (JSON) to worker processes."""


def settings_from_sources(flags: dict[str, Any] | None = None, *, config_path: str | None = None) -> ServerSettings:
    """Resolve settings: ``flags`` (non-None values) over ``RA_AGENTS_SERVER_*`` over the TOML ``[server]`` table.

    Raises:
        UsageError: a setting is invalid (the message names it and where it came from).
    """
    return resolve(ServerSettings, flags, config_path=config_path)[0]


def settings_to_env(settings: ServerSettings) -> str:
    """The settings as the JSON a worker process reads from :data:`SETTINGS_ENV`."""
    return json.dumps(settings.model_dump())
