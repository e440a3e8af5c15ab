"""Whole groups across server workers: one owner holds every group, the workers forward to it.

With several workers, each worker's :class:`~ra_agents.groups.GroupBuffer` would see a
fragment of a group. ``ra-agents serve --workers N`` therefore runs ONE :class:`GroupOwner`
(a thread of the supervising process, listening on a private Unix socket) that holds every
group and makes the judge calls (concurrently); every worker forwards its samples to it
through :class:`RemoteGroups`. Workers still parse, check and answer the HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from ..._errors import (
    INCOMPLETE_LIMIT,
    INCOMPLETE_STATUS,
    BackendError,
    BackendUnavailable,
    RAError,
    error_from_dict,
    error_to_dict,
)
from ...groups import GroupBuffer, SampleReward

__all__ = [
    "GROUP_OWNER_ENV",
    "INCOMPLETE_LIMIT",
    "INCOMPLETE_STATUS",
    "GroupOwner",
    "RemoteGroups",
    "start_group_owner",
]

GROUP_OWNER_ENV = "RA_AGENTS_SERVER_GROUP_OWNER"
"""The Unix socket of the group owner, set by ``ra-agents serve`` for its workers."""

_LINE_LIMIT = 1 << 26  # one forwarded sample per line: up to the server's own body limits


# ------------------------------------------------------------ one owner, many workers


class GroupOwner:
    """Serves a :class:`GroupBuffer` on a Unix socket: the one place a group's samples meet.

    The protocol is one JSON object per line each way. A worker sends
    ``{"id", "principle", "prompt", "response", "group", "size"}``; the owner answers
    ``{"id", "reward", "score", "group_size", "wait_s"}`` or ``{"id", "error": {...}}``
    (:func:`~ra_agents.error_to_dict`) once the sample's group is judged or failed.
    """

    def __init__(self, buffer: GroupBuffer, path: str) -> None:
        self.buffer = buffer
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen on :attr:`path` (readable and writable by this user only)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=_LINE_LIMIT)
        os.chmod(self.path, 0o600)

    async def aclose(self) -> None:
        """Stop listening, fail what is incomplete, wait for the groups being judged."""
        if self._server is not None:
            self._server.close()
        await self.buffer.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def answer(rid: Any, future: asyncio.Future[SampleReward]) -> None:
            exc = future.exception()
            if exc is None:
                reply: dict[str, Any] = {"id": rid, **asdict(future.result())}
            else:
                error = exc if isinstance(exc, RAError) else BackendError(f"{type(exc).__name__}: {exc}")
                reply = {"id": rid, "error": error_to_dict(error)}
            if not writer.is_closing():
                writer.write(json.dumps(reply).encode() + b"\n")

        try:
            while line := await reader.readline():
                msg = json.loads(line)
                future = self.buffer.add(
                    msg["principle"], msg["prompt"], msg["response"], group=msg.get("group"), size=msg.get("size")
                )
                future.add_done_callback(functools.partial(answer, msg["id"]))
        except (ConnectionError, ValueError, KeyError):
            pass  # a worker went away or spoke nonsense: its samples' answers are dropped with it
        finally:
            writer.close()


class RemoteGroups:
    """A worker's side of the :class:`GroupOwner`: forwards each sample, awaits its reward.

    One connection per worker, opened on first use and again after it breaks; samples in
    flight when it breaks fail with :class:`~ra_agents.BackendUnavailable`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[SampleReward]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> asyncio.StreamWriter:
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, self._writer = await asyncio.open_unix_connection(self.path, limit=_LINE_LIMIT)
                except OSError as exc:
                    raise BackendUnavailable(
                        f"the group owner at {self.path} is unreachable ({exc}); restart ra-agents serve"
                    ) from None
                self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                msg = json.loads(line)
                future = self._pending.pop(msg["id"], None)
                if future is None or future.done():
                    continue
                if "error" in msg:
                    future.set_exception(error_from_dict(msg["error"]))
                else:
                    future.set_result(SampleReward(msg["reward"], msg["score"], msg["group_size"], msg["wait_s"]))
        except (ConnectionError, ValueError, KeyError):
            pass
        finally:
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(BackendUnavailable("the connection to the group owner broke"))
            if self._writer is not None:
                self._writer.close()

    async def reward(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> SampleReward:
        """Forward the sample to the owner; its reward once the group is complete and judged."""
        writer = await self._connection()
        rid = next(self._ids)
        future: asyncio.Future[SampleReward] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        message = {"id": rid, "principle": principle, "prompt": prompt, "response": response}
        writer.write(json.dumps({**message, "group": group, "size": size}).encode() + b"\n")
        return await future

    async def aclose(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)


def start_group_owner(make_buffer: Callable[[], Awaitable[GroupBuffer]], path: str) -> Callable[[], None]:
    """Run a :class:`GroupOwner` on a thread of its own; returns the function that stops it.

    ``make_buffer`` is awaited on the owner's event loop (it builds the judge there). Returns
    once the owner listens; raises what building the buffer or listening raised.
    """
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []
    owner: list[GroupOwner] = []

    async def begin() -> None:
        try:
            owner.append(GroupOwner(await make_buffer(), path))
            await owner[0].start()
        except BaseException as exc:
            failure.append(exc)
            raise
        finally:
            ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(begin())
            loop.run_forever()
        if owner:
            loop.run_until_complete(owner[0].aclose())
        loop.close()

    thread = threading.Thread(target=run, name="ra-agents-group-owner", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        raise failure[0]

    def stop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    return stop
