"""Looking at processes from a test: groups, ports, and ``ra-agents vllm serve`` as a real process.

Shared by the signal tests (a stand-in vLLM) and the real-vLLM tests (a second replica started
through the command line and stopped with SIGTERM). A process counts as gone when it is absent
or a zombie: an exited process that init has not reaped yet holds no port and no CPU.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["ROOT", "ServeCLI", "cmdline", "eventually", "group", "listening", "processes", "stat"]

ROOT = Path(__file__).resolve().parents[1]


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def processes() -> dict[int, tuple[str, int, int]]:
    """Every process that is not a zombie: pid -> (state, parent pid, process group)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := stat(int(entry))) is not None and info[0] != "Z":
            found[int(entry)] = info
    return found


def group(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that are not zombies."""
    return [pid for pid, (_state, _ppid, pg) in processes().items() if pg == pgid]


def cmdline(pid: int) -> bytes:
    """The process's command line (NUL-separated), empty when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def eventually(check: Callable[[], bool], within: float) -> bool:
    """Poll ``check`` for up to ``within`` seconds; its last answer."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


class ServeCLI:
    """``ra-agents vllm serve`` in a process of its own, and the group of the server it started."""

    def __init__(self, port: int, env: dict[str, str], extra: list[str], log: Path) -> None:
        self.port = port
        self.log = log
        command = [sys.executable, "-m", "ra_agents.cli", "vllm", "serve", "--port", str(port), *extra]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float) -> int:
        """Wait for the ready line; return the server's process group (its pid: a session of its own)."""
        deadline = time.monotonic() + timeout
        while "ready:" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ra-agents vllm serve did not get ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        (leader,) = (
            pid
            for pid, (_state, ppid, pg) in processes().items()
            if ppid == self.process.pid and pg == pid and b"vllm.entrypoints" in cmdline(pid)
        )
        assert listening(self.port)
        assert len(group(leader)) >= 2, "the server runs more than one process (engine, workers)"
        return leader

    def close(self) -> None:
        """Kill the command line if it still runs (its keeper then stops the server's group)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
