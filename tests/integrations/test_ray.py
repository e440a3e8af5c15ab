"""Batch judging on Ray Data: a real local Ray cluster, started once for the session.

Hundreds of rows go to the instant local upstream of the overhead benchmark (no model);
a few go to the real vLLM server. Every test checks the contract: as many rows out as in,
each id once, each row a verdict or the error that row met, never a dropped row.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.overhead import InstantUpstream, instant_verdict
from ra_agents import BackendUnavailable, Client, Judge, MissingDependencyError, UsageError, VerdictError
from ra_agents.cli import main
from ra_agents.integrations.ray import (
    VERDICT_COLUMNS,
    _columns_of,
    ajudge_table,
    judge_dataset,
    row_error,
    row_verdict,
)
from ra_agents.local.vllm_server import free_port
from ra_agents.testing import LoopbackOpenAI, ScriptedBackend, prefer

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."


@pytest.fixture(scope="module")
def upstream() -> Iterator[InstantUpstream]:
    with InstantUpstream() as up:
        yield up


def _by_id(rows: list[dict[str, Any]], id_column: str = "id") -> dict[Any, dict[str, Any]]:
    by_id = {row[id_column]: row for row in rows}
    assert len(by_id) == len(rows), "an id came out twice"
    return by_id


# ------------------------------------------------------------ without a cluster


def _error_type(row: dict[str, Any]) -> str:
    return str(json.loads(row["error"])["type"])


def test_a_row_reads_back_as_the_verdict_or_the_error() -> None:
    judge = Judge(ScriptedBackend(default=prefer(lambda t: "4" in t)), seed=0)
    for permutations in (1, 3):
        result = judge.judge(PRINCIPLE, "2+2?", {"x": "5", "y": "4", "z": "22"}, permutations=permutations)
        columns = _columns_of(result)
        assert set(columns) <= set(VERDICT_COLUMNS)
        assert row_verdict(columns) == result and row_error(columns) is None
        assert columns["unit_scores"] == [result.unit_score(n) for n in ("x", "y", "z")] and columns["best"] == "y"
    error = VerdictError("no verdict", raw="garbage", attempts=2)
    columns = _columns_of(error)
    assert row_verdict(columns) is None
    back = row_error(columns)
    assert isinstance(back, VerdictError) and (str(back), back.raw, back.attempts) == ("no verdict", "garbage", 2)


async def test_the_actors_batch_function_reads_message_prompts_without_ray() -> None:
    import pyarrow as pa  # type: ignore[import-untyped]

    judge = Judge(ScriptedBackend(default=prefer(lambda t: "4" in t)), seed=0)
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    table = pa.Table.from_pylist(
        [
            {"id": 1, "request": json.dumps({"principle": PRINCIPLE, "prompt": conversation, "responses": ["5", "4"]})},
            {"id": 2, "request": json.dumps({"principle": PRINCIPLE, "prompt": [], "responses": ["5", "4"]})},
        ]
    )
    first, second = (await ajudge_table(judge, table)).to_pylist()
    verdict = row_verdict(first)
    assert verdict is not None and verdict.best == "1"
    again = await judge.ajudge(PRINCIPLE, "system: Be brief.\nuser: 2+2?", ["5", "4"])
    assert (verdict.scores, verdict.ranking, verdict.passes) == (again.scores, again.ranking, again.passes)
    assert _error_type(second) == "UsageError" and "empty list" in json.loads(second["error"])["message"]


def test_without_ray_the_error_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, as when it is not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'ra-agents\[ray\]'"):
        judge_dataset(object(), model="hosted_vllm/x")  # type: ignore[arg-type]


def test_bad_arguments_fail_before_anything_runs(ray_cluster) -> None:
    ds = ray_cluster.data.from_items([{"id": 1, "principle": "p", "prompt": "q", "responses": ["a", "b"]}])
    with pytest.raises(UsageError, match="judge_options"):
        judge_dataset(ds, model="hosted_vllm/x", judge_options={"permutation": 2})
    with pytest.raises(UsageError, match="backend_options"):
        judge_dataset(ds, model="hosted_vllm/x", backend_options={"routing_strategy": "x"})  # replicas only
    with pytest.raises(UsageError, match="concurrency"):
        judge_dataset(ds, model="hosted_vllm/x", concurrency=0)
    with pytest.raises(UsageError, match="no column 'key'"):
        judge_dataset(ds, model="hosted_vllm/x", id_column="key")
    with pytest.raises(UsageError, match="collide"):
        judge_dataset(ds, model="hosted_vllm/x", keep_columns=["verdict"])
    with pytest.raises(UsageError, match="model="):
        judge_dataset(ds, model="")
    with pytest.raises(UsageError, match="builds the whole judge"):
        judge_dataset(ds, model="hosted_vllm/x", judge=lambda: Judge())
    with pytest.raises(UsageError, match="a judge itself is not sent"):
        judge_dataset(ds, judge=Judge(ScriptedBackend()))  # type: ignore[arg-type]


# ------------------------------------------------------- the instant upstream


def _flat_rows(count: int) -> tuple[list[dict[str, Any]], dict[int, list[str] | None]]:
    """Rows in request columns, some malformed; the candidate names each valid one should get."""
    rows: list[dict[str, Any]] = []
    expected: dict[int, list[str] | None] = {}
    for i in range(count):
        names = ["a", "b"] if i % 4 == 1 else ["r0", "r1", "r2"]  # different names: a union struct in Arrow
        row: dict[str, Any] = {
            "id": i,
            "principle": PRINCIPLE,
            "prompt": f"What is {i} + {i}?",
            "responses": {n: f"{2 * i + k}" for k, n in enumerate(names)},
        }
        if i % 10 == 3:
            del row["prompt"]
        elif i % 10 == 7:
            row["responses"] = {}
        elif i % 25 == 11:
            row["principle"] = "   "
        elif i % 50 == 19:
            row["permutations"] = 0
        elif i % 30 == 2:
            row["permutations"] = 2
        malformed = i % 10 in (3, 7) or i % 25 == 11 or i % 50 == 19
        expected[i] = None if malformed else names
        rows.append(row)
    return rows, expected


def test_hundreds_of_rows_over_two_actors_and_two_replicas(ray_cluster) -> None:
    rows, expected = _flat_rows(300)
    replicas = [LoopbackOpenAI(instant_verdict, record=True) for _ in range(2)]
    with replicas[0], replicas[1]:
        ds = ray_cluster.data.from_items(rows)
        out = judge_dataset(
            ds,
            model="hosted_vllm/x",
            api_base=[r.api_base for r in replicas],
            concurrency=2,
            batch_size=40,
            judge_options={"concurrency": 16, "seed": 0},
        ).take_all()
    assert len(out) == len(rows)
    by_id = _by_id(out)
    assert set(by_id) == set(expected)
    for i, names in expected.items():
        row = by_id[i]
        assert list(row) == ["id", *VERDICT_COLUMNS]
        if names is None:
            assert row["ok"] is False and _error_type(row) == "UsageError" and str(row_error(row)), row
            assert row["verdict"] is None and row["unit_scores"] is None
        else:
            assert row["ok"] is True and row["error"] is None, row
            assert row["names"] == names  # the union struct's nulls were not taken for candidates
            verdict = row_verdict(row)
            assert verdict is not None and verdict.names == tuple(names)
            assert sorted(verdict.ranking) == sorted(names) and row["best"] == verdict.best
            assert len(row["unit_scores"]) == len(names) and len(verdict.passes) == (2 if i % 30 == 2 else 1)
    assert sum(row["ok"] for row in out) == sum(n is not None for n in expected.values()) > 200
    assert "prompt" in str(row_error(by_id[3])) and "empty" in str(row_error(by_id[7]))
    # both replicas served: LiteLLM's Router spread each actor's requests
    assert all(len(r.requests) > 20 for r in replicas), [len(r.requests) for r in replicas]


def test_request_column_json_text_with_broken_rows(ray_cluster, upstream) -> None:
    good = {"principle": PRINCIPLE, "prompt": "2+2?", "responses": {"x": "4", "y": "five"}}
    texts = {
        "ok-map": json.dumps(good),
        "ok-list": json.dumps({**good, "responses": ["4", "5", "22"], "permutations": 2}),
        "ok-principle": json.dumps({**good, "principle": {"criteria": [{"name": "correct", "weight": 2}]}}),
        "not-json": '{"principle": "p", "prompt": ',
        "not-object": "[1, 2]",
        "bad-responses": json.dumps({**good, "responses": 5}),
        "unknown-key": json.dumps({**good, "extra": True}),
        "no-candidates": json.dumps({**good, "responses": []}),
    }
    rows = [{"key": k, "request": t, "label": n} for n, (k, t) in enumerate(texts.items())]
    ds = ray_cluster.data.from_items(rows)
    out = judge_dataset(
        ds, model="hosted_vllm/x", api_base=upstream.api_base, id_column="key", keep_columns=["label"], batch_size=3
    ).take_all()
    by_id = _by_id(out, "key")
    assert set(by_id) == set(texts)
    assert list(out[0]) == ["key", *VERDICT_COLUMNS, "label"]
    assert [by_id[k]["label"] for k in texts] == list(range(len(texts)))
    assert by_id["ok-map"]["names"] == ["x", "y"] and by_id["ok-list"]["names"] == ["0", "1", "2"]
    listed = row_verdict(by_id["ok-list"])
    assert listed is not None and len(listed.passes) == 2 and by_id["ok-principle"]["ok"]
    for key in ("not-json", "not-object", "bad-responses", "unknown-key", "no-candidates"):
        assert by_id[key]["ok"] is False and _error_type(by_id[key]) == "UsageError", by_id[key]
    assert "not valid JSON" in str(row_error(by_id["not-json"]))
    assert "must be a JSON object" in str(row_error(by_id["not-object"]))
    assert "extra" in str(row_error(by_id["unknown-key"]))


def test_backend_down_gives_error_rows(ray_cluster) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    rows = [{"id": i, "principle": PRINCIPLE, "prompt": "q", "responses": ["a", "b"]} for i in range(5)]
    out = judge_dataset(
        ray_cluster.data.from_items(rows),
        model="hosted_vllm/x",
        api_base=dead,
        backend_options={"num_retries": 0, "timeout": 5},
    ).take_all()
    assert sorted(r["id"] for r in out) == list(range(5))
    errors = [row_error(r) for r in out]
    assert all(isinstance(e, BackendUnavailable) and "cannot reach" in str(e) for e in errors), errors


def _by_content(body: dict[str, Any]) -> Any:
    """A verdict by the texts alone (digits 5, "x" 3, anything else 1), whatever order they are shown in."""
    from ra_agents.testing import chat_completion

    shown = json.loads(body["messages"][1]["content"])["responses"]
    scores = {m: 5 if t.isdigit() else 3 if t == "x" else 1 for m, t in shown.items()}
    return chat_completion(json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: -scores[m])}))


def test_a_judge_server_through_the_client_gives_the_same_rows(ray_cluster, tmp_path) -> None:
    from tests.server.test_client import _Server

    rows = [
        {"id": i, "principle": PRINCIPLE, "prompt": f"What is {i} + {i}?", "responses": [f"{2 * i}", "x", "y"]}
        for i in range(6)
    ]
    rows.append({"id": 99, "principle": PRINCIPLE, "prompt": "q", "responses": []})
    # Both judges shuffle without a seed: the upstream judges by content, not position.
    with LoopbackOpenAI(_by_content) as upstream:
        server = _Server(upstream.api_base, tmp_path / "serve.log")
        try:
            server.wait()
            remote = judge_dataset(
                ray_cluster.data.from_items(rows),
                judge=functools.partial(Client, server.url),
                concurrency=2,
                batch_size=4,
            ).take_all()
        finally:
            server.stop()
        local = judge_dataset(
            ray_cluster.data.from_items(rows), model="hosted_vllm/x", api_base=upstream.api_base, batch_size=4
        ).take_all()

    def summary(row: dict[str, Any]) -> Any:
        verdict = row_verdict(row)
        if verdict is None:
            return _error_type(row)
        return (row["names"], row["unit_scores"], row["best"], verdict.scores, verdict.ranking)

    assert {r["id"]: summary(r) for r in remote} == {r["id"]: summary(r) for r in local}
    assert sum(r["ok"] for r in remote) == 6


# ------------------------------------------------------------------- the CLI


def test_cli_ray_writes_every_row_like_the_plain_command(ray_cluster, upstream, tmp_path, capsys) -> None:
    lines = [
        json.dumps({"id": "first", "principle": PRINCIPLE, "prompt": "2+2?", "responses": {"x": "4", "y": "5"}}),
        json.dumps({"id": 7, "principle": PRINCIPLE, "responses": ["no", "prompt"]}),
        "",
        json.dumps({"principle": PRINCIPLE, "prompt": "3+3?", "responses": ["6", "7", "8"], "permutations": 2}),
        "{this is not json",
        json.dumps({"id": "last", "principle": PRINCIPLE, "prompt": "1+1?", "responses": {"p": "2", "q": "3"}}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = ["judge", "-i", str(path), "--model", "hosted_vllm/x", "--api-base", upstream.api_base, "--seed", "0"]

    assert main([*common, "-o", str(tmp_path / "ray.jsonl"), "--ray", "--ray-actors", "2"]) == 1
    assert "judged 5 requests on Ray: 3 ok, 2 failed" in capsys.readouterr().err
    assert main([*common, "-o", str(tmp_path / "plain.jsonl")]) == 1

    ray_rows = [json.loads(x) for x in (tmp_path / "ray.jsonl").read_text(encoding="utf-8").splitlines()]
    plain_rows = [json.loads(x) for x in (tmp_path / "plain.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["index"], r["id"], r["ok"]) for r in ray_rows] == [
        (0, "first", True),
        (1, 7, False),
        (2, None, True),
        (3, None, False),
        (4, "last", True),
    ]
    assert ray_rows[3]["message"] == plain_rows[3]["message"]
    assert ray_rows[3]["message"].startswith("in.jsonl line 5 is not valid JSON")
    assert ray_rows[1]["error"] == "UsageError" and "request 1 is malformed: prompt" in ray_rows[1]["message"]
    # the same rows as without Ray, but for timings
    for ours, theirs in zip(ray_rows, plain_rows, strict=True):
        for row in (ours, theirs):
            row.pop("latency_s", None)
            if not row["ok"]:
                row.pop("message")  # the plain command counts only the lines that parsed in "request N"
        assert ours == theirs


def test_cli_ray_needs_a_served_model(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("RA_AGENTS_MODEL", raising=False)
    monkeypatch.setenv("RA_AGENTS_CONFIG", str(tmp_path / "none.toml"))
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"principle": "p", "prompt": "q", "responses": ["a"]}) + "\n", encoding="utf-8")
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    assert main(["judge", "-i", str(path), "--ray"]) == 2
    assert "--ray needs a served model" in capsys.readouterr().err


# ----------------------------------------------------------- the real model


@pytest.mark.vllm
def test_real_vllm_through_the_router(ray_cluster, vllm_server) -> None:
    rows: list[dict[str, Any]] = [
        {"id": i, "principle": PRINCIPLE, "prompt": f"What is {i} + 2?", "responses": [f"{i + 2}", f"{i + 3}"]}
        for i in range(6)
    ]
    rows += [
        {"id": 100, "principle": PRINCIPLE, "prompt": None, "responses": ["a", "b"]},
        {"id": 101, "principle": PRINCIPLE, "prompt": "q", "responses": []},
        {"id": 102, "principle": "", "prompt": "q", "responses": ["a", "b"]},
    ]
    out = judge_dataset(
        ray_cluster.data.from_items(rows),
        model=f"hosted_vllm/{vllm_server.served_name}",
        api_base=[vllm_server.api_base, vllm_server.api_base],  # two "replicas": LiteLLM's Router
        batch_size=16,
        judge_options={"concurrency": 6, "seed": 0, "max_tokens": 80},
        backend_options={"timeout": 600},
    ).take_all()
    by_id = _by_id(out)
    assert sorted(by_id) == [*range(6), 100, 101, 102]
    for i in range(6):
        row = by_id[i]
        assert row["ok"] is True, row
        verdict = row_verdict(row)
        assert verdict is not None and row["names"] == ["0", "1"] and sorted(verdict.ranking) == ["0", "1"]
        assert all(1 <= s <= 5 for s in verdict.scores.values())
        assert verdict.model == vllm_server.served_name and verdict.usage.prompt_tokens > 50
    assert all(_error_type(by_id[i]) == "UsageError" for i in (100, 101, 102))
