"""``ra-agents eval`` and the ``ra-agents bench`` alias it replaces (kept for one release)."""

from __future__ import annotations

import json
import re

import pytest

from ra_agents import Judge
from ra_agents.cli import commands
from ra_agents.cli import eval as eval_cli
from ra_agents.cli.commands import main
from ra_agents.testing import ScriptedBackend, prefer


@pytest.fixture
def scripted_judge(monkeypatch: pytest.MonkeyPatch) -> Judge:
    """Every evaluation judges with a scripted judge that prefers the shortest candidate."""
    shortest = Judge(ScriptedBackend(default=prefer(lambda text: len(text) < 12)), seed=0)
    monkeypatch.setattr(eval_cli, "judge_from_args", lambda _args: shortest)
    return shortest


def test_eval_listwise_writes_its_table(scripted_judge: Judge, tmp_path, capsys) -> None:
    argv = ["eval", "listwise", "--limit", "1", "-o", str(tmp_path), "--no-progress", "--no-plot"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "| case | N | Kendall tau |" in out.out and "deprecated" not in out.err
    assert json.loads((tmp_path / "listwise.json").read_text())["cases"] == 1


def test_bench_runs_an_evaluation_after_a_one_line_note(scripted_judge: Judge, tmp_path, capsys) -> None:
    argv = ["bench", "listwise", "--limit", "1", "--out", str(tmp_path), "--no-progress", "--no-plot"]
    assert main(argv) == 0
    out = capsys.readouterr()
    (note,) = out.err.strip().splitlines()
    assert "deprecated" in note and "ra-agents eval listwise" in note
    assert "| case | N | Kendall tau |" in out.out and (tmp_path / "listwise.md").is_file()


@pytest.mark.parametrize("name", eval_cli.MOVED_TO_BENCHMARKS)
def test_bench_of_a_performance_benchmark_says_where_it_moved(name: str, tmp_path, capsys) -> None:
    assert main(["bench", name, "--out", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert f"python -m benchmarks {name}" in out.err and out.out == ""
    assert not list(tmp_path.iterdir())


def test_moved_names_are_the_benchmarks_and_not_evaluations() -> None:
    from benchmarks.cli import NAMES

    assert set(eval_cli.MOVED_TO_BENCHMARKS) == set(NAMES)
    evaluations = next(a for a in eval_cli.build_parser()._actions if a.dest == "command").choices
    assert evaluations is not None and not set(evaluations) & set(NAMES)


def test_bench_is_hidden_from_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "eval" in text and "ra-agents bench" not in text and not re.search(r"^\s+bench\b", text, re.M)
    choices = next(a for a in commands._parser()._actions if a.dest == "command").choices
    assert choices is not None and "eval" in choices and "bench" not in choices


def test_cells_are_parsed_in_one_place() -> None:
    from ra_agents import UsageError
    from ra_agents.evals.rmbench import ALL_CELLS, parse_cells

    assert parse_cells(" 00, 02 ,20") == [(0, 0), (0, 2), (2, 0)]
    assert parse_cells("all") == list(ALL_CELLS)
    with pytest.raises(UsageError, match="'03'"):
        parse_cells("00,03")
    with pytest.raises(SystemExit):
        eval_cli.build_parser().parse_args(["rm-bench", "--cells", "3"])
