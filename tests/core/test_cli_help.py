"""Every subcommand's ``--help`` teaches, and the command line spells one thing one way.

The subcommands are discovered from the parsers themselves (``ra-agents``'s subparsers, and
the own parsers of ``eval`` and ``principles``), so a new subcommand is checked too.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from ra_agents.cli import commands as cli

SHARED = {
    "out": ["-o", "--output"],
    "output": ["-o", "--output"],
    "input": ["-i", "--input"],
    "model": ["--model"],
    "api_base": ["--api-base"],
    "api_key": ["--api-key"],
    "timeout": ["--timeout"],
    "principle": ["--principle"],
    "principle_items": ["--principle"],
    "permutations": ["--permutations"],
    "seed": ["--seed"],
    "max_tokens": ["--max-tokens"],
    "cache": ["--cache"],
}
"""Flags shared by several subcommands, by what they store: their one visible spelling."""


def _subcommands() -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    def walk(path: list[str], parser: argparse.ArgumentParser) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    own = cli._delegated_parser(name) if not path and name in cli._DELEGATED else child
                    yield from walk([*path, name], own)

    yield from walk([], cli._parser())


SUBCOMMANDS = list(_subcommands())
BY_PATH = {tuple(path): parser for path, parser in SUBCOMMANDS}


def test_the_walk_finds_the_nested_subcommands() -> None:
    paths = {" ".join(path) for path, _ in SUBCOMMANDS}
    assert {"judge", "vllm prepare", "vllm serve", "eval rm-bench", "eval forged", "principles show", "calibrate"} <= (
        paths
    )


@pytest.mark.parametrize("path", [p for p, _ in SUBCOMMANDS], ids=lambda p: " ".join(p) or "ra-agents")
def test_help_has_a_description_and_an_example(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*path, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    parser = BY_PATH[tuple(path)]
    assert parser.description and parser.description.strip(), f"{path}: no description"
    assert parser.description.strip() in " ".join(text.split()) or parser.description.strip()[:40] in text
    examples = [line.strip() for line in text.splitlines() if "ra-agents " in line]
    assert any(line.startswith("ra-agents") for line in examples[1:] or examples), f"{path}: no example line"
    assert any(
        line.lstrip().startswith("ra-agents " + " ".join(path)) for line in text.split("usage:", 1)[1].splitlines()[1:]
    ), f"{path}: no example of this very subcommand"
    assert "``" not in text, f"{path}: literal double backticks in --help"


@pytest.mark.parametrize("path", [p for p, _ in SUBCOMMANDS], ids=lambda p: " ".join(p) or "ra-agents")
def test_shared_flags_are_spelled_the_same(path: list[str]) -> None:
    parser = BY_PATH[tuple(path)]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or action.dest not in SHARED or not action.option_strings:
            continue
        assert action.option_strings == SHARED[action.dest], (path, action.option_strings)
    flags = {flag for action in parser._actions for flag in action.option_strings if action.help != argparse.SUPPRESS}
    if "--max-tokens" in flags:  # the command builds a judge: the backend flags are all there
        assert {"--model", "--api-base", "--api-key", "--timeout"} <= flags, path


def test_old_spellings_are_hidden_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    evals = cli._delegated_parser("eval")
    assert str(evals.parse_args(["listwise", "--out", "elsewhere"]).out) == "elsewhere"
    assert str(evals.parse_args(["listwise", "-o", "there"]).out) == "there"
    listwise = BY_PATH[("eval", "listwise")]
    assert not re.search(r"--out\b", listwise.format_help())
    sweep = cli._parser().parse_args(["sweep", "-i", "x.jsonl", "--principles", "a,b", "--principle", "c=d"])
    assert sweep.principle_items == ["a", "b", "c=d"]
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    assert "--principles" not in capsys.readouterr().out


def test_serve_help_lists_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    from ra_agents.settings import ServerSettings

    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = capsys.readouterr().out
    for name in ServerSettings.model_fields:
        assert f"RA_AGENTS_SERVER_{name.upper()}" in text
    assert "RA_AGENTS_MODEL" in text and "RA_AGENTS_CONFIG" in text


def test_vllm_prepare_takes_only_what_it_uses() -> None:
    prepare = BY_PATH[("vllm", "prepare")]
    flags = {flag for action in prepare._actions for flag in action.option_strings}
    assert not flags & {"--host", "--port", "--dtype", "--served-name"}
