"""The judge as a service: ``ra-agents serve`` (FastAPI on uvicorn).

Install with ``pip install 'ra-agents[server]'``. See :mod:`ra_agents.remote.server.app` for the
endpoints and :class:`~ra_agents.remote.server.settings.ServerSettings` for the configuration.
"""

from __future__ import annotations

from typing import Any

from .settings import ServerSettings, settings_from_sources

__all__ = ["ServerSettings", "settings_from_sources", "create_app", "serve"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the FastAPI app (see :func:`ra_agents.remote.server.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


def serve(settings: ServerSettings) -> None:
    """Run the server in this process until SIGTERM or Ctrl-C (uvicorn).

    In-flight requests get ``graceful_timeout_s`` to finish after SIGTERM. Without an API key
    on a non-loopback host the server binds 127.0.0.1 and says so (see
    :meth:`ServerSettings.secured`).
    """
    import os
    import sys

    import uvicorn

    from .settings import SETTINGS_ENV, settings_to_env

    settings, notice = settings.secured()
    if notice:
        print(f"ra-agents serve: {notice}", file=sys.stderr)
    if not settings.api_keys:
        print("ra-agents serve: no API key configured; every client on this host can call the judge", file=sys.stderr)
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    stop_owner = _start_group_owner(settings) if settings.workers > 1 else None
    try:
        uvicorn.run(
            "ra_agents.remote.server.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            access_log=False,
            timeout_graceful_shutdown=int(settings.graceful_timeout_s),
            log_level="info",
        )
    finally:
        if stop_owner is not None:
            stop_owner()


def _start_group_owner(settings: ServerSettings) -> Any:
    """Several workers: one thread of this process holds every reward group (see :mod:`.groups`).

    Workers find its Unix socket (in a private temporary folder) in ``GROUP_OWNER_ENV``.
    Returns the function that stops it.
    """
    import contextlib
    import os
    import tempfile

    from ..._errors import UsageError
    from .app import group_owner_buffer
    from .groups import GROUP_OWNER_ENV, start_group_owner

    if not hasattr(os, "fork") or os.name == "nt":  # no Unix sockets for asyncio
        raise UsageError(
            "--workers above 1 needs Unix domain sockets (one process holds every reward group); "
            "run one worker on this platform"
        )
    path = os.path.join(tempfile.mkdtemp(prefix="ra-agents-groups-"), "owner.sock")
    stop = start_group_owner(lambda: group_owner_buffer(settings), path)
    os.environ[GROUP_OWNER_ENV] = path

    def stop_and_clean() -> None:
        stop()
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))

    return stop_and_clean
