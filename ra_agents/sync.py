"""Run the async core from synchronous code."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ._errors import UsageError

__all__ = ["close_at_exit", "run_sync", "sync_loop"]

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


_closers: list[Callable[[], Awaitable[Any]]] = []


def close_at_exit(aclose: Callable[[], Awaitable[Any]]) -> None:
    """Run ``aclose()`` on the sync portal's loop when the interpreter exits.

    For a loop-bound client (an HTTP session) made on the portal: the portal never stops, so
    without this the client is never closed, and its library warns at exit ("Unclosed client
    session"), which reads as a failure.
    """
    with _portal_lock:
        if not _closers:
            atexit.register(_close_all)
        _closers.append(aclose)


def _close_all() -> None:
    loop = _portal
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def close() -> None:
        await asyncio.gather(*(aclose() for aclose in _closers), return_exceptions=True)

    with contextlib.suppress(Exception):  # exiting: nothing to report to
        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)


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
