"""The judge client against the real server, over real HTTP.

The server runs as a subprocess (``ra-agents serve``) in front of a loopback
OpenAI-compatible upstream in this process that scores a candidate 5 when its text
contains "good", else 1. A second server requires API keys. Retry and error paths
that the real server cannot be made to produce on demand (429 with ``Retry-After``,
503, a body that is not JSON, a slow answer) use a small scripted HTTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import ra_agents
from ra_agents import (
    AsyncClient,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    Client,
    Judge,
    JudgeRequest,
    JudgeResult,
    LimitError,
    MultiResult,
    PassVerdict,
    Principle,
    Usage,
    UsageError,
    VerdictError,
    verdict_to_dict,
)
from ra_agents.local.vllm_server import free_port
from ra_agents.remote.server.settings import ServerSettings
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion

ROOT = Path(__file__).resolve().parents[2]
PRINCIPLE = "Prefer answers that are good."
PROMPT = "Say something."
KEYS = ("k1", "k2")


# ------------------------------------------------------------------ fixtures


SEEN: list[list[dict[str, Any]]] = []
"""The messages of every upstream call, in arrival order."""

NO_VERDICT = "Answer with no verdict."
"""A prompt the upstream answers with no usable verdict."""


def _prefer_good(body: dict[str, Any]) -> Reply:
    SEEN.append(body["messages"])
    shown = json.loads(body["messages"][1]["content"])
    if shown["prompt"] == NO_VERDICT:
        return chat_completion("I cannot decide.", finish="length")
    scores = {name: 5 if "good" in text else 1 for name, text in shown["responses"].items()}
    ranking = sorted(scores, key=lambda name: -scores[name])
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": ranking}))


class _Server:
    """``ra-agents serve`` as a subprocess."""

    def __init__(self, api_base: str, log: Path, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("RA_AGENTS_")}
        env.update(HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
        command = [sys.executable, "-m", "ra_agents.cli", "serve", "--port", str(self.port)]
        command += ["--model", "hosted_vllm/x", "--api-base", api_base, *flags]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait(self, limit_s: float = 180.0) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the server did not answer /health within {limit_s} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both servers, started together (their start-ups overlap): ``open`` and ``keyed``."""
    logs = tmp_path_factory.mktemp("servers")
    with LoopbackOpenAI(_prefer_good) as upstream:
        started = {
            "open": _Server(upstream.api_base, logs / "open.log", "--group-size", "2", "--group-wait", "1"),
            "keyed": _Server(upstream.api_base, logs / "keyed.log", *(f"--api-key={k}" for k in KEYS)),
        }
        try:
            for server in started.values():
                server.wait()
            yield {**{name: server.url for name, server in started.items()}, "upstream": upstream.api_base}
        finally:
            for server in started.values():
                server.stop()


@pytest.fixture(scope="module")
def url(servers: dict[str, str]) -> str:
    return servers["open"]


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[Client]:
    with Client(url) as c:
        yield c


class _Scripted:
    """An HTTP server answering each request with the next scripted reply (the last one repeats).

    A reply is ``(status, headers, body, delay_s)``; ``hits`` counts the requests.
    """

    def __init__(self, *replies: tuple[int, dict[str, str], bytes, float]) -> None:
        self.replies = list(replies)
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's API
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                index = min(owner.hits, len(owner.replies) - 1)
                owner.hits += 1
                status, headers, body, delay = owner.replies[index]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in {"Content-Length": str(len(body)), **headers}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None, delay: float = 0.0) -> Any:
    body = json.dumps({"error": {"type": kind, "message": message, "limit": None, "value": None}}).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body, delay


def _verdict_reply() -> tuple[int, dict[str, str], bytes, float]:
    verdict = JudgeResult(
        names=("a", "b"),
        scores={"a": 5.0, "b": 1.0},
        ranking=("a", "b"),
        normalized={"a": 1.0, "b": 0.0},
        reasoning="",
        passes=(PassVerdict(order=("b", "a"), scores={"a": 5, "b": 1}, ranking=("a", "b")),),
    )
    return 200, {"Content-Type": "application/json"}, json.dumps(verdict_to_dict(verdict)).encode(), 0.0


@pytest.fixture
def scripted() -> Iterator[list[_Scripted]]:
    made: list[_Scripted] = []
    yield made
    for server in made:
        server.close()


def _script(made: list[_Scripted], *replies: tuple[int, dict[str, str], bytes, float]) -> _Scripted:
    server = _Scripted(*replies)
    made.append(server)
    return server


# ------------------------------------------------------------------- judging

CASE: dict[str, Any] = {
    "alpha": "a good answer",
    "beta": "a poor answer",
    "gamma": {"role": "assistant", "content": "a weak answer, structured"},
}


def _check_case(result: JudgeResult, permutations: int) -> None:
    assert isinstance(result, JudgeResult)
    assert result.names == ("alpha", "beta", "gamma")
    assert result.best == "alpha"
    assert result.scores == {"alpha": 5.0, "beta": 1.0, "gamma": 1.0}
    assert result.ranking[0] == "alpha" and set(result.ranking[1:]) == {"beta", "gamma"}
    assert result.normalized == {"alpha": 1.0, "beta": 0.0, "gamma": 0.0}
    assert len(result.passes) == permutations
    for p in result.passes:
        assert sorted(p.order) == ["alpha", "beta", "gamma"]
        assert p.scores == {"alpha": 5, "beta": 1, "gamma": 1}
        assert p.ranking[0] == "alpha"
    assert result.usage == Usage(11 * permutations, 7 * permutations)  # the loopback's usage, summed
    assert result.model and result.scale == (1, 5)


def test_client_judges_with_real_names(client: Client) -> None:
    _check_case(client.judge(PRINCIPLE, PROMPT, CASE, permutations=2, seed=3), permutations=2)


def test_client_judges_a_list_of_candidates(client: Client) -> None:
    result = client.judge(PRINCIPLE, PROMPT, ["meh", "good"])
    assert result.names == ("0", "1") and result.best == "1" and result.score_list() == [1.0, 5.0]


async def test_async_client_judges_like_the_sync_client(url: str, client: Client) -> None:
    async with AsyncClient(url) as aclient:
        got = await aclient.ajudge(PRINCIPLE, PROMPT, CASE, permutations=2, seed=7)
    _check_case(got, permutations=2)
    want = await _in_thread(lambda: client.judge(PRINCIPLE, PROMPT, CASE, permutations=2, seed=7))
    assert {**got.to_dict(), "latency_s": 0} == {**want.to_dict(), "latency_s": 0}
    assert [p.order for p in got.passes] == [p.order for p in want.passes]


async def _in_thread(call: Any) -> Any:
    """A sync client call from async code (the sync client refuses to block a running loop)."""
    import asyncio

    return await asyncio.to_thread(call)


def test_batch_keeps_request_order_and_types_the_bad_item(client: Client) -> None:
    requests: list[Any] = [
        {"principle": PRINCIPLE, "prompt": PROMPT, "responses": {"x": "good", "y": "bad"}},
        {"principle": PRINCIPLE, "responses": {"x": "good", "y": "bad"}},  # no prompt
        JudgeRequest(principle=PRINCIPLE, prompt=PROMPT, responses={"p": "bad", "q": "very good"}),
    ]
    seen: list[int] = []
    out = client.judge_batch(requests, on_result=lambda i, _item: seen.append(i))
    assert len(out) == 3 and seen == [0, 1, 2]
    first, bad, last = out
    assert isinstance(first, JudgeResult) and first.best == "x"
    assert isinstance(bad, UsageError) and "malformed request" in str(bad) and "prompt" in str(bad)
    assert isinstance(last, JudgeResult) and last.best == "q" and last.names == ("p", "q")


async def test_async_batch(url: str) -> None:
    async with AsyncClient(url) as aclient:
        requests: list[Any] = [
            {"principle": PRINCIPLE, "prompt": PROMPT, "responses": ["bad", "good"]},
            "not a request",
        ]
        out = await aclient.ajudge_batch(requests)
    assert isinstance(out[0], JudgeResult) and out[0].best == "1"
    assert isinstance(out[1], UsageError)


def test_a_refused_request_raises_the_servers_usage_error(client: Client) -> None:
    with pytest.raises(UsageError, match="principle"):
        client.judge("   ", PROMPT, {"a": "good", "b": "bad"})


# ------------------------------------------------------- the judging protocol

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "Say something."}, {"type": "text", "text": "Anything."}]},
]
WEIGHTED = Principle.weighted({"Goodness": 3, "Brevity": 1}, descriptions={"Goodness": "say something good"})


def _same(remote: JudgeResult, local: JudgeResult) -> None:
    """The same verdict: every field but the time it took (raw texts included)."""
    assert {**remote.to_dict(raw=True), "latency_s": 0} == {**local.to_dict(raw=True), "latency_s": 0}


def _local(servers: dict[str, str]) -> Judge:
    """A local judge on the server's upstream, as the server builds it."""
    return Judge.from_litellm("hosted_vllm/x", api_base=servers["upstream"])


async def test_the_clients_are_judges(url: str) -> None:
    from ra_agents import Judging

    async with AsyncClient(url) as aclient:
        assert isinstance(aclient, Judging)
    client = Client(url)
    client.close()
    assert isinstance(client, Judging)


def test_client_judges_under_a_principle_object(client: Client, servers: dict[str, str]) -> None:
    remote = client.judge(WEIGHTED, PROMPT, CASE, seed=1)
    local = _local(servers).judge(WEIGHTED, PROMPT, CASE, seed=1)
    assert remote.principle == WEIGHTED.render() and "Goodness" in remote.principle
    _same(remote, local)


async def test_async_client_judges_under_a_principle_object(url: str, servers: dict[str, str]) -> None:
    async with AsyncClient(url) as aclient:
        remote = await aclient.ajudge(WEIGHTED, PROMPT, ["meh", "good"], seed=2)
    local = await _local(servers).ajudge(WEIGHTED, PROMPT, ["meh", "good"], seed=2)
    assert remote.principle == WEIGHTED.render()
    _same(remote, local)


def test_a_message_list_prompt_is_the_local_judges_request(client: Client, servers: dict[str, str]) -> None:
    SEEN.clear()
    remote = client.judge(PRINCIPLE, CONVERSATION, CASE, permutations=2, seed=5)
    sent_remote = list(SEEN)
    SEEN.clear()
    local = _local(servers).judge(PRINCIPLE, CONVERSATION, CASE, permutations=2, seed=5)
    assert sorted(map(json.dumps, sent_remote)) == sorted(map(json.dumps, SEEN))  # byte for byte: one cache key
    assert json.loads(SEEN[0][1]["content"])["prompt"] == "system: You are terse.\nuser: Say something.\n  Anything."
    _same(remote, local)


def test_structured_candidates_read_as_the_local_judge_reads_them(client: Client, servers: dict[str, str]) -> None:
    import dataclasses

    from langchain_core.messages import AIMessage

    @dataclasses.dataclass
    class Answer:
        text: str
        tags: set[str]

    candidates: dict[str, Any] = {
        "message": AIMessage(content="a good answer", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "1"}]),
        "object": Answer("a poor answer", {"b", "a"}),
        "json": {"text": "a good one", "n": [1, 2.5, None]},
    }
    SEEN.clear()
    remote = client.judge(PRINCIPLE, PROMPT, candidates, seed=0)
    sent_remote = list(SEEN)
    SEEN.clear()
    local = _local(servers).judge(PRINCIPLE, PROMPT, candidates, seed=0)
    assert sent_remote == SEEN
    _same(remote, local)


def test_client_judge_many(client: Client, servers: dict[str, str]) -> None:
    principles: dict[str, Any] = {"good": PRINCIPLE, "weighted": (WEIGHTED, 3.0)}
    remote = client.judge_many(principles, CONVERSATION, CASE, seed=1)
    local = _local(servers).judge_many(principles, CONVERSATION, CASE, seed=1)
    assert isinstance(remote, MultiResult) and remote.best == "alpha"
    assert remote.weights == {"good": 0.25, "weighted": 0.75}
    assert (remote.scores, remote.ranking) == (local.scores, local.ranking)
    for name in principles:
        _same(remote.verdicts[name], local.verdicts[name])
    folded = client.judge_many(principles, PROMPT, CASE, mode="fold", seed=1)
    assert folded.folded is not None and folded.best == "alpha"


async def test_async_client_judge_many_and_the_other_methods(url: str, servers: dict[str, str]) -> None:
    principles: dict[str, Any] = {"good": PRINCIPLE, "weighted": WEIGHTED}
    local = await _local(servers).ajudge_many(principles, PROMPT, ["bad", "good"], seed=3)
    async with AsyncClient(url) as aclient:
        remote = await aclient.ajudge_many(principles, PROMPT, ["bad", "good"], seed=3)
        assert (remote.scores, remote.ranking) == (local.scores, local.ranking)
        # the sync methods, from a worker thread (this thread runs a loop): a client of the same settings
        sync = await _in_thread(lambda: aclient.judge_many(principles, PROMPT, ["bad", "good"], seed=3))
        one = await _in_thread(lambda: aclient.judge(WEIGHTED, CONVERSATION, ["bad", "good"]))
        [batch] = await _in_thread(
            lambda: aclient.judge_batch([{"principle": WEIGHTED, "prompt": PROMPT, "responses": ["good", "x"]}])
        )
        again = await aclient.ajudge(PRINCIPLE, PROMPT, ["bad", "good"])  # its own pool still serves
    assert (sync.scores, sync.ranking) == (local.scores, local.ranking)
    assert one.best == "1" and isinstance(batch, JudgeResult) and batch.best == "0" and again.best == "1"


async def test_the_sync_clients_async_methods(client: Client, servers: dict[str, str]) -> None:
    principles: dict[str, Any] = {"good": PRINCIPLE, "weighted": WEIGHTED}
    one = await client.ajudge(WEIGHTED, CONVERSATION, CASE, seed=4)
    many = await client.ajudge_many(principles, CONVERSATION, CASE, seed=4)
    batch = await client.ajudge_batch(
        [{"principle": WEIGHTED, "prompt": CONVERSATION, "responses": CASE, "seed": 4}, {"prompt": PROMPT}]
    )
    local = _local(servers)
    _same(one, await local.ajudge(WEIGHTED, CONVERSATION, CASE, seed=4))
    assert many.ranking == (await local.ajudge_many(principles, CONVERSATION, CASE, seed=4)).ranking
    assert isinstance(batch[0], JudgeResult) and isinstance(batch[1], UsageError)
    _same(batch[0], one)


def test_a_verdict_error_keeps_its_fields_over_the_wire(client: Client) -> None:
    with pytest.raises(VerdictError) as caught:
        client.judge(PRINCIPLE, NO_VERDICT, ["good", "bad"])
    error = caught.value
    assert error.raw == "I cannot decide." and error.finish_reason == "length" and error.attempts == 3
    [item] = client.judge_batch([{"principle": PRINCIPLE, "prompt": NO_VERDICT, "responses": ["good", "bad"]}])
    assert isinstance(item, VerdictError) and item.raw == "I cannot decide." and item.attempts == 3


def test_a_limit_error_keeps_its_fields_over_the_wire(client: Client) -> None:
    limit = ServerSettings().max_candidates
    too_many = [f"answer {i}" for i in range(limit + 1)]
    with pytest.raises(LimitError) as caught:
        client.judge(PRINCIPLE, PROMPT, too_many)
    assert (caught.value.limit, caught.value.value, caught.value.status) == ("max_candidates", limit, 422)
    assert f"max_candidates={limit}" in str(caught.value)
    ok, over = client.judge_batch(
        [
            {"principle": PRINCIPLE, "prompt": PROMPT, "responses": ["good", "bad"]},
            {"principle": PRINCIPLE, "prompt": PROMPT, "responses": too_many},
        ]
    )
    assert isinstance(ok, JudgeResult)
    assert isinstance(over, LimitError) and over.limit == "max_candidates" and over.value == limit


# ------------------------------------------------------------------- rewards


def test_rewards_judge_a_group_together(client: Client) -> None:
    prompt = "Q: pick one. A:"
    out = client.rewards([prompt + " a good one", prompt + " a bad one"], prompts=[prompt, prompt], principle=PRINCIPLE)
    assert out.rewards == [1.0, 0.0]
    assert out.scores == [1.0, 0.0]
    assert out.extra_logs["judge_score"] == [5.0, 1.0] and out.extra_logs["group_size"] == [2.0, 2.0]


async def test_async_rewards_take_the_principle_from_labels(url: str) -> None:
    label = {"principle": PRINCIPLE}
    async with AsyncClient(url) as aclient:
        out = await aclient.arewards(["good stuff", "bad stuff"], labels=[label, label])
    assert out.rewards == [1.0, 0.0]


# -------------------------------------------------------------- health, auth


def test_health_and_ready(client: Client) -> None:
    assert client.health() is True
    assert client.ready() is True
    with Client(f"http://127.0.0.1:{free_port()}", timeout=1) as gone:
        assert gone.health() is False and gone.ready() is False


def test_keys(servers: dict[str, str]) -> None:
    with Client(servers["keyed"], api_key="k2") as good:
        assert good.judge(PRINCIPLE, PROMPT, {"a": "bad", "b": "good"}).best == "b"
    with Client(servers["keyed"], api_key="nope", retries=3) as wrong, pytest.raises(UsageError) as refused:
        wrong.judge(PRINCIPLE, PROMPT, {"a": "bad", "b": "good"})
    assert "key" in str(refused.value) and "does not accept" in str(refused.value)
    with Client(servers["keyed"]) as keyless, pytest.raises(UsageError) as missing:
        keyless.judge_batch([{"principle": PRINCIPLE, "prompt": PROMPT, "responses": ["x", "y"]}])
    assert "key" in str(missing.value) and "no API key" in str(missing.value)
    with Client(servers["keyed"]) as keyless:
        assert keyless.health() is True  # probes need no key


# ------------------------------------------------------------ retries, errors


def test_a_closed_port_is_unavailable_after_the_retries() -> None:
    started = time.monotonic()
    with Client(f"http://127.0.0.1:{free_port()}", retries=1, timeout=2) as c, pytest.raises(BackendUnavailable) as e:
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    assert "2 attempts" in str(e.value)
    assert time.monotonic() - started < 5


def test_a_4xx_is_not_retried(scripted: list[_Scripted]) -> None:
    server = _script(scripted, _error(422, "UsageError", "candidate 0 is too long"))
    started = time.monotonic()
    with Client(server.url, retries=3) as c, pytest.raises(UsageError, match="candidate 0 is too long"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    assert server.hits == 1 and time.monotonic() - started < 1


def test_429_honours_retry_after(scripted: list[_Scripted]) -> None:
    server = _script(
        scripted, _error(429, "UsageError", "too many requests in flight", {"Retry-After": "1"}), _verdict_reply()
    )
    started = time.monotonic()
    with Client(server.url, retries=2) as c:
        assert c.judge(PRINCIPLE, PROMPT, {"a": "x", "b": "y"}).best == "a"
    assert server.hits == 2 and time.monotonic() - started >= 0.95


async def test_5xx_are_retried_then_typed(scripted: list[_Scripted]) -> None:
    unavailable = _script(scripted, _error(503, "BackendUnavailable", "upstream down"))
    async with AsyncClient(unavailable.url, retries=1) as c:
        with pytest.raises(BackendUnavailable, match="upstream down") as e:
            await c.ajudge(PRINCIPLE, PROMPT, ["a", "b"])
    assert unavailable.hits == 2 and e.value.status == 503

    proxy = _script(scripted, (504, {"Content-Type": "text/html"}, b"<html>gateway timeout</html>", 0.0))
    async with AsyncClient(proxy.url, retries=1) as c:
        with pytest.raises(BackendTimeout, match="gateway timeout"):
            await c.ajudge(PRINCIPLE, PROMPT, ["a", "b"])
    assert proxy.hits == 2


def test_a_verdict_error_is_typed_and_not_retried(scripted: list[_Scripted]) -> None:
    server = _script(scripted, _error(502, "VerdictError", "no usable verdict after 3 attempts"))
    with Client(server.url, retries=3) as c, pytest.raises(VerdictError, match="no usable verdict"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    assert server.hits == 1


def test_a_body_that_is_not_json_is_a_backend_error(scripted: list[_Scripted]) -> None:
    server = _script(scripted, (200, {"Content-Type": "text/html"}, b"<html>" + b"x" * 500, 0.0))
    with Client(server.url) as c, pytest.raises(BackendError) as e:
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    assert e.value.status == 200 and "<html>xxx" in str(e.value) and "x" * 201 not in str(e.value)


def test_a_slow_answer_times_out(scripted: list[_Scripted]) -> None:
    server = _script(scripted, (*_verdict_reply()[:3], 1.0))
    with Client(server.url, retries=0, timeout=0.2) as c, pytest.raises(BackendTimeout, match=r"0\.2 s"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])


def test_a_wrong_path_says_so(scripted: list[_Scripted]) -> None:
    server = _script(scripted, (404, {"Content-Type": "application/json"}, b'{"detail": "Not Found"}', 0.0))
    with Client(server.url, retries=3) as c, pytest.raises(UsageError, match="base_url"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    assert server.hits == 1


# ----------------------------------------------------------------- the API


async def test_the_sync_client_refuses_a_running_loop() -> None:
    with Client("http://127.0.0.1:9") as c, pytest.raises(UsageError, match=r"await client\.ajudge"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])


def test_closed_client_and_bad_arguments() -> None:
    c = Client("http://127.0.0.1:9")
    c.close()
    with pytest.raises(UsageError, match="closed"):
        c.judge(PRINCIPLE, PROMPT, ["a", "b"])
    with pytest.raises(UsageError, match="retries"):
        Client("http://127.0.0.1:9", retries=-1)


def test_lazy_export() -> None:
    assert ra_agents.Client is Client and ra_agents.AsyncClient is AsyncClient
    assert {"Client", "AsyncClient"} <= set(ra_agents.__all__)
    code = "import sys, ra_agents; assert 'ra_agents.remote.client' not in sys.modules; ra_agents.Client"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
