"""Every child process the command line starts lives and dies with it (issue 21, the signal test).

``ra-agents vllm serve`` runs here as a real process, through the real code path
(``_cmd_vllm`` -> ``VLLMServer`` -> ``ra_agents.local.processes.spawn``). vLLM's interpreter is a
stand-in that behaves like vLLM's API server where it matters: it answers ``GET /v1/models``
on the port, starts an "engine core" that starts a "worker", and on SIGTERM dies at once
without stopping them (the worst case: only stopping the whole group helps). The real vLLM
server gets the same SIGTERM check in ``tests/backends/test_litellm_vllm.py``: its second
replica is started by ``ra-agents vllm serve`` and stopped that way in the middle of a batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ra_agents.local.processes import run, signals_exit, spawn
from ra_agents.local.vllm_server import free_port
from tests.process_probe import ROOT, ServeCLI, cmdline, eventually, group, listening, processes, stat

STAND_IN = """\
import http.server, os, subprocess, sys, time
pids = [os.getpid()]
engine = subprocess.Popen([sys.executable, "-c", (
    "import subprocess, sys, time;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "time.sleep(600)")])


class Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


port = int(sys.argv[sys.argv.index("--port") + 1])
http.server.HTTPServer(("127.0.0.1", port), Models).serve_forever()
"""


def _stand_in_venv(tmp_path: Path) -> Path:
    """A folder that ``ensure_vllm_env`` takes for a ready vLLM environment, its python the stand-in."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f"#!{sys.executable}\n{STAND_IN}")
    python.chmod(0o755)
    (venv / ".ra-agents-ready").write_text("stand-in\n")
    return venv


@pytest.fixture
def stand_in_cli(tmp_path: Path):
    """Start ``ra-agents vllm serve`` with the stand-in; yields the running command line."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    env = dict(os.environ, RA_AGENTS_VLLM_VENV=str(_stand_in_venv(tmp_path)), RA_AGENTS_CACHE=str(tmp_path / "cache"))
    started: list[ServeCLI] = []

    def start() -> ServeCLI:
        cli = ServeCLI(free_port(), env, ["--model-dir", str(model_dir), "--no-gpu"], tmp_path / "cli.log")
        started.append(cli)
        return cli

    yield start
    for cli in started:
        cli.close()


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_a_signal_to_vllm_serve_stops_the_whole_server(stand_in_cli, sig: int, code: int) -> None:
    cli = stand_in_cli()
    pgid = cli.wait_ready(timeout=60)
    cli.process.send_signal(sig)
    assert cli.process.wait(timeout=10) == code
    # the command line stopped the group itself before it exited
    assert group(pgid) == []
    assert not listening(cli.port)
    assert "stopping the vLLM server" in cli.log.read_text()


def test_vllm_serve_killed_by_sigkill_takes_the_server_with_it(stand_in_cli) -> None:
    cli = stand_in_cli()
    pgid = cli.wait_ready(timeout=60)
    cli.process.kill()
    cli.process.wait(timeout=10)
    assert eventually(lambda: group(pgid) == [], within=5), group(pgid)
    assert not listening(cli.port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_serve_workers_end_with_the_serve_command(tmp_path: Path, sig: int) -> None:
    """``ra-agents serve --workers 2``: uvicorn's worker processes end with the command, even after SIGKILL."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, RA_AGENTS_MODEL="hosted_vllm/x", RA_AGENTS_API_BASE="http://127.0.0.1:9/v1")
    command = [sys.executable, "-m", "ra_agents.cli", "serve", "--port", str(port), "--workers", "2"]
    serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    workers: list[int] = []
    try:
        started = eventually(lambda: log.read_text().count("Application startup complete") == 2, within=120)
        assert started, log.read_text()[-3000:]
        workers = [pid for pid, (_state, ppid, _group) in processes().items() if ppid == serve.pid]
        assert len(workers) >= 2 and listening(port)
        serve.send_signal(sig)
        serve.wait(timeout=30)
        assert eventually(lambda: not any(pid in processes() for pid in workers), within=10)
        assert not listening(port)
    finally:
        for pid in [serve.pid, *workers]:
            if pid in processes():
                os.kill(pid, signal.SIGKILL)
        serve.wait()


# ------------------------------------------------------------ the supervisor itself

SLEEPERS = ["sh", "-c", "sleep 600 & sleep 600 & wait"]


def test_stop_escalates_to_sigkill_for_a_process_that_ignores_sigterm() -> None:
    child = spawn(["sh", "-c", "trap '' TERM; sleep 600 & sleep 600"], grace=0.5)
    assert eventually(lambda: len(group(child.pid)) >= 3, within=5)
    started = time.monotonic()
    assert child.stop() is True
    assert time.monotonic() - started < 5
    assert group(child.pid) == []


def test_stop_after_the_leader_exited_still_stops_what_it_started() -> None:
    child = spawn(["sh", "-c", "sleep 600 & exit 0"], grace=2)
    child.process.wait(timeout=5)
    assert eventually(lambda: len(group(child.pid)) == 1, within=5)  # the orphaned sleep
    assert child.stop() is True
    assert group(child.pid) == []


def test_keeper_stands_down_after_an_orderly_stop() -> None:
    child = spawn(SLEEPERS, grace=2)
    keeper = child._keeper
    assert keeper is not None
    child.stop()
    assert keeper.wait(timeout=5) == 0


SCRIPT = textwrap.dedent(
    """\
    import os, sys
    from ra_agents.local.processes import run, signals_exit
    with signals_exit():
        print(os.getpid(), flush=True)
        run({command!r}, grace=2)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_run_child_dies_with_its_parent(sig: int) -> None:
    """What the installer's pip runs go through: the parent ends, the whole child group ends."""
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(command=SLEEPERS)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    parent.stdout.readline()

    def child_group() -> int | None:
        for pid, (_state, ppid, pg) in processes().items():
            if ppid == parent.pid and pg == pid and b"sleep 600" in cmdline(pid):
                return pid
        return None

    assert eventually(lambda: child_group() is not None, within=10)
    pgid = child_group()
    assert pgid is not None
    assert eventually(lambda: len(group(pgid)) == 3, within=5)
    parent.send_signal(sig)
    parent.wait(timeout=10)
    parent.stdout.close()
    assert eventually(lambda: group(pgid) == [], within=5), group(pgid)


WORKER = textwrap.dedent(
    """\
    import subprocess, sys
    worker = subprocess.Popen([sys.executable, "-c", (
        "import time; from ra_agents.local.processes import exit_with_parent;"
        "exit_with_parent(); print('ready', flush=True); time.sleep(600)")], stdout=sys.stdout)
    print(worker.pid, flush=True)
    worker.wait()
    """
)


def test_a_worker_exits_when_its_parent_is_killed() -> None:
    """What ``ra-agents serve --workers N`` workers do when the supervising process is SIGKILLed."""
    parent = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert parent.stdout.readline() == "ready\n"
    time.sleep(1.5)  # several looks at a living parent
    assert stat(worker) is not None and stat(worker)[0] != "Z"  # type: ignore[index]
    parent.kill()
    parent.wait(timeout=10)
    parent.stdout.close()
    assert eventually(lambda: stat(worker) is None or stat(worker)[0] == "Z", within=5)  # type: ignore[index]


def test_run_returns_what_subprocess_run_returns() -> None:
    done = run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], stdout=subprocess.PIPE, text=True)
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_signals_exit_restores_the_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals_exit():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
