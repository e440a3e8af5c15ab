"""What the wheel ships: the package, its adapters and data, and no developer tooling.

The wheel is built once, from a copy of the source tree (so the build's ``build/`` and
``*.egg-info`` folders never race another run in the checkout), without build isolation
(no download: the test environment's setuptools builds it).

Tooling that still ships, because a user-facing command or a user's own tests need it:

- ``ra_agents/testing``: the public test doubles (``ScriptedBackend``, ``LoopbackOpenAI``)
  for users' tests of code that calls the judge;
- ``ra_agents/local``: the bundled model's files and the vLLM installer and server behind
  ``ra-agents vllm prepare | serve``;
- ``ra_agents/evals``: ``ra-agents eval rm-bench | listwise | forged``, judge-quality
  evaluations a user runs on their own judge (and the metrics calibration reports with).

The performance benchmarks (``benchmarks/``: servers, the reference package, overhead) run
from a source checkout only (``python -m benchmarks NAME``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "bench-results",
)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names inside a wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=_NOT_SOURCE)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work)]
    done = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = work.glob("ra_agents-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _python_files(folder: Path) -> set[str]:
    return {f"ra_agents/{folder.name}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*.py")}


def test_the_adapters_and_graphs_ship(wheel_names: set[str]) -> None:
    for folder in (ROOT / "integrations", ROOT / "graphs"):
        expected = _python_files(folder)
        assert expected and expected <= wheel_names, sorted(expected - wheel_names)


def test_the_data_files_ship(wheel_names: set[str]) -> None:
    data = {
        "ra_agents/py.typed",
        "ra_agents/data/principles.toml",
        "ra_agents/data/steering_cases.jsonl",
        "ra_agents/evals/data/listwise_sample.jsonl",
    }
    assert data <= wheel_names, sorted(data - wheel_names)
    assert {"ra_agents/cli/eval.py", "ra_agents/testing/__init__.py", "ra_agents/local/__init__.py"} <= wheel_names


def test_no_developer_tooling_ships(wheel_names: set[str]) -> None:
    assert (ROOT / "benchmarks" / "cli.py").is_file()  # the benchmarks exist, in the checkout only
    shipped_tooling = sorted(
        n for n in wheel_names if n.startswith(("benchmarks/", "ra_agents/bench/", "tests/", "scripts/", "examples/"))
    )
    assert shipped_tooling == []
    assert {n.split("/")[0] for n in wheel_names if not n.split("/")[0].endswith(".dist-info")} == {"ra_agents"}
