"""Whole groups for listwise rewards: a sample's reward comes from judging its complete group.

A listwise judge ranks a prompt's samples against each other, so a sample's reward is only
right when the judge saw the prompt's WHOLE group. RL trainers post samples one at a time or
in small batches (OpenRLHF 0.9+ posts one per request), so samples wait here for their group:

- a group is keyed by the caller's group id when the request carries one, else by
  (principle, prompt); it is complete when ``group_size`` samples arrived (the request may
  name its own size);
- a complete group is judged in ONE call and each sample gets its own reward;
- a group still incomplete ``wait_s`` after its first sample fails every sample with
  :class:`IncompleteGroupError` (never a ranking of the fragment); a failed judge call fails
  every sample of the group with the judge's error.

Where the samples meet:

- :class:`GroupBuffer`: the groups of one process (``ra-agents serve`` with one worker, the
  OpenRLHF ``reward_func`` file, the verl adapter).
- With several workers, each worker's buffer would see a fragment of a group. ``ra-agents
  serve --workers N`` therefore runs ONE :class:`GroupOwner` (a thread of the supervising
  process, listening on a private Unix socket) that holds every group and makes the judge
  calls (concurrently); every worker forwards its samples to it through
  :class:`RemoteGroups`. Workers still parse, check and answer the HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..._errors import BackendError, BackendUnavailable, LimitError, RAError, UsageError, error_from_dict, error_to_dict
from ..._types import JudgeResult

__all__ = [
    "GROUP_OWNER_ENV",
    "INCOMPLETE_LIMIT",
    "INCOMPLETE_STATUS",
    "GroupBuffer",
    "GroupOwner",
    "GroupRewards",
    "IncompleteGroupError",
    "RemoteGroups",
    "SampleReward",
    "principle_of_label",
    "response_of",
    "start_group_owner",
]

GROUP_OWNER_ENV = "RA_AGENTS_SERVER_GROUP_OWNER"
"""The Unix socket of the group owner, set by ``ra-agents serve`` for its workers."""

INCOMPLETE_LIMIT = "group_wait_s"
"""The ``limit`` of the :class:`~ra_agents.LimitError` an incomplete group's samples get."""

INCOMPLETE_STATUS = 408
"""HTTP status of a sample whose group did not complete in time: not retried by clients (a
re-posted sample would start a new, again incomplete group)."""

_LINE_LIMIT = 1 << 26  # one forwarded sample per line: up to the server's own body limits


@dataclass(frozen=True)
class SampleReward:
    """One sample's reward.

    Attributes:
        reward: in [0, 1] (:meth:`JudgeResult.unit_score`).
        score: the judge's raw score.
        group_size: samples in the judged group.
        wait_s: seconds the sample waited for its group to complete (the judge call not included).
    """

    reward: float
    score: float
    group_size: int
    wait_s: float


class IncompleteGroupError(LimitError):
    """A group did not complete within the wait; each of its samples fails with this.

    Serialised as a :class:`~ra_agents.LimitError` (``limit="group_wait_s"``, status 408) whose
    message names the group, how many samples arrived of how many, and what to change.
    """

    def __init__(self, group: str, arrived: int, expected: int, wait_s: float) -> None:
        super().__init__(
            f"group {group} is incomplete: {arrived} of {expected} samples arrived within group_wait_s={wait_s:g}; "
            f"no reward is given for part of a group. Send every sample of a prompt (set the server's group_size, "
            f"--group-size, to the trainer's samples per prompt), to ONE server (several servers behind a load "
            f"balancer split groups), or raise --group-wait",
            limit=INCOMPLETE_LIMIT,
            value=math.ceil(wait_s),
            status=INCOMPLETE_STATUS,
        )
        self.group = group
        self.arrived = arrived
        self.expected = expected


class GroupRewards(Protocol):
    """Where a sample waits for its group: :class:`GroupBuffer` or :class:`RemoteGroups`."""

    async def reward(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> SampleReward:
        """The sample's reward once its group is complete and judged."""
        ...

    async def aclose(self) -> None:
        """Release what the buffer holds."""
        ...


def response_of(query: str, prompt: str | None) -> str:
    """The response in an OpenRLHF ``query`` (prompt + response): the text after ``prompt``."""
    return query[len(prompt) :] if prompt and query.startswith(prompt) else query


def principle_of_label(label: Any) -> str | None:
    """The principle an OpenRLHF label carries: ``{"principle": ...}``, or that object as JSON text."""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = json.loads(label)
        except ValueError:
            return None
    if isinstance(label, dict) and isinstance(label.get("principle"), str) and label["principle"].strip():
        return str(label["principle"])
    return None


JudgeGroup = Callable[[str, str, dict[str, str]], Awaitable[JudgeResult]]
"""``(principle, prompt, {name: response}) -> JudgeResult``: judges one whole group."""


@dataclass
class _Group:
    principle: str
    prompt: str
    size: int
    label: str
    started: float
    samples: list[tuple[str, float, asyncio.Future[SampleReward]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


def _label(key: tuple[str, ...]) -> str:
    """A group's name in messages: its id, or its prompt's head."""
    if key[0] == "id":
        return repr(key[1])
    head = key[2][:60] + ("..." if len(key[2]) > 60 else "")
    return f"of prompt {head!r}"


class GroupBuffer:
    """Holds samples until their group is complete, then judges the group in one call.

    Args:
        judge_group: judges one whole group (``(principle, prompt, {name: response})``).
        group_size: samples per group, unless a sample names its group's size.
        wait_s: longest wait after a group's first sample; then its samples fail with
            :class:`IncompleteGroupError`.
    """

    def __init__(self, judge_group: JudgeGroup, *, group_size: int, wait_s: float) -> None:
        self._judge_group = judge_group
        self.group_size = group_size
        self.wait_s = wait_s
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        """Samples waiting for their group to complete."""
        return sum(len(g.samples) for g in self._groups.values())

    async def reward(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> SampleReward:
        """The sample's reward once its group is complete and judged (see :meth:`add`)."""
        return await self.add(principle, prompt, response, group=group, size=size)

    def add(
        self, principle: str, prompt: str, response: str, *, group: str | None = None, size: int | None = None
    ) -> asyncio.Future[SampleReward]:
        """Queue one sample; the future resolves with its reward or fails with its group's error.

        Args:
            principle: the principle to judge by.
            prompt: the prompt the sample answers.
            response: the sample.
            group: the caller's group id; ``None`` groups by (principle, prompt).
            size: the group's size; ``None`` is ``group_size``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SampleReward] = loop.create_future()
        expected = size or self.group_size
        key = ("id", group) if group is not None else ("text", principle, prompt)
        current = self._groups.get(key)
        if current is None:
            current = self._groups[key] = _Group(principle, prompt, expected, _label(key), time.monotonic())
            current.timer = loop.call_later(self.wait_s, self._expire, key, current)
        elif current.size != expected or (current.principle, current.prompt) != (principle, prompt):
            what = "size" if current.size != expected else "principle or prompt"
            future.set_exception(
                UsageError(f"the samples of group {current.label} disagree on the group's {what}; send the same")
            )
            return future
        current.samples.append((response, time.monotonic(), future))
        if len(current.samples) >= current.size:
            self._complete(key, current)
        return future

    def _complete(self, key: tuple[str, ...], group: _Group) -> None:
        del self._groups[key]
        if group.timer is not None:
            group.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._judge(group, time.monotonic()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _expire(self, key: tuple[str, ...], group: _Group) -> None:
        if self._groups.get(key) is group:
            del self._groups[key]
            self._fail(group, IncompleteGroupError(group.label, len(group.samples), group.size, self.wait_s))

    @staticmethod
    def _fail(group: _Group, exc: BaseException) -> None:
        for _, _, future in group.samples:
            if not future.done():
                future.set_exception(exc)

    async def _judge(self, group: _Group, completed: float) -> None:
        names = [f"sample-{i + 1}" for i in range(len(group.samples))]
        try:
            responses = dict(zip(names, (text for text, _, _ in group.samples), strict=True))
            result = await self._judge_group(group.principle, group.prompt, responses)
        except RAError as exc:
            self._fail(group, exc)
            return
        except Exception as exc:  # noqa: BLE001 - every waiting sample must be answered, with a typed error
            self._fail(group, BackendError(f"judging group {group.label} failed: {type(exc).__name__}: {exc}"))
            return
        for name, (_, arrived, future) in zip(names, group.samples, strict=True):
            if not future.done():
                reward = SampleReward(
                    result.unit_score(name), float(result.scores[name]), len(names), completed - arrived
                )
                future.set_result(reward)

    async def aclose(self) -> None:
        """Fail the incomplete groups (never judge a fragment) and wait for the groups being judged."""
        for key, group in list(self._groups.items()):
            del self._groups[key]
            if group.timer is not None:
                group.timer.cancel()
            arrived = len(group.samples)
            self._fail(
                group,
                BackendUnavailable(
                    f"the server stopped before group {group.label} was complete ({arrived} of {group.size} samples)"
                ),
            )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


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
