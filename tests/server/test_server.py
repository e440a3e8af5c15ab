"""``ra-agents serve`` as a real process on loopback.

The judge's backend is a loopback OpenAI-compatible upstream in this process, so verdicts
are exact (a candidate containing "good" scores 5, others 1) and every upstream call is
counted; the real served model is exercised at the end (marked ``vllm``). The reference
``rewardanything.Client`` talks to the server unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ra_agents import Judge, verdict_from_dict, verdict_to_dict
from ra_agents.local.vllm_server import free_port
from ra_agents.remote.server.settings import SETTINGS_ENV, ServerSettings
from ra_agents.testing import LoopbackOpenAI, Reply, chat_completion

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-1"


def _respond(body: dict[str, Any]) -> Reply:
    """Score "good" texts 5 and others 1; a prompt containing "slow:S" waits S seconds first,
    one containing "garbage:N" gets N characters of no verdict."""
    shown = json.loads(body["messages"][1]["content"])
    marker = [w for w in str(shown["prompt"]).split() if w.startswith("slow:")]
    if marker:
        time.sleep(float(marker[0].split(":")[1]))
    garbage = [w for w in str(shown["prompt"]).split() if w.startswith("garbage:")]
    if garbage:
        size = int(garbage[0].split(":")[1])
        return chat_completion("head " + "x" * (size - 10) + " tail")
    scores = {m: 5 if "good" in t else 1 for m, t in shown["responses"].items()}
    ranking = sorted(scores, key=lambda m: -scores[m])
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": ranking}))


class Upstream:
    """The loopback upstream on a fixed port, which tests can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls = 0
        self._lock = threading.Lock()
        self._server: LoopbackOpenAI | None = None

    def respond(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.calls += 1
        return _respond(body)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self._server = LoopbackOpenAI(self.respond, port=self.port).__enter__()

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None


def _start(*flags: str, upstream: Upstream | None = None, model: str | None = None, api_base: str | None = None):
    port = free_port()
    backend = ["--model", model or "hosted_vllm/x", "--api-base", api_base or (upstream.api_base if upstream else "")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "RA_AGENTS_TIMEOUT": "20"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ra_agents.cli", "serve", "--port", str(port), *backend, *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not answer /health within 90 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    up.start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def server(upstream: Upstream) -> Iterator[str]:
    """The open server (no key), small limits, OpenRLHF groups of 3 waiting at most 1.5 s."""
    proc, base = _start(
        "--group-size",
        "3",
        "--group-wait",
        "1.5",
        "--max-candidates",
        "8",
        "--max-batch",
        "300",
        "--max-body-bytes",
        "1000000",
        "--max-in-flight",
        "64",
        upstream=upstream,
    )
    yield base
    _stop(proc)


def _req(i: int, n: int = 3) -> dict[str, Any]:
    """A request whose winner is known: candidate c{i % n} is the good one."""
    responses = {f"c{j}": (f"good answer {i}" if j == i % n else f"bad answer {i}.{j}") for j in range(n)}
    return {"principle": "prefer good", "prompt": f"question {i}", "responses": responses}


# ------------------------------------------------------------------ the native API


def test_judge_one(server: str) -> None:
    r = httpx.post(f"{server}/v1/judge", json=_req(4))
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["best"] == "c1" and v["ranking"][0] == "c1" and set(v["names"]) == {"c0", "c1", "c2"}
    assert v["scores"] == {"c0": 1.0, "c1": 5.0, "c2": 1.0}
    assert v["passes"][0]["attempts"] == 1 and v["usage"]["prompt_tokens"] > 0 and v["model"]
    assert set(v) >= {
        "names",
        "scores",
        "ranking",
        "best",
        "normalized",
        "expected_scores",
        "reasoning",
        "agreement",
        "pairwise_agreement",
        "ranking_repaired",
        "retries",
        "usage",
        "latency_s",
        "model",
        "scale",
        "principle",
        "passes",
    }
    assert v["scale"] == [1, 5] and v["principle"] == "prefer good" and json.loads(v["passes"][0]["raw"])["scores"]
    assert verdict_to_dict(verdict_from_dict(v)) == v  # the library's one verdict shape


def test_errors_carry_their_fields(server: str) -> None:
    from ra_agents.remote.server.app import MAX_ERROR_TEXT

    over = httpx.post(f"{server}/v1/judge", json=_req(0, n=9))
    assert over.status_code == 422
    assert over.json()["error"] == {
        "type": "LimitError",
        "message": over.json()["error"]["message"],
        "limit": "max_candidates",
        "value": 8,
        "status": 422,
    }
    bad = httpx.post(f"{server}/v1/judge", json={**_req(0), "prompt": "garbage:40000"}, timeout=60)
    assert bad.status_code == 502, bad.text
    error = bad.json()["error"]
    assert error["type"] == "VerdictError" and error["attempts"] == 3 and error["finish_reason"] == "stop"
    assert error["raw"].startswith("head xxx") and error["raw"].endswith("xxx tail")  # its head and tail
    assert "characters cut" in error["raw"] and len(error["raw"]) < MAX_ERROR_TEXT + 100


def test_batch_keeps_request_order_and_isolates_bad_items(server: str) -> None:
    items: list[Any] = [_req(i) for i in range(6)]
    items[2] = {"principle": "p", "prompt": "q"}  # no responses
    items[4] = {**_req(4), "api_base": "http://evil"}  # a client may not steer the upstream
    r = httpx.post(f"{server}/v1/judge/batch", json={"requests": items}, timeout=60)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["index"] for x in results] == list(range(6))
    assert [x["ok"] for x in results] == [True, True, False, True, False, True]
    for i in (0, 1, 3, 5):
        assert results[i]["verdict"]["best"] == f"c{i % 3}"
    assert "responses" in results[2]["error"]["message"]
    assert "api_base" in results[4]["error"]["message"] and results[4]["error"]["type"] == "UsageError"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 422, "not valid JSON"),
        (b"", 422, "empty"),
        (b'{"principle": "p", "prompt": "q", "responses": {"a": "x", "a": "y"}}', 422, "'a' twice"),
        (
            json.dumps({"principle": "p", "prompt": "q", "responses": {str(i): "x" for i in range(9)}}).encode(),
            422,
            "max_candidates=8",
        ),
        (
            json.dumps({"principle": "p", "prompt": "q", "responses": ["x" * 300_000]}).encode(),
            422,
            "max_candidate_chars=200000",
        ),
        (
            json.dumps({"principle": "p" * 250_000, "prompt": "q", "responses": ["x"]}).encode(),
            422,
            "max_principle_chars=200000",
        ),
        (
            json.dumps({"principle": "p", "prompt": "q", "responses": ["x" * 199_000] * 6}).encode(),
            413,
            "max_body_bytes=1000000",
        ),
        (json.dumps({"principle": " ", "prompt": "q", "responses": ["x"]}).encode(), 422, "principle"),
        (json.dumps({"principle": "p", "prompt": "q", "responses": {}}).encode(), 422, "empty"),
        (
            json.dumps({"principle": "p", "prompt": "q", "responses": "one answer"}).encode(),
            422,
            'responses: responses must be a list of candidates or a mapping of name -> candidate, e.g. ["answer A"',
        ),
    ],
    ids=[
        "malformed",
        "empty-body",
        "duplicate-names",
        "candidates",
        "candidate-chars",
        "principle-chars",
        "body-bytes",
        "blank-principle",
        "no-candidates",
        "responses-text",
    ],
)
def test_bad_input_is_a_4xx_that_names_the_problem(server: str, body: bytes, status: int, fragment: str) -> None:
    r = httpx.post(f"{server}/v1/judge", content=body, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == status, r.text
    assert fragment in r.json()["error"]["message"]


def test_unicode_long_candidates_and_a_100_kb_principle_are_served(server: str) -> None:
    body = {
        "principle": "Prefer the good one. " * 5000,  # about 100 KB
        "prompt": "Ünïcödé ✓ 模型 😀",
        "responses": {"ä": "good " + "ß" * 150_000, "😀": "bad 模型"},
    }
    r = httpx.post(f"{server}/v1/judge", json=body, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["best"] == "ä"


def test_batch_limit(server: str) -> None:
    r = httpx.post(f"{server}/v1/judge/batch", json={"requests": [_req(0)] * 301})
    assert r.status_code == 422 and "max_batch=300" in r.json()["error"]["message"]


def test_openapi_docs(server: str) -> None:
    assert httpx.get(f"{server}/docs").status_code == 200
    document = httpx.get(f"{server}/openapi.json").json()
    paths = document["paths"]
    assert {"/v1/judge", "/v1/judge/batch", "/api/rewardanything", "/v1/rewards/openrlhf"} <= set(paths)
    verdict = paths["/v1/judge"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"best", "passes", "scores", "usage"} <= set(verdict["properties"])
    assert "raw" in verdict["properties"]["passes"]["items"]["properties"]
    assert "#/$defs/" not in json.dumps(document)  # every reference resolves in the document
    prompt = paths["/v1/judge"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["prompt"]
    assert {"type": "array", "items": {}} in prompt["anyOf"]  # chat messages too


# -------------------------------------------------------- the reference client


def test_reference_rewardanything_client_unchanged(server: str) -> None:
    import rewardanything

    client = rewardanything.Client(server, timeout=30)
    assert client.health_check()
    one = client.judge("prefer good", "q", {"alpha": "bad", "beta": "good", "gamma": "bad too"})
    assert one.ranking[0] == "beta" and one.scores == {"alpha": 1, "beta": 5, "gamma": 1}
    reqs = [_req(i) for i in range(5)]
    many = client.judge_batch(reqs)
    assert [m.ranking[0] for m in many] == [f"c{i % 3}" for i in range(5)]  # request order, real names
    assert all(set(m.scores) == {"c0", "c1", "c2"} for m in many)


def test_reference_shapes_and_no_silent_empty_verdicts(server: str) -> None:
    r = httpx.post(f"{server}/api/rewardanything", json={**_req(1), "mask_responses": True})
    assert r.status_code == 200 and set(r.json()) == {"thoughts", "results"}
    assert r.json()["results"]["best-to-worst"][0] == "c1"
    bad = httpx.post(f"{server}/api/rewardanything", json={**_req(1), "api_base": "http://evil", "output_path": "/tmp"})
    assert bad.status_code == 422 and "fixed by its operator" in bad.json()["error"]["message"]
    mixed = [_req(0), {"principle": "p", "prompt": "q"}]
    strict = httpx.post(f"{server}/api/rewardanything_batch", json=mixed)
    assert strict.status_code == 422 and "request 1" in strict.json()["error"]["message"]
    too_many = {"principle": "p", "prompt": "q", "responses": {str(i): "x" for i in range(9)}}
    over = httpx.post(f"{server}/api/rewardanything_batch?partial=true", json=[too_many, _req(2)])
    assert over.status_code == 200 and over.json()[1]["results"]["best-to-worst"][0] == "c2"
    assert "max_candidates=8" in over.json()[0]["error"]["message"]
    partial = httpx.post(f"{server}/api/rewardanything_batch?partial=true", json=mixed)
    assert partial.status_code == 200
    assert partial.json()[0]["results"]["best-to-worst"][0] == "c0" and "error" in partial.json()[1]


# ------------------------------------------------------------------ OpenRLHF


def test_openrlhf_groups_interleaved_concurrent_samples(server: str, upstream: Upstream) -> None:
    prompts = [f"Prompt {k}: " for k in range(3)]
    samples = [(p, f"{p}{'good' if j == k else 'bad'} answer {j}") for k, p in enumerate(prompts) for j in range(3)]
    order = [samples[i] for i in (0, 3, 6, 1, 4, 7, 2, 5, 8)]  # interleaved across prompts
    before = upstream.calls

    async def post_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{server}/v1/rewards/openrlhf",
                        json={"query": [q], "prompts": [p], "labels": [json.dumps({"principle": "good wins"})]},
                    )
                    for p, q in order
                )
            )

    responses = asyncio.run(post_all())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    rewards = [r.json()["rewards"][0] for r in responses]
    assert rewards == [1.0 if "good" in q else 0.0 for _, q in order]
    assert all(r.json()["extra_logs"]["group_size"] == [3.0] for r in responses)
    assert upstream.calls - before == 3  # one judge call per prompt group


def test_openrlhf_group_that_never_fills_fails_after_the_wait(server: str, upstream: Upstream) -> None:
    """Never a reward from part of a group: 2 of 3 samples after the wait are an explicit error."""
    before = upstream.calls
    started = time.monotonic()
    r = httpx.post(
        f"{server}/v1/rewards/openrlhf",
        json={"query": ["Q: good one", "Q: bad one"], "prompts": ["Q: ", "Q: "], "principle": "good wins"},
        timeout=30,
    )
    assert r.status_code == 408, r.text
    error = r.json()["error"]
    assert error["type"] == "LimitError" and error["limit"] == "group_wait_s" and "2 of 3 samples" in error["message"]
    assert time.monotonic() - started >= 1.4 and upstream.calls == before


def test_openrlhf_without_a_principle_is_a_clear_error(server: str) -> None:
    r = httpx.post(f"{server}/v1/rewards/openrlhf", json={"query": ["x"], "labels": ["42"]})
    assert r.status_code == 422 and "principle" in r.json()["error"]["message"]


# ---------------------------------------------------------- load and failures


def test_load_200_requests_16_clients_nothing_lost_or_misordered(server: str) -> None:
    async def run() -> list[tuple[int, httpx.Response]]:
        queue = list(range(200))
        out: list[tuple[int, httpx.Response]] = []

        async def worker(client: httpx.AsyncClient) -> None:
            while queue:
                i = queue.pop()
                out.append((i, await client.post(f"{server}/v1/judge", json=_req(i))))

        async with httpx.AsyncClient(timeout=60) as client:
            await asyncio.gather(*(worker(client) for _ in range(16)))
        return out

    results = asyncio.run(run())
    assert len(results) == 200
    assert all(r.status_code == 200 and r.json()["best"] == f"c{i % 3}" for i, r in results)
    metrics = httpx.get(f"{server}/metrics").text
    assert 'ra_server_requests_total{endpoint="/v1/judge",status="200"}' in metrics
    assert "ra_server_in_flight" in metrics and "ra_server_group_buffer_samples" in metrics


def test_backend_killed_mid_load_then_back(upstream: Upstream) -> None:
    proc, base = _start(upstream=upstream)
    try:

        async def run() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                first = [client.post(f"{base}/v1/judge", json=_req(i)) for i in range(20)]
                tasks = [asyncio.ensure_future(c) for c in first]
                await asyncio.sleep(0.05)
                upstream.stop()  # the backend dies in the middle of the load
                late = [await client.post(f"{base}/v1/judge", json=_req(i)) for i in range(20, 23)]
                return [*(await asyncio.gather(*tasks)), *late]

        responses = asyncio.run(run())
        assert len(responses) == 23
        for r in responses:
            assert r.status_code in (200, 502, 503, 504), r.text
            if r.status_code != 200:
                assert r.json()["error"]["message"]
        assert any(r.status_code in (502, 503) for r in responses[-3:])
        ready = httpx.get(f"{base}/ready")
        assert ready.status_code == 503 and "unreachable" in ready.json()["reason"]
        assert httpx.get(f"{base}/health").status_code == 200  # the server stays up
        upstream.start()  # the backend returns
        again = httpx.post(f"{base}/v1/judge", json=_req(7), timeout=60)
        assert again.status_code == 200 and again.json()["best"] == "c1"
        assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        upstream.start() if upstream._server is None else None
        _stop(proc)


def test_in_flight_bound_answers_429_with_retry_after(upstream: Upstream) -> None:
    proc, base = _start("--max-in-flight", "2", upstream=upstream)
    try:

        async def run() -> list[httpx.Response]:
            slow = {"principle": "p", "prompt": "slow:1.5", "responses": {"a": "good", "b": "bad"}}
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(client.post(f"{base}/v1/judge", json=slow) for _ in range(5)))

        responses = asyncio.run(run())
        codes = [r.status_code for r in responses]
        assert codes.count(200) >= 2 and codes.count(429) >= 1 and set(codes) <= {200, 429}
        limited = next(r for r in responses if r.status_code == 429)
        assert limited.headers["retry-after"] == "1" and "max_in_flight=2" in limited.json()["error"]["message"]
    finally:
        _stop(proc)


def test_auth_and_loopback_default(upstream: Upstream) -> None:
    proc, base = _start("--api-key", KEY, "--api-key", "other-key", "--host", "0.0.0.0", upstream=upstream)
    try:
        assert httpx.post(f"{base}/v1/judge", json=_req(0)).status_code == 401
        wrong = httpx.post(f"{base}/v1/judge", json=_req(0), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "API key" in wrong.json()["error"]["message"]
        ok = httpx.post(f"{base}/v1/judge", json=_req(0), headers={"Authorization": "Bearer other-key"})
        assert ok.status_code == 200
        assert httpx.get(f"{base}/health").status_code == 200  # liveness stays open
        for path in ("/v1/judge/batch", "/api/rewardanything", "/api/rewardanything_batch", "/v1/rewards/openrlhf"):
            refused = httpx.post(f"{base}{path}", content=b"[]", headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", path
        for path in ("/ready", "/metrics", "/openapi.json", "/docs"):
            assert httpx.get(f"{base}{path}").status_code in (200, 503), path  # open without a key
    finally:
        _stop(proc)

    proc, base = _start("--host", "0.0.0.0", upstream=upstream)  # no key: loopback only, and it says so
    try:
        assert httpx.get(f"{base}/health").status_code == 200
    finally:
        log = _stop(proc)
    assert "binds 127.0.0.1 instead of 0.0.0.0" in log and "Uvicorn running on http://127.0.0.1" in log


def test_sigterm_lets_in_flight_requests_finish(upstream: Upstream) -> None:
    proc, base = _start(upstream=upstream)
    slow = {"principle": "p", "prompt": "slow:1.5", "responses": {"a": "good", "b": "bad"}}

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            tasks = [asyncio.ensure_future(client.post(f"{base}/v1/judge", json=slow)) for _ in range(4)]
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks)

    try:
        responses = asyncio.run(run())
        assert [r.status_code for r in responses] == [200] * 4
        # uvicorn finishes the requests, then exits by re-raising the signal it caught
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        log = _stop(proc)
    assert "Waiting for application shutdown" in log and "Finished server process" in log


# ------------------------------------------------------------- the real model


@pytest.mark.vllm
@pytest.mark.parametrize("backend", ["auto", "litellm"])
def test_server_in_front_of_the_served_model(vllm_server: Any, backend: str) -> None:
    """The default (auto: straight over HTTP to one vLLM) and LiteLLM, each against the served model."""
    proc, base = _start("--backend", backend, model=vllm_server.litellm_model, api_base=vllm_server.api_base)
    try:
        r = httpx.post(
            f"{base}/v1/judge",
            json={"principle": "Correct first.", "prompt": "2+2?", "responses": {"right": "4", "wrong": "5"}},
            timeout=300,
        )
        assert r.status_code in (200, 502), r.text  # 502 only if the tiny model gave no usable verdict
        if r.status_code == 200:
            assert sorted(r.json()["ranking"]) == ["right", "wrong"]
        else:
            assert "verdict" in r.json()["error"]["message"]
        assert httpx.get(f"{base}/ready").json()["ready"] is True
        import rewardanything

        result = rewardanything.Client(base, timeout=300, max_retries=0).judge(
            "Correct first.", "2+2?", {"right": "4", "wrong": "5"}
        )
        assert sorted(result.ranking) == ["right", "wrong"] and set(result.scores) == {"right", "wrong"}
    finally:
        _stop(proc)


def test_readiness_asks_every_replica(upstream: Upstream) -> None:
    from ra_agents import Judge
    from ra_agents.backends.litellm import LiteLLMBackend
    from ra_agents.remote.server.app import _backend_problem

    dead = f"http://127.0.0.1:{free_port()}/v1"
    both = Judge(LiteLLMBackend.replicas("hosted_vllm/x", [upstream.api_base, dead]))
    assert both.backend.endpoints == [(upstream.api_base, None), (dead, None)]  # type: ignore[attr-defined]
    reason = asyncio.run(_backend_problem(both))
    assert reason is not None and dead in reason and "unreachable" in reason
    assert asyncio.run(_backend_problem(Judge(LiteLLMBackend.replicas("hosted_vllm/x", [upstream.api_base])))) is None


def test_only_the_servers_own_process_tunes_the_garbage_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ra-agents serve`` freezes start-up objects; an app embedded in another process leaves gc alone."""
    import gc

    from fastapi.testclient import TestClient

    from ra_agents.remote.server import app as server_app
    from ra_agents.testing import ScriptedBackend

    settled: list[bool] = []
    monkeypatch.setattr(server_app, "_settle_garbage_collector", lambda: settled.append(True))
    embedded = server_app.create_app(judge=Judge(ScriptedBackend()))
    frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
    with TestClient(embedded) as http:
        assert http.get("/health").status_code == 200
    assert settled == [] and gc.get_freeze_count() == frozen and gc.get_threshold() == threshold

    monkeypatch.setenv(
        SETTINGS_ENV, ServerSettings(model="hosted_vllm/x", api_base="http://127.0.0.1:9/v1").model_dump_json()
    )
    own = server_app.create_app_from_env()
    assert own.state.owns_process is True
    with TestClient(own) as http:
        assert http.get("/health").status_code == 200
    assert settled == [True]


def test_one_server_span_per_request_with_the_judge_span_as_its_child(spans: Any) -> None:
    """With a tracing SDK: our server span (not also the web framework's own), parent of the judge span."""
    from fastapi.testclient import TestClient
    from opentelemetry.trace import SpanKind

    from ra_agents.remote.server import app as server_app
    from ra_agents.testing import ScriptedBackend

    verdict = '{"scores": {"model-1": 4, "model-2": 2}, "best-to-worst": ["model-1", "model-2"]}'
    app = server_app.create_app(judge=Judge(ScriptedBackend(default=verdict)))
    with TestClient(app) as http:
        spans.clear()
        answer = http.post("/v1/judge", json={"principle": "p", "prompt": "q", "responses": {"a": "x", "b": "y"}})
    assert answer.status_code == 200, answer.text
    finished = spans.get_finished_spans()
    servers = [s for s in finished if s.kind == SpanKind.SERVER]
    assert [s.name for s in servers] == ["POST /v1/judge"]
    assert servers[0].attributes["http.response.status_code"] == 200
    judges = [s for s in finished if s.name.startswith("chat ")]
    assert len(judges) == 1 and judges[0].parent is not None
    assert judges[0].parent.span_id == servers[0].context.span_id
    assert len(finished) == 2, [s.name for s in finished]  # nothing else: no framework operation spans


@pytest.mark.parametrize(
    ("model", "api_base", "backend", "expected"),
    [
        ("hosted_vllm/rewardanything", "http://a:8000/v1", "auto", "http"),
        ("openai/judge", "http://a:8000/v1", "auto", "http"),
        ("hosted_vllm/rewardanything", "http://a:8000/v1,http://b:8000/v1", "auto", "litellm"),  # replicas
        ("gpt-4o-mini", None, "auto", "litellm"),  # a hosted provider
        ("anthropic/claude", "http://a/v1", "auto", "litellm"),
        (None, None, "auto", "litellm"),  # the configured or bundled judge
        ("hosted_vllm/rewardanything", "http://a:8000/v1", "litellm", "litellm"),  # asked for
        ("hosted_vllm/rewardanything", "http://a:8000/v1", "http", "http"),
    ],
)
def test_the_auto_backend_goes_straight_to_one_self_hosted_server(
    model: str | None, api_base: str | None, backend: str, expected: str
) -> None:
    from ra_agents.remote.server.app import backend_of, build_judge

    settings = ServerSettings(model=model, api_base=api_base, backend=backend)
    assert backend_of(settings) == expected
    if expected == "http":
        judge = build_judge(settings)
        assert type(judge.backend).__name__ == "OpenAIHTTPBackend"
        assert judge.backend.endpoints == [(api_base, None)]  # type: ignore[attr-defined]


def test_the_http_backend_takes_the_upstream_key_where_litellm_would(monkeypatch: pytest.MonkeyPatch) -> None:
    from ra_agents.remote.server.app import build_judge

    monkeypatch.setenv("HOSTED_VLLM_API_KEY", "vllm-key")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    vllm = build_judge(ServerSettings(model="hosted_vllm/m", api_base="http://a/v1", backend="http"))
    openai = build_judge(ServerSettings(model="openai/m", api_base="http://a/v1", backend="http"))
    assert vllm.backend.endpoints == [("http://a/v1", "vllm-key")]  # type: ignore[attr-defined]
    assert openai.backend.endpoints == [("http://a/v1", "openai-key")]  # type: ignore[attr-defined]
