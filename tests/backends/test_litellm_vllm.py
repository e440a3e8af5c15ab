"""The production path: a real vLLM server on loopback, reached through LiteLLM.

The bundled model is weak: these tests assert structure (complete, valid verdicts,
usage, ordering, error mapping), never judgement quality.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ra_agents import (
    BackendError,
    BackendUnavailable,
    ContextLengthError,
    Judge,
    JudgeResult,
    UsageError,
    VerdictError,
)
from ra_agents.backends.litellm import LiteLLMBackend
from ra_agents.local.vllm_server import free_port
from tests.fake_openai import FakeOpenAI, chat_reply
from tests.process_probe import ServeCLI, group, listening

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."
PROMPT = "What is 2 + 2?"


def _assert_complete(result: JudgeResult, names: list[str]) -> None:
    assert sorted(result.scores) == sorted(names)
    assert sorted(result.ranking) == sorted(names)
    assert all(1 <= s <= 5 for s in result.scores.values())
    assert all(0.0 <= v <= 1.0 for v in result.normalized.values())
    # the ranking agrees with the scores (non-increasing along it)
    ordered = [result.scores[n] for n in result.ranking]
    assert ordered == sorted(ordered, reverse=True)


def _judge(served, **kwargs) -> Judge:
    return Judge.from_litellm(served.litellm_model, api_base=served.api_base, **kwargs)


# --------------------------------------------------------------------- real server


@pytest.mark.vllm
async def test_single_call_through_litellm(vllm_server, spans) -> None:
    judge = _judge(vllm_server, seed=3)
    result = await judge.ajudge(PRINCIPLE, PROMPT, {"right": "4", "wrong": "5"})
    _assert_complete(result, ["right", "wrong"])
    assert result.usage.prompt_tokens > 50 and result.usage.completion_tokens > 5
    assert result.model == vllm_server.served_name
    # logprob-based expected scores come back from the real server
    assert result.expected_scores is not None
    assert all(1.0 <= v <= 5.0 for v in result.expected_scores.values())
    (span,) = spans.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "vllm"
    assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert span.attributes["ra_agents.winner"] == result.best


@pytest.mark.vllm
async def test_structured_output_for_2_to_16_candidates(vllm_server) -> None:
    judge = _judge(vllm_server, seed=0, logprobs=False)
    sizes = [2, 5, 9, 16]
    requests = [
        {"principle": PRINCIPLE, "prompt": PROMPT, "responses": {f"c{i}": f"answer {i}" for i in range(n)}}
        for n in sizes
    ]
    results = await judge.ajudge_batch(requests)
    for n, result in zip(sizes, results, strict=True):
        assert isinstance(result, JudgeResult), result
        _assert_complete(result, [f"c{i}" for i in range(n)])
        assert result.retries == 0  # the schema made the first answer usable


@pytest.mark.vllm
async def test_batch_keeps_request_order_and_survives_a_bad_item(vllm_server) -> None:
    judge = _judge(vllm_server, seed=1, logprobs=False)
    requests: list[dict[str, Any]] = [
        {"id": "a", "principle": PRINCIPLE, "prompt": PROMPT, "responses": ["4", "5"]},
        {"id": "bad", "principle": PRINCIPLE, "prompt": PROMPT, "responses": []},
        {"id": "c", "principle": PRINCIPLE, "prompt": "Capital of France?", "responses": {"x": "Paris", "y": "Rome"}},
    ]
    results = await judge.ajudge_batch(requests)
    assert isinstance(results[0], JudgeResult) and sorted(results[0].names) == ["0", "1"]
    assert isinstance(results[1], UsageError) and "at least one candidate" in str(results[1])
    assert isinstance(results[2], JudgeResult) and sorted(results[2].names) == ["x", "y"]


@pytest.mark.vllm
async def test_permutations_judge_both_orders_and_report_agreement(vllm_server) -> None:
    judge = _judge(vllm_server, permutations=2, seed=7, logprobs=False)
    result = await judge.ajudge(PRINCIPLE, PROMPT, {"right": "4", "wrong": "5"})
    _assert_complete(result, ["right", "wrong"])
    orders = {p.order for p in result.passes}
    assert orders == {("right", "wrong"), ("wrong", "right")}
    assert result.agreement in (0.5, 1.0)
    assert result.pairwise_agreement in (0.0, 1.0)
    assert result.scores["right"] == sum(p.scores["right"] for p in result.passes) / 2


@pytest.mark.vllm
async def test_context_overflow_is_a_clear_error(vllm_server) -> None:
    judge = _judge(vllm_server, logprobs=False)
    huge = "word " * 6000  # beyond the server's 4096-token context
    with pytest.raises(ContextLengthError) as info:
        await judge.ajudge(PRINCIPLE, PROMPT, {"a": huge, "b": "4"})
    assert "fewer or shorter candidates" in str(info.value)
    assert info.value.status == 400


@pytest.mark.vllm
def test_sync_call_and_cli_against_the_server(vllm_server, tmp_path) -> None:
    from ra_agents.cli import main

    requests = tmp_path / "in.jsonl"
    requests.write_text(
        json.dumps({"id": 1, "principle": PRINCIPLE, "prompt": PROMPT, "responses": ["4", "5"]})
        + "\nnot json\n"
        + json.dumps({"id": 3, "principle": PRINCIPLE, "prompt": PROMPT, "responses": {"a": "4"}})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    code = main(
        ["judge", "-i", str(requests), "-o", str(out), "--model", vllm_server.litellm_model,
         "--api-base", vllm_server.api_base, "--seed", "0"]
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1  # one line failed
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert lines[0]["ok"] and sorted(lines[0]["scores"]) == ["0", "1"]
    assert not lines[1]["ok"] and "line 2 is not valid JSON" in lines[1]["message"]
    assert lines[2]["ok"] and lines[2]["ranking"] == ["a"] and lines[2]["id"] == 3


# ------------------------------- a second real server: replicas, SIGTERM mid-batch


@dataclass
class SecondServer:
    """The second replica, started as a user starts one: ``ra-agents vllm serve`` (issue 21's signal test)."""

    cli: ServeCLI
    pgid: int
    litellm_model: str = "hosted_vllm/smollm2"

    @property
    def api_base(self) -> str:
        return self.cli.api_base


@pytest.fixture(scope="module")
def second_server(vllm_server, tmp_path_factory):
    cli = ServeCLI(free_port(), dict(os.environ), [], tmp_path_factory.mktemp("second") / "cli.log")
    try:
        pgid = cli.wait_ready(timeout=960)  # the command line's own limit is 900 s
        yield SecondServer(cli, pgid)
    finally:
        cli.close()


def _served_requests(api_base: str) -> float:
    metrics = httpx.get(api_base.removesuffix("/v1") + "/metrics", timeout=10).text
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("vllm:request_success_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.vllm
async def test_two_replicas_behind_the_router_share_the_load(vllm_server, second_server) -> None:
    before = [_served_requests(vllm_server.api_base), _served_requests(second_server.api_base)]
    backend = LiteLLMBackend.replicas(
        vllm_server.litellm_model, [vllm_server.api_base, second_server.api_base], num_retries=1
    )
    judge = Judge(backend, seed=0, logprobs=False)
    requests = [{"principle": PRINCIPLE, "prompt": PROMPT, "responses": [str(i), str(i + 1)]} for i in range(6)]
    results = await judge.ajudge_batch(requests)
    assert all(isinstance(r, JudgeResult) for r in results), results
    after = [_served_requests(vllm_server.api_base), _served_requests(second_server.api_base)]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) >= 6 and all(s >= 1 for s in served), served


@pytest.mark.vllm
async def test_server_stopped_mid_batch_gives_clear_errors_and_keeps_the_rest(vllm_server, second_server) -> None:
    """SIGTERM to ``ra-agents vllm serve`` (what kill, timeout, docker stop send) mid-batch.

    The command line exits with 128 + SIGTERM after stopping vLLM's whole group (API server,
    engine core): no process of it is left and the port is free. The batch keeps its first
    verdict, and every later request is a clear BackendUnavailable.
    """
    judge = Judge.from_litellm(
        second_server.litellm_model, api_base=second_server.api_base, seed=0, logprobs=False,
        num_retries=0, timeout=60, concurrency=1,
    )  # fmt: skip
    exit_codes: list[int] = []

    def stop_after_first(index, item) -> None:
        if index == 0 and not exit_codes:
            second_server.cli.process.send_signal(signal.SIGTERM)
            exit_codes.append(second_server.cli.process.wait(timeout=60))

    requests = [{"principle": PRINCIPLE, "prompt": PROMPT, "responses": [str(i), str(i + 1)]} for i in range(4)]
    results = await judge.ajudge_batch(requests, on_result=stop_after_first)
    assert exit_codes == [128 + signal.SIGTERM], second_server.cli.log.read_text()[-3000:]
    assert group(second_server.pgid) == []
    assert not listening(second_server.cli.port)
    assert isinstance(results[0], JudgeResult)
    assert len(results) == 4
    for item in results[1:]:
        assert isinstance(item, BackendUnavailable), item
        assert "is the server running" in str(item) or "cannot reach" in str(item)

    # With the dead replica still in the router, retries move to the live one.
    backend = LiteLLMBackend.replicas(
        vllm_server.litellm_model, [second_server.api_base, vllm_server.api_base], num_retries=3
    )
    survivors = await Judge(backend, seed=0, logprobs=False).ajudge_batch(requests[:2])
    assert all(isinstance(r, JudgeResult) for r in survivors), survivors


# ------------------------------------------------------- wire behaviour (loopback HTTP)


def _verdict(names: list[str]) -> str:
    return json.dumps({"scores": {m: 5 - i for i, m in enumerate(names)}, "best-to-worst": names})


async def test_unreachable_server_is_backend_unavailable() -> None:
    judge = Judge.from_litellm("hosted_vllm/x", api_base=f"http://127.0.0.1:{free_port()}/v1", num_retries=0)
    with pytest.raises(BackendUnavailable) as info:
        await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
    assert "is the server running" in str(info.value) or "cannot reach" in str(info.value)


async def test_traceparent_schema_and_reasoning_field_on_the_wire(spans) -> None:
    with FakeOpenAI() as server:
        server.replies.append(chat_reply(_verdict(["model-1", "model-2"]), reasoning="two is right"))
        judge = Judge.from_litellm("hosted_vllm/fake", api_base=server.api_base, seed=0)
        result = await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
    headers, body = server.requests[0]
    (span,) = spans.get_finished_spans()
    trace_id = format(span.context.trace_id, "032x")
    assert headers["traceparent"].split("-")[1] == trace_id
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["best-to-worst"]["maxItems"] == 2
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    assert result.reasoning == "two is right"
    assert result.usage.prompt_tokens == 11


async def test_5xx_is_retried_and_4xx_is_not() -> None:
    with FakeOpenAI() as server:
        server.replies.append((503, {"error": {"message": "overloaded"}}))
        server.replies.append(chat_reply(_verdict(["model-1", "model-2"])))
        judge = Judge.from_litellm("hosted_vllm/fake", api_base=server.api_base, num_retries=2)
        result = await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
        assert len(server.requests) == 2 and sorted(result.names) == ["0", "1"]

        server.replies.append((401, {"error": {"message": "bad key"}}))
        with pytest.raises(BackendError) as info:
            await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
        assert info.value.status == 401 and len(server.requests) == 3


async def test_truncated_reasoning_says_to_raise_max_tokens() -> None:
    with FakeOpenAI() as server:
        for _ in range(2):
            server.replies.append(chat_reply("<think>let me think about this at length", finish="length"))
        judge = Judge.from_litellm("hosted_vllm/fake", api_base=server.api_base, max_retries=1, max_tokens=32)
        with pytest.raises(VerdictError) as info:
            await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
    assert "max_tokens=32" in str(info.value) and info.value.finish_reason == "length"
    assert info.value.attempts == 2


def test_config_from_environment_builds_replicas(monkeypatch) -> None:
    from ra_agents.settings import load_config, resolve_backend

    monkeypatch.setenv("RA_AGENTS_MODEL", "hosted_vllm/rewardanything")
    monkeypatch.setenv("RA_AGENTS_API_BASE", "http://10.0.0.1:8000/v1, http://10.0.0.2:8000/v1")
    monkeypatch.delenv("RA_AGENTS_CONFIG", raising=False)
    config = load_config()
    assert config["backend"]["api_base"] == ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"]
    backend = resolve_backend(**config["backend"])
    assert isinstance(backend, LiteLLMBackend) and backend.router is not None
    assert len(backend.router.model_list) == 2 and backend.provider == "vllm"


def test_config_file(tmp_path, monkeypatch) -> None:
    from ra_agents.settings import load_config, resolve_backend

    for var in ("RA_AGENTS_MODEL", "RA_AGENTS_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    file = tmp_path / "ra.toml"
    file.write_text('[backend]\nmodel = "hosted_vllm/ra"\napi_base = "http://h:8000/v1"\ntimeout = 5\n')
    backend = resolve_backend(config_path=file)
    assert load_config(file)["backend"]["timeout"] == 5
    assert isinstance(backend, LiteLLMBackend)
    assert (backend.api_base, backend.timeout, backend.router) == ("http://h:8000/v1", 5.0, None)
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_sync_wrapper_inside_an_event_loop_names_the_async_method() -> None:
    judge = Judge.from_litellm("hosted_vllm/x", api_base="http://127.0.0.1:9/v1")

    async def inside() -> None:
        judge.judge(PRINCIPLE, PROMPT, ["4"])

    with pytest.raises(UsageError, match="ajudge"):
        asyncio.run(inside())
