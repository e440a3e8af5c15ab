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
import socket
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
    JudgeRequest,
    JudgeResult,
    Usage,
    UsageError,
    VerdictError,
)
from ra_agents._loopback import LoopbackOpenAI, Reply, chat_completion

ROOT = Path(__file__).resolve().parents[2]
PRINCIPLE = "Prefer answers that are good."
PROMPT = "Say something."
KEYS = ("k1", "k2")


# ------------------------------------------------------------------ fixtures


def _prefer_good(body: dict[str, Any]) -> Reply:
    shown = json.loads(body["messages"][1]["content"])["responses"]
    scores = {name: 5 if "good" in text else 1 for name, text in shown.items()}
    ranking = sorted(shown, key=lambda name: -scores[name])
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": ranking}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """``ra-agents serve`` as a subprocess."""

    def __init__(self, api_base: str, log: Path, *flags: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("RA_AGENTS_")}
        env.update(HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
        command = [sys.executable, "-m", "ra_agents.cli", "serve", "--port", str(self.port)]
        command += ["--model", "hosted_vllm/x", "--api-base", api_base, *flags]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait(self, limit_s: float = 60.0) -> None:
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
            yield {name: server.url for name, server in started.items()}
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
    verdict = {
        "names": ["a", "b"],
        "scores": {"a": 5.0, "b": 1.0},
        "ranking": ["a", "b"],
        "best": "a",
        "normalized": {"a": 1.0, "b": 0.0},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(verdict).encode(), 0.0


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
    with Client(f"http://127.0.0.1:{_free_port()}", timeout=1) as gone:
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
    with Client(f"http://127.0.0.1:{_free_port()}", retries=1, timeout=2) as c, pytest.raises(BackendUnavailable) as e:
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
    with Client("http://127.0.0.1:9") as c, pytest.raises(UsageError, match=r"await AsyncClient\.ajudge"):
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
    code = "import sys, ra_agents; assert 'ra_agents.client' not in sys.modules; ra_agents.Client"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
