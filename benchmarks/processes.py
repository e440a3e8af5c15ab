"""Child processes of the benchmarks: ``ra-agents serve``, the instant upstream, the reference server.

Every server runs as a subprocess on a free loopback port with its output in a log file; it is
polled until ready and stopped with its whole process group (the core's ``spawn``).
:func:`start_serve` is the one way the benchmarks start ``ra-agents serve`` and wait for it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import IO, Any

from ra_agents import MissingDependencyError, RAError
from ra_agents.local.processes import spawn
from ra_agents.local.vllm_server import free_port

__all__ = [
    "READY_TIMEOUT_S",
    "Child",
    "aiohttp_module",
    "child_env",
    "start_child",
    "start_serve",
    "start_upstream",
    "tail",
]

READY_TIMEOUT_S = 120.0
"""Seconds a server may take to answer its health check."""

_STOP_TIMEOUT_S = 10.0
_ROOT = Path(__file__).resolve().parent.parent
"""The source checkout: children import ``benchmarks`` from it, whatever their working folder."""

# The instant upstream in its own process: prints its base URL, serves until stdin closes.
_UPSTREAM_LAUNCH = """\
import sys
from benchmarks.overhead import InstantUpstream
upstream = InstantUpstream().__enter__()
print(upstream.api_base, flush=True)
sys.stdin.read()
"""


def aiohttp_module() -> Any:
    """The ``aiohttp`` module (the load generator's client), or a clear error naming the extra."""
    try:
        import aiohttp
    except ImportError as exc:
        raise MissingDependencyError("aiohttp", "server", "The benchmarks' load generator") from exc
    return aiohttp


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.strip().splitlines()[-lines:])


def child_env() -> dict[str, str]:
    """This environment without ra-agents settings that would change the servers (keys, models)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RA_AGENTS_") or k == "RA_AGENTS_CACHE"}
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


class Child:
    """A server process with its output in a log file.

    Started through the core's :func:`ra_agents.local.processes.spawn`, so it and every
    process it starts (``serve --workers N`` workers, the group owner) stop with it: SIGTERM
    to the whole group, then SIGKILL, and the same when the benchmark itself dies.
    """

    def __init__(self, name: str, argv: Sequence[str], *, log: Path, cwd: Path, stdio: bool = False) -> None:
        self.name = name
        self.log = log
        self._log_file: IO[bytes] = log.open("wb")
        pipe = subprocess.PIPE if stdio else subprocess.DEVNULL
        self._child = spawn(
            argv,
            grace=_STOP_TIMEOUT_S,
            cwd=cwd,
            env=child_env(),
            stdin=pipe,
            stdout=subprocess.PIPE if stdio else self._log_file,
            stderr=self._log_file,
        )

    @property
    def process(self) -> subprocess.Popen[Any]:
        """The server process (the leader of its group)."""
        return self._child.process

    def log_tail(self) -> str:
        """The end of the child's log."""
        if not self._log_file.closed:
            self._log_file.flush()
        return tail(self.log.read_text(encoding="utf-8", errors="replace"))

    def failure(self, what: str) -> RAError:
        """An error saying what went wrong, with the end of the child's log."""
        return RAError(f"{self.name} {what}; its log ends with:\n{self.log_tail()}")

    async def wait_ready(self, client: Any, url: str, within_s: float = READY_TIMEOUT_S) -> None:
        """Poll ``url`` with the ``aiohttp.ClientSession`` ``client`` until it answers 200."""
        aiohttp = aiohttp_module()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.failure(f"exited with status {self.process.returncode} before it was ready")
            try:
                async with client.get(url, timeout=aiohttp.ClientTimeout(total=2.0)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):  # not listening yet
                pass
            await asyncio.sleep(0.1)
        raise self.failure(f"was not ready within {within_s:.0f} s")

    def stop(self) -> None:
        """Stop the process group (SIGTERM, a grace period, SIGKILL); close the pipes and the log."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._child.stop()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()


async def start_child(
    stack: AsyncExitStack, client: Any, name: str, argv: Sequence[str], *, root: str, workdir: Path, log: str
) -> int:
    """Start a server on ``root`` (stopped when ``stack`` closes), wait for ``root/health``; return its pid."""
    child = Child(name, argv, log=workdir / log, cwd=workdir)
    stack.callback(child.stop)
    await child.wait_ready(client, root + "/health")
    return child.process.pid


async def start_serve(
    stack: AsyncExitStack,
    client: Any,
    *,
    api_base: str,
    workdir: Path,
    flags: Sequence[str] = (),
    log: str = "serve.log",
) -> tuple[str, int]:
    """Start ``ra-agents serve`` against ``api_base`` and wait until it answers.

    The server runs on a free loopback port with an empty config file (so no local
    ``ra-agents.toml`` changes it), the model ``hosted_vllm/x`` and ``flags`` added; it is
    stopped when ``stack`` closes.

    Args:
        stack: owns the server's lifetime.
        client: an ``aiohttp.ClientSession`` to poll ``/health`` with.
        api_base: the upstream's base URL.
        workdir: the server's working folder (its config file and log go there).
        flags: more ``ra-agents serve`` flags, e.g. ``("--workers", "2")``.
        log: the log file's name under ``workdir``.

    Returns:
        The server's root URL (``http://127.0.0.1:PORT``) and its process id.

    Raises:
        RAError: the server exited or was not ready in time (with the end of its log).
    """
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    config = workdir / "empty.toml"
    config.write_text("", encoding="utf-8")
    argv = [
        sys.executable,
        "-m",
        "ra_agents.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        "hosted_vllm/x",
        "--api-base",
        api_base,
        "--config",
        str(config),
        *flags,
    ]
    name = " ".join(["ra-agents serve", *flags])
    pid = await start_child(stack, client, name, argv, root=root, workdir=workdir, log=log)
    return root, pid


async def start_upstream(stack: AsyncExitStack, workdir: Path) -> tuple[str, int]:
    """Start the instant upstream (:class:`benchmarks.overhead.InstantUpstream`) in its own process.

    Returns:
        Its base URL (``http://127.0.0.1:PORT/v1``) and its process id; it stops when ``stack`` closes.
    """
    child = Child(
        "the instant upstream",
        [sys.executable, "-c", _UPSTREAM_LAUNCH],
        log=workdir / "upstream.log",
        cwd=workdir,
        stdio=True,
    )
    stack.callback(child.stop)
    assert child.process.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(child.process.stdout.readline), READY_TIMEOUT_S)
    except TimeoutError:
        line = b""
    base = line.decode().strip()
    if not base.startswith("http://"):
        raise child.failure("did not start")
    return base, child.process.pid
