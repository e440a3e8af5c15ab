"""The lean OpenAI-compatible HTTP backend: the same wire and errors as the LiteLLM one, on loopback and on vLLM."""

from __future__ import annotations

import json

import pytest

from ra_agents import BackendError, BackendUnavailable, ContextLengthError, Judge, UsageError, VerdictError
from ra_agents.backends.openai_http import OpenAIHTTPBackend
from ra_agents.local.vllm_server import free_port
from ra_agents.remote.server import ServerSettings
from ra_agents.remote.server.app import build_judge
from tests.fake_openai import FakeOpenAI, chat_reply

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."
PROMPT = "What is 2 + 2?"


def _verdict(names: list[str]) -> str:
    return json.dumps({"scores": {m: 5 - i for i, m in enumerate(names)}, "best-to-worst": names})


def _judge(api_base: str, model: str = "hosted_vllm/fake", *, num_retries: int = 2, **kwargs) -> Judge:
    return Judge(OpenAIHTTPBackend(model, api_base=api_base, num_retries=num_retries), **kwargs)


async def test_wire_body_traceparent_reasoning_and_usage(spans) -> None:
    with FakeOpenAI() as server:
        server.replies.append(chat_reply(_verdict(["model-1", "model-2"]), reasoning="four is right"))
        backend = OpenAIHTTPBackend("hosted_vllm/org/judge-8b", api_base=server.api_base)
        result = await Judge(backend, seed=0).ajudge(PRINCIPLE, PROMPT, ["4", "5"])
        await backend.aclose()
    headers, body = server.requests[0]
    assert body["model"] == "org/judge-8b"  # the LiteLLM prefix is not sent
    assert backend.provider == "vllm"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["best-to-worst"]["maxItems"] == 2
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    (span,) = spans.get_finished_spans()
    assert headers["traceparent"].split("-")[1] == format(span.context.trace_id, "032x")
    assert result.reasoning == "four is right"
    assert result.usage.prompt_tokens == 11
    assert sorted(result.scores) == ["0", "1"]


async def test_5xx_is_retried_4xx_is_not_and_context_overflow_is_typed() -> None:
    with FakeOpenAI() as server:
        judge = _judge(server.api_base)
        server.replies.append((503, {"error": {"message": "overloaded"}}))
        server.replies.append(chat_reply(_verdict(["model-1", "model-2"])))
        await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
        assert len(server.requests) == 2

        server.replies.append((401, {"error": {"message": "bad key"}}))
        with pytest.raises(BackendError) as info:
            await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
        assert info.value.status == 401 and "bad key" in str(info.value) and len(server.requests) == 3

        message = "This model's maximum context length is 2048 tokens. However, you requested 9000 tokens."
        server.replies.append((400, {"error": {"message": message}}))
        with pytest.raises(ContextLengthError, match="larger --max-model-len"):
            await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])


async def test_unreachable_server_and_a_body_that_is_not_a_completion() -> None:
    judge = _judge(f"http://127.0.0.1:{free_port()}/v1", num_retries=0)
    with pytest.raises(BackendUnavailable, match="is the server running"):
        await judge.ajudge(PRINCIPLE, PROMPT, ["4", "5"])
    with FakeOpenAI() as server:
        server.replies.append((200, {"unexpected": True}))
        with pytest.raises(BackendError, match="not a chat completion"):
            await _judge(server.api_base).ajudge(PRINCIPLE, PROMPT, ["4", "5"])


async def test_truncated_answer_says_to_raise_max_tokens() -> None:
    with FakeOpenAI() as server:
        for _ in range(2):
            server.replies.append(chat_reply("<think>at length", finish="length"))
        with pytest.raises(VerdictError, match="max_tokens=32"):
            await _judge(server.api_base, max_retries=1, max_tokens=32).ajudge(PRINCIPLE, PROMPT, ["4", "5"])


def test_sync_judge_and_the_server_setting() -> None:
    with FakeOpenAI() as server:
        server.replies.append(chat_reply(_verdict(["model-1", "model-2"])))
        assert _judge(server.api_base, seed=1).judge(PRINCIPLE, PROMPT, {"a": "4", "b": "5"}).best in ("a", "b")
        judge = build_judge(ServerSettings(model="hosted_vllm/x", api_base=server.api_base, backend="http"))
        assert isinstance(judge.backend, OpenAIHTTPBackend)
        assert judge.backend.endpoints == [(server.api_base, None)]
    with pytest.raises(UsageError, match="ONE --api-base"):
        build_judge(ServerSettings(model="hosted_vllm/x", api_base="http://a/v1,http://b/v1", backend="http"))


@pytest.mark.vllm
async def test_real_vllm_server_structured_verdict_with_logprobs(vllm_server) -> None:
    backend = OpenAIHTTPBackend(vllm_server.litellm_model, api_base=vllm_server.api_base)
    result = await Judge(backend, seed=3).ajudge(PRINCIPLE, PROMPT, {"right": "4", "wrong": "5"})
    await backend.aclose()
    assert sorted(result.ranking) == ["right", "wrong"]
    assert all(1 <= s <= 5 for s in result.scores.values())
    assert result.model == vllm_server.served_name
    assert result.expected_scores is not None
    assert result.usage.prompt_tokens > 50


def test_a_sync_script_exits_without_unclosed_session_warnings() -> None:
    """The sync portal never stops, so its connection pool is closed at exit: no 'Unclosed client session'."""
    import subprocess
    import sys

    script = (
        "from ra_agents import Judge\n"
        "from ra_agents.backends.openai_http import OpenAIHTTPBackend\n"
        "from ra_agents.testing import LoopbackOpenAI, verdict_reply\n"
        "with LoopbackOpenAI(verdict_reply(lambda t: 5 if 'b' in t else 1)) as s:\n"
        "    print(Judge(OpenAIHTTPBackend('x', api_base=s.api_base)).judge('p', 'q', {'a': 'a', 'b': 'b'}).best)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "b", done.stderr
    assert "Unclosed" not in done.stderr, done.stderr
