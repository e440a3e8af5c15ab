"""The command line's answers to bad input: exit code and a message that says what to do.

These never reach a model (the real calls are in the vLLM and real-model suites)."""

from __future__ import annotations

import json

import pytest

from ra_agents.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["judge", "-i", "{tmp}/missing.jsonl"], "does not exist"),
        (["judge", "-i", "{tmp}/bad.json"], "is not valid JSON"),
        (["judge", "--principle", "p", "--prompt", "q", "--response", "novalue"], "takes NAME=TEXT"),
        (["judge", "--prompt", "q", "--response", "a=1"], "missing: --principle"),
    ],
)
def test_bad_input_exits_2_with_a_hint(argv, message, tmp_path, capsys) -> None:
    (tmp_path / "bad.json").write_text("{bad")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_malformed_request_is_reported_in_its_own_line(tmp_path, capsys) -> None:
    request = tmp_path / "one.json"
    request.write_text(json.dumps({"principle": "p", "prompt": "q"}))
    assert main(["judge", "-i", str(request)]) == 1
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["ok"] is False and line["error"] == "UsageError"
    assert "responses" in line["message"]


@pytest.mark.parametrize(
    "argv", [["judge", "--principle", "p", "--prompt", "q", "--response", "a=1"], ["eval", "listwise", "--limit", "1"]]
)
def test_api_base_without_model_says_to_add_model(argv, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("RA_AGENTS_MODEL", raising=False)
    monkeypatch.setenv("RA_AGENTS_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    out = ["--output", str(tmp_path)] if argv[0] == "eval" else []
    assert main([*argv, *out, "--api-base", "http://127.0.0.1:9/v1"]) == 2
    err = capsys.readouterr().err
    assert "an api_base is set (argument) but no model: give --model too" in err


@pytest.mark.parametrize(("command", "usage"), [("principles", "ra-agents principles"), ("eval", "ra-agents eval")])
def test_delegated_commands_answer_help(command, usage, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {usage}")


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        ([], "ra-agents"),
        (["vllm"], "ra-agents vllm"),
        (["eval"], "ra-agents eval"),
        (["principles"], "ra-agents principles"),
    ],
)
def test_a_command_group_without_its_action_prints_its_help_and_exits_2(argv, usage, capsys) -> None:
    """One style for ra-agents and its command groups: the help (actions and examples) on stdout, code 2."""
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {usage} ") and "examples:" in out


def test_a_batch_error_line_carries_the_errors_fields(tmp_path, capsys, monkeypatch) -> None:
    """A request the model cannot answer usefully: its line names the error and keeps its fields (the raw text)."""
    from ra_agents.testing import LoopbackOpenAI, chat_completion

    monkeypatch.setenv("RA_AGENTS_JUDGE_MAX_RETRIES", "0")
    request = tmp_path / "one.jsonl"
    request.write_text(json.dumps({"principle": "p", "prompt": "q", "responses": {"a": "x", "b": "y"}}) + "\n")
    with LoopbackOpenAI(lambda body: chat_completion("no verdict here")) as server:
        flags = ["--model", "hosted_vllm/x", "--api-base", server.api_base]
        assert main(["judge", "-i", str(request), *flags]) == 1
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["ok"] is False and line["error"] == "VerdictError"
    assert line["raw"] == "no verdict here" and "type" not in line
