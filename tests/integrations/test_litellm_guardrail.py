"""The principle guardrail in the LiteLLM proxy.

Two layers: the hooks called directly with a scripted judge, for exact outcomes; then a
real ``litellm`` proxy process on loopback, started once for the session from a config
this file writes, with the proxied model and the judge both being the test vLLM server.
The bundled model is weak, so the real tests force outcomes with thresholds (0 passes
everything, above 1 fails everything) and assert structure, never judgement quality.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from litellm.types.utils import (
    ChatCompletionDeltaToolCall,
    Choices,
    Delta,
    Function,
    Message,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
)

from ra_agents import BackendUnavailable, Judge, Principle, UsageError, prompt_text
from ra_agents.integrations.litellm_guardrail import HEADER_PREFIX, PrincipleGuardrail
from ra_agents.local.vllm_server import free_port
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

# LiteLLM's types build pydantic schemas lazily; pydantic warns about their ReadOnly items.
pytestmark = pytest.mark.filterwarnings("ignore:Items? .* using the `ReadOnly` qualifier:UserWarning")

PRINCIPLE = "Never give medical dosages; send the user to a pharmacist."
SAFE = "Please ask a pharmacist."
UNSAFE = "Take 800 mg every two hours."
FALLBACK = "I can't help with dosages; please ask a pharmacist."
QUESTION = [{"role": "user", "content": "How much ibuprofen can I take?"}]


# ------------------------------------------------------------------ scripted judge


def _guardrail(answer: Any = None, **kwargs: Any) -> tuple[PrincipleGuardrail, ScriptedBackend]:
    backend = ScriptedBackend(default=answer or prefer(lambda t: "pharmacist" in t))
    kwargs.setdefault("principle", PRINCIPLE)
    kwargs.setdefault("guardrail_name", "ra-test")
    kwargs.setdefault("event_hook", "post_call")
    return PrincipleGuardrail(judge=Judge(backend, seed=0), **kwargs), backend


def _response(*texts: str) -> ModelResponse:
    return ModelResponse(
        model="m",
        choices=[
            Choices(index=i, message=Message(role="assistant", content=t), finish_reason="length")
            for i, t in enumerate(texts)
        ],
    )


def _data(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": list(QUESTION), **extra}


def _headers(response: ModelResponse) -> dict[str, str]:
    return dict(response._hidden_params["additional_headers"])


async def _post(guard: PrincipleGuardrail, response: ModelResponse, data: dict[str, Any] | None = None) -> Any:
    return await guard.async_post_call_success_hook(data=data or _data(), user_api_key_dict=None, response=response)  # type: ignore[arg-type]


async def test_a_passing_response_goes_out_unchanged_with_its_verdict_in_headers() -> None:
    guard, backend = _guardrail(threshold=0.5)
    out = await _post(guard, _response(SAFE))
    assert [c.message.content for c in out.choices] == [SAFE]
    headers = _headers(out)
    assert headers[HEADER_PREFIX + "action"] == "allow"
    assert headers[HEADER_PREFIX + "verdict"] == "pass"
    assert headers[HEADER_PREFIX + "score"] == "1.000"
    assert headers[HEADER_PREFIX + "threshold"] == "0.5"
    assert headers[HEADER_PREFIX + "name"] == "ra-test"
    assert HEADER_PREFIX + "choice" not in headers
    (messages, _), *_ = backend.calls
    sent = json.loads(messages[1]["content"])
    assert sent["principle"] == PRINCIPLE and sent["prompt"] == QUESTION[0]["content"]
    assert list(sent["responses"].values()) == [SAFE]


async def test_block_is_a_400_naming_principle_score_and_threshold() -> None:
    guard, _ = _guardrail(threshold=0.75, on_fail="block")
    data = _data()
    with pytest.raises(HTTPException) as info:
        await _post(guard, _response(UNSAFE), data)
    err = info.value
    assert err.status_code == 400
    detail: Any = err.detail
    message = detail["error"]
    assert "'Never give medical dosages; send the user to a pharmacist.'" in message
    assert "scored 0.00" in message and "threshold 0.75" in message and "'ra-test'" in message
    assert detail["score"] == 0.0 and detail["threshold"] == 0.75
    assert err.headers is not None
    assert err.headers[HEADER_PREFIX + "action"] == "block" and err.headers[HEADER_PREFIX + "verdict"] == "fail"
    # the verdict is in LiteLLM's guardrail logging, without the response text
    (logged,) = data["metadata"]["standard_logging_guardrail_information"]
    assert logged["guardrail_status"] == "guardrail_intervened"
    assert logged["guardrail_response"]["action"] == "block"
    assert UNSAFE not in json.dumps(logged, default=str)


async def test_replace_answers_with_the_fallback() -> None:
    guard, _ = _guardrail(on_fail="replace", fallback=FALLBACK)
    out = await _post(guard, _response(UNSAFE))
    (choice,) = out.choices
    assert choice.message.content == FALLBACK and choice.finish_reason == "stop" and choice.index == 0
    assert _headers(out)[HEADER_PREFIX + "action"] == "replace"


async def test_several_choices_are_judged_in_one_call_and_the_best_passing_one_returned() -> None:
    scores = {UNSAFE: 1, "Ask a pharmacist.": 4, SAFE: 5, "Maybe a pharmacist?": 3}

    def answer(messages: Any, settings: Any) -> str:
        shown = shown_responses(messages)
        ranking = sorted(shown, key=lambda m: -scores[shown[m]])
        return json.dumps({"scores": {m: scores[t] for m, t in shown.items()}, "best-to-worst": ranking})

    guard, backend = _guardrail(answer, threshold=0.5)
    out = await _post(guard, _response(UNSAFE, "Ask a pharmacist.", SAFE, "Maybe a pharmacist?"))
    assert len(backend.calls) == 1 and len(shown_responses(backend.calls[0][0])) == 4
    (choice,) = out.choices
    assert choice.message.content == SAFE and choice.index == 0
    headers = _headers(out)
    assert headers[HEADER_PREFIX + "action"] == "select" and headers[HEADER_PREFIX + "choice"] == "2"


async def test_several_choices_none_passing_get_the_fallback() -> None:
    guard, _ = _guardrail(prefer(lambda t: False), on_fail="replace", fallback=FALLBACK)
    out = await _post(guard, _response(UNSAFE, "Take 2 g."))
    assert [c.message.content for c in out.choices] == [FALLBACK]


async def test_log_records_a_failure_and_changes_nothing() -> None:
    guard, _ = _guardrail(on_fail="log")
    data = _data()
    out = await _post(guard, _response(UNSAFE, SAFE), data)
    assert [c.message.content for c in out.choices] == [UNSAFE, SAFE]  # log never rewrites
    out = await _post(guard, _response(UNSAFE), data)
    assert [c.message.content for c in out.choices] == [UNSAFE]
    assert _headers(out)[HEADER_PREFIX + "action"] == "log"
    assert [r["guardrail_status"] for r in data["metadata"]["standard_logging_guardrail_information"]] == [
        "success",
        "guardrail_flagged",
    ]


async def test_two_guardrails_on_one_response_join_their_header_values() -> None:
    strict, _ = _guardrail(guardrail_name="strict", threshold=0.75, on_fail="log")
    lenient, _ = _guardrail(prefer(lambda t: True, high=4), guardrail_name="lenient", threshold=0.5)
    out = await _post(lenient, await _post(strict, _response(SAFE)))
    headers = _headers(out)
    assert headers[HEADER_PREFIX + "name"] == "strict, lenient"
    assert headers[HEADER_PREFIX + "score"] == "1.000, 0.750"
    assert headers[HEADER_PREFIX + "threshold"] == "0.75, 0.5"


async def test_fail_open_lets_the_response_through_and_says_so() -> None:
    guard, _ = _guardrail(BackendUnavailable("judge down"), on_judge_error="fail_open")
    out = await _post(guard, _response(UNSAFE))
    assert [c.message.content for c in out.choices] == [UNSAFE]
    headers = _headers(out)
    assert headers[HEADER_PREFIX + "action"] == "fail_open"
    assert headers[HEADER_PREFIX + "verdict"] == "error"
    assert headers[HEADER_PREFIX + "error"] == "BackendUnavailable"
    assert HEADER_PREFIX + "score" not in headers


def test_the_earlier_on_error_key_and_spellings_are_still_read() -> None:
    with pytest.warns(DeprecationWarning, match="on_error is deprecated"):
        guard, _ = _guardrail(on_error="fail_open")
    assert guard.on_judge_error == "fail_open"
    assert _guardrail(on_judge_error="pass")[0].on_judge_error == "fail_open"
    assert _guardrail()[0].on_judge_error == "fail_closed"
    with pytest.warns(DeprecationWarning, match="on_error"), pytest.raises(UsageError, match="on_judge_error only"):
        _guardrail(on_error="fail_open", on_judge_error="fail_closed")


async def test_raise_lets_the_judge_error_through() -> None:
    guard, _ = _guardrail(BackendUnavailable("judge down"), on_judge_error="raise")
    with pytest.raises(BackendUnavailable, match="judge down"):
        await _post(guard, _response(SAFE))


async def test_the_conversation_reaches_the_judge_as_every_adapter_sends_it() -> None:
    guard, backend = _guardrail()
    conversation = [
        {"role": "system", "content": "Be careful."},
        {"role": "user", "content": [{"type": "text", "text": "Dose?"}, {"type": "text", "text": "Be brief."}]},
    ]
    await _post(guard, _response(SAFE), {"model": "m", "messages": conversation})
    (messages, _), *_ = backend.calls
    assert json.loads(messages[1]["content"])["prompt"] == prompt_text(conversation)
    assert prompt_text(conversation) == "system: Be careful.\nuser: Dose?\n  Be brief."


async def test_fail_closed_withholds_the_response_with_a_503() -> None:
    guard, _ = _guardrail(BackendUnavailable("judge down at http://10.0.0.9"))
    with pytest.raises(HTTPException) as info:
        await _post(guard, _response(SAFE))
    detail: Any = info.value.detail
    assert info.value.status_code == 503
    assert "could not judge" in detail["error"] and "fails closed" in detail["error"]
    assert "10.0.0.9" not in detail["error"]  # internal addresses stay in the proxy's log
    assert info.value.headers is not None and info.value.headers[HEADER_PREFIX + "action"] == "fail_closed"


async def test_request_principle_is_used_only_when_allowed() -> None:
    asked = "Answer in French."
    data = _data(metadata={"ra_principle": asked})
    for allowed, used, override in ((True, asked, "applied"), (False, PRINCIPLE, "denied")):
        guard, backend = _guardrail(allow_request_principle=allowed)
        out = await _post(guard, _response(SAFE), data)
        assert json.loads(backend.calls[0][0][1]["content"])["principle"] == used
        assert _headers(out)[HEADER_PREFIX + "override"] == override


async def test_a_blank_request_principle_is_a_400_when_allowed() -> None:
    guard, _ = _guardrail(allow_request_principle=True)
    with pytest.raises(HTTPException) as info:
        await _post(guard, _response(SAFE), _data(metadata={"ra_principle": "  "}))
    assert info.value.status_code == 400


@pytest.fixture
def library(monkeypatch: pytest.MonkeyPatch) -> dict[str, Principle]:
    """A stand-in ``ra_agents.principles`` module (the library's own tests cover the real one)."""
    entries = {"no-dosage": Principle(text=PRINCIPLE, id="no-dosage"), "french": Principle(text="French.", id="french")}

    def get(principle_id: str) -> Principle:
        try:
            return entries[principle_id]
        except KeyError:
            raise UsageError(f"no principle {principle_id!r}") from None

    module = types.ModuleType("ra_agents.principles")
    module.get = get  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ra_agents.principles", module)
    return entries


async def test_principle_id_from_the_library_in_config_and_in_the_request(library: dict[str, Principle]) -> None:
    guard, backend = _guardrail(principle=None, principle_id="no-dosage", allow_request_principle=True)
    assert guard.principle_label == "no-dosage"
    out = await _post(guard, _response(SAFE), _data(metadata={"ra_principle_id": "french"}))
    assert json.loads(backend.calls[0][0][1]["content"])["principle"] == "French."
    assert _headers(out)[HEADER_PREFIX + "principle"] == "french"
    with pytest.raises(HTTPException) as info:
        await _post(guard, _response(SAFE), _data(metadata={"ra_principle_id": "nope"}))
    detail: Any = info.value.detail
    assert info.value.status_code == 400 and "nope" in detail["error"]
    with pytest.raises(UsageError, match="guardrail 'ra-test': no principle 'nope'"):
        _guardrail(principle=None, principle_id="nope")


def test_principle_id_from_the_shipped_library() -> None:
    from ra_agents import principles

    entry = next(iter(principles.default_library()))
    guard, _ = _guardrail(principle=None, principle_id=entry.id)
    assert guard.principle == entry and guard.principle_label == entry.id
    with pytest.raises(UsageError, match="unknown principle id 'no-such-id'"):
        _guardrail(principle=None, principle_id="no-such-id")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"principle": None}, "exactly one of principle"),
        ({"principle_id": "x"}, "exactly one of principle"),
        ({"principle": " "}, "empty"),
        ({"on_fail": "mask"}, "on_fail must be block, replace or log"),
        ({"on_fail": "replace"}, "needs a fallback"),
        ({"on_judge_error": "retry"}, "on_judge_error must be one of"),
        ({"threshold": -0.1}, r"threshold is a unit score in \[0, 1\]"),
        ({"threshold": float("nan")}, r"threshold is a unit score in \[0, 1\]"),
        ({"threshold": "high"}, "threshold must be a number"),
    ],
)
def test_settings_that_cannot_work_are_clear_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _guardrail(**kwargs)


def test_a_judge_model_is_required_and_only_post_call_is_supported() -> None:
    with pytest.raises(UsageError, match="set judge_model"):
        PrincipleGuardrail(principle=PRINCIPLE, guardrail_name="g", event_hook="post_call")
    with pytest.raises(ValueError, match="not in the supported event hooks"):
        _guardrail(event_hook="pre_call")


def test_litellm_builds_it_from_config_params(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The proxy's own guardrail loader, with the params a YAML entry gives (and LiteLLM's defaults)."""
    import litellm
    from litellm.proxy.guardrails.guardrail_registry import InMemoryGuardrailHandler

    handler = InMemoryGuardrailHandler()
    params: Any = {
        "guardrail": "ra_agents.integrations.litellm_guardrail.PrincipleGuardrail",
        "mode": "post_call",
        "principle": PRINCIPLE,
        "threshold": 0.6,
        "on_fail": "replace",
        "fallback": FALLBACK,
        "on_judge_error": "fail_open",
        "judge_model": "hosted_vllm/judge",
        "judge_api_base": "http://127.0.0.1:9/v1",
        "judge_api_key": "os.environ/RA_TEST_JUDGE_KEY",
        "judge_max_tokens": 64,
    }
    monkeypatch.setenv("RA_TEST_JUDGE_KEY", "sk-judge")
    try:
        handler.initialize_guardrail(
            {"guardrail_name": "ra-cfg", "litellm_params": params}, config_file_path=str(tmp_path / "cfg.yaml")
        )
        guard = next(iter(handler.guardrail_id_to_custom_guardrail.values()))
        assert isinstance(guard, PrincipleGuardrail)
        assert (guard.guardrail_name, guard.threshold, guard.on_fail, guard.on_judge_error) == (
            "ra-cfg", 0.6, "replace", "fail_open"
        )  # fmt: skip
        assert isinstance(guard.judge, Judge)  # built from judge_model
        backend: Any = guard.judge.backend
        assert (backend.model, backend.api_base, backend.api_key) == (
            "hosted_vllm/judge", "http://127.0.0.1:9/v1", "sk-judge"
        )  # fmt: skip
        assert guard.judge.max_tokens == 64
    finally:
        for callback in list(handler.guardrail_id_to_custom_guardrail.values()):
            litellm.logging_callback_manager.remove_callback_from_all_lists(callback)


async def test_non_chat_responses_pass_untouched() -> None:
    guard, backend = _guardrail()
    marker = object()
    assert await _post(guard, marker) is marker  # type: ignore[arg-type]
    assert backend.calls == []


# ----------------------------------------------------------------------- streaming


def _chunks(*texts: str) -> list[ModelResponseStream]:
    chunks = []
    for i, text in enumerate(texts):
        for word in text.split(" "):
            delta = Delta(role="assistant", content=word + " ")
            chunks.append(ModelResponseStream(id="s", model="m", choices=[StreamingChoices(index=i, delta=delta)]))
    return chunks


async def _aiter(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def _stream(guard: PrincipleGuardrail, chunks: list[Any]) -> list[Any]:
    hook = guard.async_post_call_streaming_iterator_hook(
        user_api_key_dict=None,  # type: ignore[arg-type]
        response=_aiter(chunks),
        request_data=_data(stream=True),
    )
    return [chunk async for chunk in hook]


def _streamed_text(chunks: list[Any]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunks:
        for c in chunk.choices:
            out[c.index] = out.get(c.index, "") + (c.delta.content or "")
    return out


async def test_a_stream_is_judged_whole_then_released_selected_replaced_or_blocked() -> None:
    guard, backend = _guardrail()
    assert _streamed_text(await _stream(guard, _chunks(SAFE))) == {0: SAFE + " "}
    assert shown_responses(backend.calls[0][0]) == {"model-1": SAFE + " "}

    selected = await _stream(guard, _chunks(UNSAFE, SAFE))
    assert _streamed_text(selected) == {0: SAFE + " "}

    guard, _ = _guardrail(on_fail="replace", fallback=FALLBACK)
    assert _streamed_text(await _stream(guard, _chunks(UNSAFE))) == {0: FALLBACK}

    guard, _ = _guardrail(on_fail="block")
    with pytest.raises(HTTPException) as info:
        await _stream(guard, _chunks(UNSAFE))
    assert info.value.status_code == 400


async def test_streamed_tool_calls_reach_the_judge() -> None:
    guard, backend = _guardrail(prefer(lambda t: "lookup" in t))
    call = ChatCompletionDeltaToolCall(index=0, id="c1", function=Function(name="lookup", arguments='{"q": 1}'))
    chunk = ModelResponseStream(id="s", model="m", choices=[StreamingChoices(index=0, delta=Delta(tool_calls=[call]))])
    assert await _stream(guard, [chunk]) == [chunk]
    (shown,) = shown_responses(backend.calls[0][0]).values()
    assert 'lookup({"q": 1})' in shown


# ------------------------------------------------- the real proxy, in front of vLLM

_GUARDRAILS: dict[str, dict[str, Any]] = {
    "ra-pass": {"threshold": 0},
    "ra-block": {"threshold": 1.5, "on_fail": "block"},
    "ra-replace": {"threshold": 1.5, "on_fail": "replace", "fallback": FALLBACK},
    "ra-log": {"threshold": 1.5, "on_fail": "log", "library": True},
    "ra-override": {"threshold": 0, "allow_request_principle": True},
    "ra-down-open": {"threshold": 0, "on_judge_error": "fail_open", "dead_judge": True},
    "ra-down-closed": {"threshold": 0, "on_judge_error": "fail_closed", "dead_judge": True},
}


class Proxy:
    """A ``litellm`` proxy process on loopback."""

    def __init__(self, config: Path, port: int, key: str, log: Path) -> None:
        self.config, self.port, self.key, self.log = config, port, key, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def start(self, timeout: float = 180.0) -> Proxy:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LITELLM_MASTER_KEY")}
        env.update(LITELLM_MASTER_KEY=self.key, LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1")
        script = Path(sys.executable).with_name("litellm")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "litellm.proxy.proxy_cli"]
        command += ["--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)]
        started = time.monotonic()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=self.config.parent, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"the proxy exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(self.url + "/health/readiness", timeout=2).status_code == 200:
                    self.startup_s = time.monotonic() - started
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise AssertionError(f"the proxy was not ready after {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def chat(self, guardrail: str, **body: Any) -> httpx.Response:
        payload = {
            "model": "assistant",
            "messages": QUESTION,
            "max_tokens": 8,
            "temperature": 0,
            "guardrails": [guardrail],
            **body,
        }
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.post(self.url + "/v1/chat/completions", json=payload, headers=headers, timeout=120)


def _library_id() -> str:
    from ra_agents import principles

    return str(next(iter(principles.default_library())).id)


def _config(vllm_server: Any) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    guardrails = []
    for name, settings in _GUARDRAILS.items():
        settings = dict(settings)
        principle = {"principle_id": _library_id()} if settings.pop("library", False) else {"principle": PRINCIPLE}
        params = {
            "guardrail": "ra_agents.integrations.litellm_guardrail.PrincipleGuardrail",
            "mode": "post_call",
            **principle,
            "judge_model": vllm_server.litellm_model,
            "judge_api_base": dead if settings.pop("dead_judge", False) else vllm_server.api_base,
            "judge_timeout": 60,
            **settings,
        }
        guardrails.append({"guardrail_name": name, "litellm_params": params})
    model = {"model": vllm_server.litellm_model, "api_base": vllm_server.api_base}
    return {"model_list": [{"model_name": "assistant", "litellm_params": model}], "guardrails": guardrails}


@pytest.fixture(scope="session")
def proxy(vllm_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    folder = tmp_path_factory.mktemp("litellm-proxy")
    config = folder / "config.yaml"
    config.write_text(json.dumps(_config(vllm_server), indent=2))  # JSON is YAML
    server = Proxy(config, free_port(), "sk-" + secrets.token_hex(32), folder / "proxy.log").start()
    print(f"\nLiteLLM proxy ready in {server.startup_s:.1f} s")
    yield server
    server.stop()


def _verdict(response: httpx.Response) -> dict[str, str]:
    return {k.removeprefix(HEADER_PREFIX): v for k, v in response.headers.items() if k.startswith(HEADER_PREFIX)}


@pytest.mark.vllm
def test_proxy_passes_a_response_with_the_verdict_in_its_headers(proxy: Proxy) -> None:
    response = proxy.chat("ra-pass")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    verdict = _verdict(response)
    assert verdict["name"] == "ra-pass" and verdict["action"] == "allow" and verdict["verdict"] == "pass"
    assert 0.0 <= float(verdict["score"]) <= 1.0 and verdict["threshold"] == "0"
    assert "ra-pass" in response.headers["x-litellm-applied-guardrails"]


@pytest.mark.vllm
def test_proxy_blocks_with_a_400_naming_the_principle(proxy: Proxy) -> None:
    response = proxy.chat("ra-block")
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "Never give medical dosages" in message and "threshold 1.5" in message and "scored" in message
    verdict = _verdict(response)
    assert verdict["action"] == "block" and verdict["verdict"] == "fail" and float(verdict["score"]) <= 1.0
    # and the proxy's own log says so
    deadline = time.monotonic() + 10
    while "ra guardrail 'ra-block': fail, action block" not in proxy.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, proxy.tail()
        time.sleep(0.2)


@pytest.mark.vllm
def test_proxy_replaces_a_failing_response_with_the_fallback(proxy: Proxy) -> None:
    response = proxy.chat("ra-replace")
    assert response.status_code == 200, response.text
    (choice,) = response.json()["choices"]
    assert choice["message"]["content"] == FALLBACK
    assert _verdict(response)["action"] == "replace"


@pytest.mark.vllm
def test_proxy_log_only_records_under_a_library_principle(proxy: Proxy) -> None:
    response = proxy.chat("ra-log")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] != FALLBACK
    verdict = _verdict(response)
    assert verdict["action"] == "log" and verdict["verdict"] == "fail"
    assert verdict["principle"] == _library_id()  # configured by principle_id


@pytest.mark.vllm
def test_proxy_returns_the_best_of_several_choices(proxy: Proxy) -> None:
    response = proxy.chat("ra-pass", n=2, temperature=1.0, seed=1)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 1
    verdict = _verdict(response)
    assert verdict["action"] == "select" and verdict["choice"] in ("0", "1")


@pytest.mark.vllm
def test_proxy_judge_failures_follow_on_judge_error(proxy: Proxy) -> None:
    opened = proxy.chat("ra-down-open")
    assert opened.status_code == 200, opened.text
    assert _verdict(opened)["action"] == "fail_open" and _verdict(opened)["error"] == "BackendUnavailable"
    closed = proxy.chat("ra-down-closed")
    assert closed.status_code == 503, closed.text
    assert "could not judge" in closed.json()["error"]["message"]
    assert _verdict(closed)["action"] == "fail_closed"


@pytest.mark.vllm
def test_proxy_request_principle_only_where_allowed(proxy: Proxy) -> None:
    asked = {"metadata": {"ra_principle": "Answer in one word."}}
    allowed = proxy.chat("ra-override", **asked)
    assert allowed.status_code == 200, allowed.text
    assert _verdict(allowed)["override"] == "applied" and _verdict(allowed)["principle"] == "Answer in one word."
    denied = proxy.chat("ra-pass", **asked)
    assert denied.status_code == 200, denied.text
    assert _verdict(denied)["override"] == "denied" and _verdict(denied)["principle"].startswith("Never give")


@pytest.mark.vllm
def test_proxy_judges_a_stream_before_releasing_it(proxy: Proxy) -> None:
    headers = {"Authorization": f"Bearer {proxy.key}"}
    body = {"model": "assistant", "messages": QUESTION, "max_tokens": 8, "stream": True, "guardrails": ["ra-replace"]}
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
        assert r.status_code == 200
        events = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(
        (c.get("delta") or {}).get("content") or "" for e in events[:-1] for c in json.loads(e).get("choices", [])
    )
    assert text == FALLBACK


@pytest.mark.vllm
def test_proxy_blocks_a_stream_before_its_first_byte(proxy: Proxy) -> None:
    headers = {"Authorization": f"Bearer {proxy.key}"}
    body = {"model": "assistant", "messages": QUESTION, "max_tokens": 8, "stream": True, "guardrails": ["ra-block"]}
    with httpx.stream("POST", proxy.url + "/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
        events = [line.removeprefix("data: ") for line in r.iter_lines() if line.startswith("data: ")]
    assert r.status_code == 400
    assert events[-1] == "[DONE]"
    (error,) = (json.loads(e)["error"] for e in events[:-1])
    assert "blocked by guardrail 'ra-block'" in error["message"] and "Never give medical dosages" in error["message"]
