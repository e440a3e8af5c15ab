"""Plausible mistakes get errors that teach: the exception type, and the words it must contain.

Each row is a mistake a newcomer makes (issue 21) or a neighbour of one; the fragment names
the argument, what was given, what is expected or the fix.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ra_agents import Judge, UsageError
from ra_agents.cli import main
from ra_agents.testing import ScriptedBackend, prefer

ROOT = Path(__file__).resolve().parents[2]


def needs(module: str) -> None:
    """Skip without ``module``, without importing it."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RA_AGENTS_* variable from the caller; an empty config file of our own."""
    for var in list(os.environ):
        if var.startswith("RA_AGENTS_"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "ra-agents.toml"
    config.write_text("")
    return config


def _judge(**options: Any) -> Judge:
    return Judge(ScriptedBackend(default=prefer(lambda text: text == "text")), **options)


def _litellm(model: str, api_base: str | None) -> Any:
    needs("litellm")
    return Judge.from_litellm(model, api_base=api_base)


def _http(api_base: str) -> Any:
    needs("aiohttp")
    from ra_agents.backends.openai_http import OpenAIHTTPBackend

    return OpenAIHTTPBackend("hosted_vllm/x", api_base=api_base)


def _validator(on_fail: Any) -> Any:
    needs("guardrails")
    from ra_agents.integrations.guardrails import PrincipleValidator

    return PrincipleValidator(_judge(), "no medical dosages", on_fail=on_fail)


def _client(base_url: str) -> Any:
    needs("httpx")
    from ra_agents import Client

    return Client(base_url)


def _resolve(model: str, api_base: str) -> Any:
    from ra_agents.settings import resolve_backend

    return resolve_backend(model, api_base)


MISTAKES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # a model string where a backend goes
    (
        "model string as backend",
        lambda: Judge("hosted_vllm/x"),  # type: ignore[arg-type]
        UsageError,
        "use Judge.from_litellm('hosted_vllm/x', api_base='http://HOST:8000/v1')",
    ),
    ("object as backend", lambda: Judge(object()), UsageError, "object has no model, provider"),  # type: ignore[arg-type]
    # wrongly typed settings
    (
        "permutations as text",
        lambda: Judge(ScriptedBackend(), permutations="2"),  # type: ignore[arg-type]
        UsageError,
        "judge.permutations (argument) got the string '2': expected an integer >= 1, e.g. permutations=2",
    ),
    (
        "permutations as bool",
        lambda: Judge(ScriptedBackend(), permutations=True),
        UsageError,
        "got True: expected an integer >= 1",
    ),
    (
        "permutations zero",
        lambda: Judge(ScriptedBackend(), permutations=0),
        UsageError,
        "judge.permutations (argument) got 0: expected an integer >= 1",
    ),
    (
        "structured as text",
        lambda: Judge(ScriptedBackend(), structured="false"),  # type: ignore[arg-type]
        UsageError,
        "judge.structured (argument) got the string 'false': expected true or false",
    ),
    (
        "temperature as text",
        lambda: Judge(ScriptedBackend(), temperature="hot"),  # type: ignore[arg-type]
        UsageError,
        "expected a number >= 0, e.g. temperature=0.0",
    ),
    (
        "scale upside down",
        lambda: Judge(ScriptedBackend(), scale=(5, 1)),
        UsageError,
        "judge.scale (argument) got (5, 1): expected two integers (low, high) with low < high, e.g. (1, 5)",
    ),
    (
        "per-call permutations as text",
        lambda: _judge().judge("p", "q", ["a", "b"], permutations="2"),  # type: ignore[arg-type]
        UsageError,
        "permutations= takes an integer >= 1, e.g. permutations=2; got '2'",
    ),
    (
        "per-call seed as text",
        lambda: _judge().judge("p", "q", ["a", "b"], seed="7"),  # type: ignore[arg-type]
        UsageError,
        "seed= takes an integer or None",
    ),
    # an api_base without a scheme
    (
        "api_base without scheme (LiteLLM)",
        lambda: _litellm("hosted_vllm/x", "127.0.0.1:9/v1"),
        UsageError,
        "api_base '127.0.0.1:9/v1' is not an http(s) URL; write the scheme too, e.g. 'http://127.0.0.1:9/v1'",
    ),
    (
        "api_base without scheme (http backend)",
        lambda: _http("localhost:8000/v1"),
        UsageError,
        "e.g. 'http://localhost:8000/v1'",
    ),
    (
        "api_base without scheme (resolver, one replica of two)",
        lambda: _resolve("hosted_vllm/x", "http://a:8000/v1,b:8000/v1"),
        UsageError,
        "backend.api_base (argument) got 'http://a:8000/v1,b:8000/v1': 'b:8000/v1' is not an http(s) URL",
    ),
    # a model without a provider prefix
    (
        "model without provider prefix",
        lambda: _litellm("rewardanything", "http://127.0.0.1:9/v1"),
        UsageError,
        "'hosted_vllm/rewardanything' for a vLLM server or 'openai/rewardanything' for any OpenAI-compatible server",
    ),
    # guardrails' on_fail
    (
        "on_fail unknown",
        lambda: _validator("explode"),
        UsageError,
        "on_fail='explode' is not a guardrails on-fail action; choose one of 'reask', 'fix'",
    ),
    # bad candidates
    (
        "None candidate",
        lambda: _judge().judge("p", "q", ["a", None]),
        UsageError,
        "responses[1] is None (NoneType): a candidate is a string, a chat message or a list of messages, a dict",
    ),
    (
        "integer candidates",
        lambda: _judge().judge("p", "q", [1, 2]),
        UsageError,
        "responses[0] is 1 (int)",
    ),
    (
        "bytes candidate by name",
        lambda: _judge().judge("p", "q", {"a": "x", "b": b"y"}),
        UsageError,
        "responses['b'] is b'y' (bytes)",
    ),
    ("no candidates", lambda: _judge().judge("p", "q", []), UsageError, "give at least one candidate"),
    (
        "one text as the candidates",
        lambda: _judge().judge("p", "q", "one answer"),
        UsageError,
        'responses must be a list of candidates or a mapping of name -> candidate, e.g. ["answer A", "answer B"]',
    ),
    # a judge server's address without a scheme, or none
    (
        "client base_url without a scheme",
        lambda: _client("localhost:8080"),
        UsageError,
        "base_url 'localhost:8080' is not an http(s) URL; write the scheme too, e.g. 'http://localhost:8080'",
    ),
    (
        "client base_url empty",
        lambda: _client(""),
        UsageError,
        "base_url takes a server URL such as 'http://127.0.0.1:8080', got ''",
    ),
    # several principles as a list, not name -> principle
    (
        "principles as a list",
        lambda: _judge().judge_many(["be safe", "be brief"], "q", ["a"]),  # type: ignore[arg-type]
        UsageError,
        "principles must map a name to each principle, got a list; e.g. {'safe':",
    ),
]


@pytest.mark.parametrize(("call", "error", "fragment"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_mistake_teaches(call: Callable[[], Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as raised:
        call()
    assert fragment in str(raised.value)


def test_settings_from_the_environment_and_the_file_teach(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_AGENTS_JUDGE_PERMUTATIONS", "two")
    with pytest.raises(UsageError, match=r"got 'two': expected an integer >= 1, e\.g\. RA_AGENTS_JUDGE_PERMUTATIONS=2"):
        _judge()
    monkeypatch.delenv("RA_AGENTS_JUDGE_PERMUTATIONS")
    clean.write_text("[judge]\npermutaions = 2\n")
    with pytest.raises(UsageError, match=r"judge\.permutaions .* is not a setting; \[judge\] takes: system_prompt"):
        _judge()


def test_candidates_of_every_supported_shape_still_work() -> None:
    from dataclasses import dataclass

    from pydantic import BaseModel

    @dataclass
    class Plan:
        steps: list[str]

    class Answer(BaseModel):
        text: str

    messages = [{"role": "assistant", "content": "hi", "tool_calls": []}]
    result = _judge(render=str).judge("p", "q", [1, None])  # a custom render reads any type
    assert len(result.scores) == 2
    result = _judge().judge("p", "q", ["text", {"k": 1}, messages, Answer(text="a"), Plan(["x"])])
    assert sorted(result.scores) == ["0", "1", "2", "3", "4"]


CLI_MISTAKES = [
    (["serve", "--workers", "0"], "ra-agents serve: error: argument --workers: expected an integer >= 1, got '0'"),
    (["serve", "--port", "99999"], "argument --port: expected an integer >= 0 and <= 65535, got '99999'"),
    (["serve", "--group-wait", "0"], "argument --group-wait: expected a number > 0, got '0'"),
    (
        [
            "judge",
            "--principle",
            "p",
            "--prompt",
            "q",
            "--response",
            "a=1",
            "--model",
            "hosted_vllm/x",
            "--api-base",
            "127.0.0.1:9/v1",
        ],
        "'127.0.0.1:9/v1' is not an http(s) URL; write the scheme too",
    ),
    (["sweep", "-i", "cases.jsonl"], "one --principle each: a library id"),
]


@pytest.mark.parametrize(("argv", "fragment"), CLI_MISTAKES, ids=[" ".join(a[:3]) for a, _ in CLI_MISTAKES])
def test_cli_mistake_is_one_clear_line(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    if argv[0] == "judge":
        needs("litellm")
    Path("cases.jsonl").write_text('{"prompt": "q", "responses": ["a", "b"]}\n')
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert "pydantic" not in err and "Traceback" not in err and "validation error" not in err


def test_serve_setting_from_the_environment_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RA_AGENTS_SERVER_WORKERS", "zero")
    assert main(["serve", "--show-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "server.workers (RA_AGENTS_SERVER_WORKERS) got 'zero': expected an integer >= 1" in err


NOISE_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from ra_agents import Judge
    from ra_agents.testing import LoopbackOpenAI, chat_completion

    VERDICT = '{"scores": {"model-1": 5, "model-2": 1}, "best-to-worst": ["model-1", "model-2"]}'
    with LoopbackOpenAI(lambda body: chat_completion(VERDICT)) as server:
        judge = Judge.from_litellm("hosted_vllm/x", api_base=server.api_base)
        for step in sys.argv[1]:
            if step == "s":
                judge.judge("p", "q", ["a", "b"])
            else:
                asyncio.run(judge.ajudge("p", "q", ["a", "b"]))
    down = Judge.from_litellm("hosted_vllm/x", api_base="http://127.0.0.1:9/v1", num_retries=0)
    try:
        down.judge("p", "q", ["a", "b"])
    except Exception as exc:
        print(type(exc).__name__)
    """
)


@pytest.mark.parametrize("steps", ["sas", "asa"])
def test_mixing_sync_and_asyncio_run_and_a_backend_error_print_no_noise(steps: str, tmp_path: Path) -> None:
    needs("litellm")
    script = tmp_path / "mix.py"
    script.write_text(NOISE_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RA_AGENTS_")}
    done = subprocess.run(
        [sys.executable, str(script), steps], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "BackendUnavailable"
    for noise in ("Task was destroyed but it is pending", "event loop changed", "Give Feedback", "Provider List"):
        assert noise not in done.stderr + done.stdout, done.stderr
