"""Child processes that live and die with this one.

Every process the command line starts (vLLM's server, pip building vLLM's environment)
goes through :func:`spawn`:

- The child gets a session of its own, so its process group holds it and everything it
  starts (vLLM's API server spawns an engine core and workers), and a terminal's Ctrl-C
  reaches only this process, which then stops the group in order.
- A keeper, a few lines of Python in a process of its own, holds the read end of a pipe
  whose write end only this process holds. When this process ends, however it ends
  (SIGKILL and the OOM killer included), the kernel closes the write end, the keeper reads
  end-of-file and stops the child's whole group: SIGTERM, a grace period, SIGKILL. An
  orderly :meth:`Child.stop` tells the keeper to stand down first. (``PR_SET_PDEATHSIG``
  would reach only the direct child, not the engine and workers it starts, and fires when
  the *thread* that started the child ends, not the process.)
- :func:`exit_with_parent` is the same rule for worker processes started by someone else's
  supervisor (uvicorn's workers of ``ra-agents serve --workers N``): once the parent is gone,
  the worker sends itself SIGTERM and shuts down as it would on ``kill``.
- :func:`signals_exit` makes SIGTERM and SIGHUP (what ``kill``, ``timeout``, ``docker
  stop``, systemd and a closed terminal send) unwind the stack like Ctrl-C does, so the
  ``finally`` blocks that stop the children run.

This file also runs as the keeper's script (``python -I -S processes.py PGID GRACE``), so it
imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Child", "spawn", "run", "stop_group", "signals_exit", "exit_with_parent"]

_STAND_DOWN = b"x"
_KILL_WAIT_S = 5.0


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # gone (a reused id of someone else's: gone too)
        return False
    return True


def stop_group(pgid: int, grace: float, leader: subprocess.Popen[Any] | None = None) -> bool:
    """Stop process group ``pgid``: SIGTERM, up to ``grace`` seconds, then SIGKILL.

    Args:
        pgid: the group (the id of the child started in a session of its own).
        grace: seconds the group gets to exit after SIGTERM.
        leader: the group leader if it is our child, reaped here so that its zombie does
            not count as a member.

    Returns:
        True when no process of the group is left (zombies that an init process has not
        reaped yet still count, so after SIGKILL the wait is bounded).
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, _KILL_WAIT_S)):
        if not _signal_group(pgid, sig):
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()
            if not _signal_group(pgid, 0):
                return True
            time.sleep(0.05)
    return False


@dataclass
class Child:
    """A child process in a session of its own, with the keeper that stops its group."""

    process: subprocess.Popen[Any]
    grace: float
    _keeper: subprocess.Popen[bytes] | None
    _keeper_pipe: int | None

    @property
    def pid(self) -> int:
        """The child's process id, which is also its process group's id."""
        return self.process.pid

    def stop(self, grace: float | None = None) -> bool:
        """Stop the child's whole group (SIGTERM, ``grace`` seconds, SIGKILL); dismiss the keeper.

        Safe to call more than once and after the child exited (its group may still hold
        processes it started). Returns True when no process of the group is left.
        """
        gone = stop_group(self.pid, self.grace if grace is None else grace, self.process)
        self.process.poll()
        # Interrupted before this point (a second Ctrl-C), the keeper finishes the stop.
        if self._keeper_pipe is not None:
            pipe, self._keeper_pipe = self._keeper_pipe, None
            with contextlib.suppress(OSError):
                os.write(pipe, _STAND_DOWN)
            os.close(pipe)
        if self._keeper is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._keeper.wait(timeout=5)
        return gone


def spawn(command: Sequence[str], *, grace: float = 20.0, **popen: Any) -> Child:
    """Start ``command`` in a session of its own, bound to this process's life.

    Args:
        command: the program and its arguments.
        grace: seconds the child's group gets between SIGTERM and SIGKILL, here and in
            the keeper.
        **popen: more :class:`subprocess.Popen` arguments (``stdout``, ``env`` ...).
    """
    process = subprocess.Popen(list(command), start_new_session=True, **popen)
    read_end, write_end = os.pipe()  # both close on exec: no other child inherits them
    try:
        keeper = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(process.pid), str(grace)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # neither a terminal's Ctrl-C nor a signal to our group reaches it
        )
    except BaseException:
        os.close(write_end)
        stop_group(process.pid, grace, process)
        raise
    finally:
        os.close(read_end)
    return Child(process=process, grace=grace, _keeper=keeper, _keeper_pipe=write_end)


def run(command: Sequence[str], *, grace: float = 10.0, **popen: Any) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` through :func:`spawn`: whatever ends this call stops the child's group."""
    child = spawn(command, grace=grace, **popen)
    try:
        out, err = child.process.communicate()
    finally:
        child.stop()
    return subprocess.CompletedProcess(list(command), child.process.returncode, out, err)


@contextlib.contextmanager
def signals_exit(signals: Sequence[int] = (signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """Within the block, ``signals`` raise ``SystemExit(128 + signal)``, as Ctrl-C raises KeyboardInterrupt.

    Python's default for SIGTERM ends the process at once, skipping ``finally`` blocks and
    so the code that stops children. Only the main thread can set handlers; elsewhere this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, leave) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_with_parent(parent: int | None = None, interval: float = 0.5) -> None:
    """Send this process SIGTERM once its parent is gone (a daemon thread polls ``getppid``).

    Args:
        parent: the parent's process id (default: the current parent).
        interval: seconds between two looks.
    """
    expected = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ra-agents-exit-with-parent", daemon=True).start()


def _keep(pgid: int, grace: float) -> None:
    """The keeper: wait for end-of-file on stdin, then stop the group unless told to stand down."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    message = b""
    while chunk := os.read(0, 64):
        message += chunk
    if _STAND_DOWN not in message:
        stop_group(pgid, grace)


if __name__ == "__main__":
    _keep(int(sys.argv[1]), float(sys.argv[2]))
