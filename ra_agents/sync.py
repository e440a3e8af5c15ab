"""Run the async core from synchronous code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._errors import UsageError

__all__ = ["run_sync", "sync_loop"]

T = TypeVar("T")

_portal_lock = threading.Lock()
_portal: asyncio.AbstractEventLoop | None = None


def _portal_loop() -> asyncio.AbstractEventLoop:
    """One long-lived event loop in a daemon thread, shared by every sync call.

    A fixed loop (rather than ``asyncio.run`` per call) lets backends keep
    loop-bound clients, such as HTTP connection pools, across sync calls.
    """
    global _portal
    with _portal_lock:
        if _portal is None or _portal.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ra-agents-sync", daemon=True).start()
            _portal = loop
        return _portal


def sync_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop sync calls run on, once one has run (backends with loop-bound state ask)."""
    return _portal


def run_sync(coro: Coroutine[Any, Any, T], *, async_name: str) -> T:
    """Run ``coro`` to completion from synchronous code.

    Raises:
        UsageError: called from a thread that runs an event loop, where blocking would
            stall it; the message names the ``async_name`` method to await instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise UsageError(
            f"this sync method was called inside a running event loop; use `await {async_name}(...)` instead"
        )
    return asyncio.run_coroutine_threadsafe(coro, _portal_loop()).result()
