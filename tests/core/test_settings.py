"""The one settings layer: argument > environment > config file > default, for judge, backend and server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ra_agents import Judge, UsageError
from ra_agents.cli import main
from ra_agents.settings import JudgeSettings, ServerSettings, explain, resolve, resolve_backend
from ra_agents.testing import ScriptedBackend


def needs(module: str) -> None:
    """Skip without ``module``, without importing it (LiteLLM must be imported by the backend, offline)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


VERDICT = '{"scores": {"model-1": 4, "model-2": 2}, "best-to-worst": ["model-1", "model-2"]}'


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RA_AGENTS_* variable from the caller; a config file of our own, empty until a test writes it."""
    import os

    for var in list(os.environ):
        if var.startswith("RA_AGENTS_") or var in ("HOSTED_VLLM_API_KEY", "OPENAI_API_KEY"):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "ra-agents.toml"
    config.write_text("")
    return config


def test_judge_setting_precedence(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Judge(ScriptedBackend()).permutations == 1  # default
    clean.write_text("[judge]\npermutations = 2\n")
    assert Judge(ScriptedBackend()).permutations == 2  # file over default
    monkeypatch.setenv("RA_AGENTS_JUDGE_PERMUTATIONS", "3")
    assert Judge(ScriptedBackend()).permutations == 3  # environment over file
    assert Judge(ScriptedBackend(), permutations=4).permutations == 4  # argument over environment


def test_backend_setting_precedence(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs("litellm")

    def timeout(given: float | None = None) -> float:
        return resolve_backend("hosted_vllm/x", "http://a/v1", timeout=given).timeout  # type: ignore[attr-defined]

    assert timeout() == 120.0
    clean.write_text("[backend]\ntimeout = 30\n")
    assert timeout() == 30.0
    monkeypatch.setenv("RA_AGENTS_TIMEOUT", "20")
    assert timeout() == 20.0
    assert timeout(10) == 10.0


def test_server_setting_precedence(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ra_agents.remote.server.settings import settings_from_sources

    assert settings_from_sources().max_batch == 256
    clean.write_text("[server]\nmax_batch = 30\n")
    assert settings_from_sources().max_batch == 30
    monkeypatch.setenv("RA_AGENTS_SERVER_MAX_BATCH", "20")
    assert settings_from_sources().max_batch == 20
    assert settings_from_sources({"max_batch": 10, "port": None}).max_batch == 10


def test_the_judge_table_is_read_by_judge(clean: Path) -> None:
    """The documented ``[judge]`` table reaches ``Judge()``: two passes, each one backend call."""
    clean.write_text("[judge]\npermutations = 2\nseed = 7\nmax_retries = 0\n")
    backend = ScriptedBackend(default=VERDICT)
    judge = Judge(backend)
    assert (judge.permutations, judge.seed, judge.max_retries) == (2, 7, 0)
    result = judge.judge("p", "q", {"a": "x", "b": "y"})
    assert len(result.passes) == 2 and len(backend.calls) == 2
    assert Judge(ScriptedBackend(default=VERDICT), permutations=1).permutations == 1  # the argument still wins


def test_server_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("fastapi")
    from fastapi.testclient import TestClient

    from ra_agents.remote.server import create_app
    from ra_agents.remote.server.settings import settings_from_sources

    limits = {
        "max_body_bytes": 4096,
        "max_candidates": 2,
        "max_candidate_chars": 11,
        "max_principle_chars": 12,
        "max_prompt_chars": 13,
        "max_batch": 3,
        "max_in_flight": 4,
        "group_size": 5,
        "graceful_timeout_s": 6.0,
    }
    for name, value in limits.items():
        monkeypatch.setenv(f"RA_AGENTS_SERVER_{name.upper()}", str(value))
    settings = settings_from_sources()
    assert {name: getattr(settings, name) for name in limits} == limits
    with TestClient(create_app(settings, judge=Judge(ScriptedBackend(default=VERDICT)))) as http:
        answer = http.post("/v1/judge", json={"principle": "p", "prompt": "q", "responses": ["a", "b", "c"]})
    assert answer.status_code == 422 and "max_candidates=2" in answer.text


def test_replicas_from_a_comma_string_and_a_toml_list_are_the_same(clean: Path, monkeypatch) -> None:
    needs("litellm")
    bases = ["http://gpu-a:8000/v1", "http://gpu-b:8000/v1"]
    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/rewardanything")
    monkeypatch.setenv("RA_AGENTS_API_BASE", " http://gpu-a:8000/v1, http://gpu-b:8000/v1 ,")
    from_env = resolve_backend()
    monkeypatch.delenv("RA_AGENTS_API_BASE")
    clean.write_text(f"[backend]\napi_base = {json.dumps(bases)}\n")
    from_file = resolve_backend()
    from_argument = resolve_backend(api_base=",".join(bases))
    for backend in (from_env, from_file, from_argument):
        assert type(backend).__name__ == "LiteLLMBackend" and backend.model == "ra-judge"
        assert backend.endpoints == [(base, None) for base in bases]  # type: ignore[attr-defined]


def test_api_base_alone_works_when_the_model_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    needs("litellm")
    from ra_agents.cli.flags import judge_from_flags

    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/rewardanything")
    judge = judge_from_flags(None, "http://flag:8000/v1")
    assert (judge.backend.model, judge.backend.endpoints) == (  # type: ignore[attr-defined]
        "hosted_vllm/rewardanything",
        [("http://flag:8000/v1", None)],
    )


def test_server_backends_read_the_model_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiteLLM by default; ``http`` on request, with the model and server from the environment."""
    needs("fastapi")
    needs("litellm")
    from ra_agents.remote.server.app import build_judge

    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/m")
    monkeypatch.setenv("RA_AGENTS_API_BASE", "http://env:8000/v1")
    monkeypatch.setenv("HOSTED_VLLM_API_KEY", "vllm-key")
    default = build_judge(ServerSettings())
    assert type(default.backend).__name__ == "LiteLLMBackend"
    direct = build_judge(ServerSettings(backend="http"))
    assert type(direct.backend).__name__ == "OpenAIHTTPBackend"
    assert direct.backend.endpoints == [("http://env:8000/v1", "vllm-key")]  # type: ignore[attr-defined]
    own = build_judge(ServerSettings(backend="http", api_base="http://flag/v1"))  # the server's flag wins
    assert own.backend.endpoints == [("http://flag/v1", "vllm-key")]  # type: ignore[attr-defined]


def test_an_invalid_setting_names_itself_and_its_source(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_AGENTS_JUDGE_PERMUTATIONS", "0")
    with pytest.raises(UsageError, match=r"judge\.permutations \(RA_AGENTS_JUDGE_PERMUTATIONS\)"):
        Judge(ScriptedBackend())
    monkeypatch.delenv("RA_AGENTS_JUDGE_PERMUTATIONS")
    clean.write_text("[judge]\npermutaions = 2\n")
    with pytest.raises(UsageError, match="permutaions"):
        resolve(JudgeSettings)


def test_the_older_principle_variable_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RA_AGENTS_SERVER_PRINCIPLE", "be brief")
    settings, origin = resolve(ServerSettings)
    assert settings.default_principle == "be brief" and origin["default_principle"] == "RA_AGENTS_SERVER_PRINCIPLE"


def test_config_command_names_every_source(clean: Path, monkeypatch, capsys) -> None:
    clean.write_text('[judge]\npermutations = 2\n[backend]\nmodel = "hosted_vllm/x"\napi_key = "secret"\n')
    monkeypatch.setenv("RA_AGENTS_JUDGE_SEED", "5")
    assert main(["config", "--api-base", "http://a/v1"]) == 0
    table = {line.split()[0]: line.split(maxsplit=2)[1:] for line in capsys.readouterr().out.splitlines()}
    assert table["judge.permutations"] == ["2", "ra-agents.toml [judge]"]
    assert table["judge.seed"] == ["5", "RA_AGENTS_JUDGE_SEED"]
    assert table["backend.api_base"] == ['["http://a/v1"]', "argument"]
    assert table["backend.api_key"] == ['"***"', "ra-agents.toml [backend]"]  # never the key itself
    assert table["server.max_batch"] == ["256", "default"]

    assert main(["config", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == json.loads(json.dumps(explain(), default=str))
    assert {"group": "judge", "name": "seed", "value": 5, "source": "RA_AGENTS_JUDGE_SEED"} in rows


def test_reward_settings_are_read_once_for_every_rl_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    from ra_agents import Client
    from ra_agents.groups import reward_judge, reward_settings

    monkeypatch.setenv("RA_AGENTS_REWARD_GROUP_SIZE", "4")
    monkeypatch.setenv("RA_AGENTS_REWARD_JUDGE_URL", "http://127.0.0.1:9")
    settings = reward_settings()
    assert (settings.group_size, settings.group_wait_s, settings.principle) == (4, 300.0, None)
    judge = reward_judge(settings)
    assert isinstance(judge, Client) and judge.base_url == "http://127.0.0.1:9"
    monkeypatch.setenv("RA_AGENTS_REWARD_GROUP_WAIT_S", "soon")
    with pytest.raises(UsageError, match="RA_AGENTS_REWARD_GROUP_WAIT_S"):
        reward_settings()
