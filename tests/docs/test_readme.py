"""The README is executable: every code block runs as a reader copies it.

- Python blocks run with pytest-examples, in-process, one test each. A block whose fence
  says ``continues="NAME"`` runs after the block named ``name="NAME"``, in its globals.
- Bash blocks: every command whose program is ``ra-agents`` runs in a shell, with a
  timeout; ``ra-agents serve`` runs until it answers ``/health`` and is then stopped.
- ``json`` blocks with ``file="NAME"`` are the files the commands read (``cases.jsonl``,
  ``requests.jsonl``): they are written where the commands run, so the documented format
  is the tested one.

The judge settings (``RA_AGENTS_MODEL``, ``RA_AGENTS_API_BASE``) point at the stand-in
model server (``conftest.py``), and the README's placeholder hosts are replaced by local
stand-ins (:data:`PLACEHOLDERS`). A block is left out only when its fence says
``needs="..."`` with one of the reasons in :data:`NOT_RUN`; the README says why next to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from ra_agents.local.vllm_server import free_port
from ra_agents.testing import LoopbackOpenAI

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

NOT_RUN = {
    "gpu": "serves RewardAnything-8B on an NVIDIA GPU",
    "vllm": "installs and starts vLLM, a heavy process (the vllm-marked tests start the same server)",
    "ray": "starts a Ray cluster, a heavy process (tests/integrations/test_ray.py runs the path)",
    "langsmith": "reads a dataset from a hosted LangSmith account (examples/langsmith_eval.py runs offline)",
}
"""Why a block marked ``needs="..."`` is not run. Keep it short.

The bundled model in-process is not on this list because no README block calls it:
``scripts/demo.sh`` runs it, and tests/core/test_real_model.py tests that path.
"""

JUDGE_SERVER_KEYS = "k1,k2"


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced block of the README."""

    lang: str
    info: dict[str, str]
    source: str
    line: int

    @property
    def label(self) -> str:
        return f"README.md:{self.line}"


def _blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```(\w+)([^\n]*)\n(.*?)^```$", text, flags=re.M | re.S):
        info = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        line = text[: match.start()].count("\n") + 1
        blocks.append(Block(match.group(1), info, match.group(3), line))
    return blocks


BLOCKS = _blocks()
PYTHON = [example for example in find_examples(README) if example.prefix.startswith("python")]


def _settings(example: CodeExample) -> dict[str, str]:
    return example.prefix_settings()


NAMED = {_settings(e)["name"]: e for e in PYTHON if "name" in _settings(e)}


def _commands(block: Block) -> list[str]:
    """The block's ``ra-agents`` commands, continuation lines joined, comments kept for bash."""
    logical = re.sub(r"\\\n\s*", " ", block.source)
    commands = []
    for line in logical.splitlines():
        words = shlex.split(line, comments=True)
        program = next((w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)), None)
        if program == "ra-agents":
            commands.append(line)
    return commands


BASH = [(block, command) for block in BLOCKS if block.lang == "bash" for command in _commands(block)]


def _placeholders(api_base: str, judge_url: str | None = None) -> dict[str, str]:
    """The README's placeholder hosts, and the local stand-ins the test puts in their place."""
    table = {"http://gpu-box:8000/v1": api_base, "--host 0.0.0.0": "--host 127.0.0.1"}
    if judge_url is not None:
        table["http://judge:8080"] = judge_url
    return table


def _substitute(text: str, table: dict[str, str]) -> str:
    for placeholder, stand_in in table.items():
        text = text.replace(placeholder, stand_in)
    return text


def _shell_env(judge_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RA_AGENTS_")}
    env.update(judge_env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["RA_AGENTS_RMBENCH_DATA"] = str(next(ROOT.glob("tests/*/data/rm-bench")))  # the suite's RM-Bench sample
    return env


def _workdir(path: Path) -> Path:
    """A folder with the README's data files and the repository's examples/ (as the commands expect)."""
    for block in BLOCKS:
        if block.lang == "json" and "file" in block.info:
            (path / block.info["file"]).write_text(block.source, encoding="utf-8")
    (path / "examples").symlink_to(ROOT / "examples")
    return path


@contextlib.contextmanager
def _serving(command: str, env: dict[str, str], cwd: Path, log: Path) -> Iterator[str]:
    """Run a ``ra-agents serve`` command on a free port until its ``/health`` answers; yield its URL."""
    port = free_port()
    command = re.sub(r"--port \d+", f"--port {port}", command)
    if "--port" not in command:
        command += f" --port {port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"{command!r} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{command!r} did not answer /health:\n{log.read_text()[-3000:]}"
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(f"{url}/health", timeout=1) as response,
            ):
                if response.status == 200:
                    break
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the shell and the server it started
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def judge_server(
    judge_env: dict[str, str], stand_in_server: LoopbackOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The README's own ``ra-agents serve`` command (the service section) on the stand-in model server."""
    (command,) = [c for b, c in BASH if " serve " in c and "RA_AGENTS_SERVER_API_KEYS" in c]
    work = tmp_path_factory.mktemp("judge-server")
    command = _substitute(command, _placeholders(stand_in_server.api_base))
    with _serving(command, _shell_env(judge_env), work, work / "serve.log") as url:
        yield url


# ------------------------------------------------------------------ the marks


def test_every_mark_names_a_known_reason() -> None:
    marks = [b.info["needs"] for b in BLOCKS if "needs" in b.info]
    assert set(marks) <= set(NOT_RUN), marks
    assert len(marks) <= 5, "keep the blocks the suite cannot run few"


def test_every_continuation_names_an_earlier_block() -> None:
    for example in PYTHON:
        name = _settings(example).get("continues")
        if name is not None:
            assert name in NAMED, f"{example}: continues an unknown block {name!r}"
            assert NAMED[name].start_line < example.start_line, f"{example}: continues a later block"


def test_the_readme_has_blocks_to_run() -> None:
    assert len(PYTHON) >= 10 and len(BASH) >= 5


# ------------------------------------------------------------------ Python blocks


def _skip_reason(info: dict[str, str]) -> str | None:
    needs = info.get("needs")
    return None if needs is None else f"needs {needs}: {NOT_RUN.get(needs, 'unknown reason')}"


@pytest.mark.parametrize("example", PYTHON, ids=str)
def test_python_block(
    example: CodeExample,
    eval_example: EvalExample,
    judge_env: dict[str, str],
    stand_in_server: LoopbackOpenAI,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = _settings(example)
    reason = _skip_reason(settings)
    if reason:
        pytest.skip(reason)
    for key, value in judge_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])  # pytest-examples replaces it
    judge_url = request.getfixturevalue("judge_server") if "http://judge:8080" in example.source else None
    table = _placeholders(stand_in_server.api_base, judge_url)
    module_globals = None
    if "continues" in settings:
        earlier = NAMED[settings["continues"]]
        module_globals = _run(eval_example, earlier, table)
    _run(eval_example, example, table, module_globals)


def _run(
    eval_example: EvalExample,
    example: CodeExample,
    table: dict[str, str],
    module_globals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one block; a failure names its README line (pytest cannot print the tool's synthetic traceback)."""
    try:
        return eval_example.run(
            dataclasses.replace(example, source=_substitute(example.source, table)), module_globals=module_globals
        )
    except Exception as exc:  # noqa: BLE001 - reported with its README line
        lines = []
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(example.path):  # the tool maps frames to README lines
                lines.append(tb.tb_lineno)
            tb = tb.tb_next
        where = f"README.md line {lines[-1]}" if lines else str(example)
        failure = f"{where}: {type(exc).__name__}: {exc}"
    pytest.fail(failure, pytrace=False)  # outside the except: no chained synthetic traceback


# ------------------------------------------------------------------ bash blocks


@pytest.mark.parametrize(("block", "command"), BASH, ids=[f"{b.label}:{c.split('#')[0].strip()}" for b, c in BASH])
def test_ra_agents_command(
    block: Block, command: str, judge_env: dict[str, str], stand_in_server: LoopbackOpenAI, tmp_path: Path
) -> None:
    reason = _skip_reason(block.info)
    if reason:
        pytest.skip(reason)
    env = _shell_env(judge_env)
    command = _substitute(command, _placeholders(stand_in_server.api_base))
    work = _workdir(tmp_path)
    before = set(work.iterdir())
    if shlex.split(command, comments=True)[1:2] == ["serve"] or " ra-agents serve " in f" {command} ":
        with _serving(command, env, work, tmp_path / "serve.log") as url:
            assert url.startswith("http://127.0.0.1:")
        return
    completed = subprocess.run(
        ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert completed.returncode == 0, f"{command}\nexited with {completed.returncode}:\n{completed.stderr[-3000:]}"
    assert completed.stdout.strip() or set(work.iterdir()) - before, "the command printed and wrote nothing"
