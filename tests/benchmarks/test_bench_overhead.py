"""``python -m benchmarks overhead`` end to end without a model: ``overhead`` against the instant upstream."""

from __future__ import annotations

import json

import httpx

from benchmarks.cli import main
from benchmarks.overhead import TARGETS, InstantUpstream


def test_instant_upstream_answers_a_valid_verdict():
    from ra_agents import protocol

    with InstantUpstream() as up:
        msgs = protocol.render_messages("p", "q", {"model-1": "a", "model-2": "b", "model-3": "c"})
        r = httpx.post(up.api_base + "/chat/completions", json={"model": "x", "messages": msgs})
        assert r.status_code == 200
        verdict = protocol.parse_verdict(
            r.json()["choices"][0]["message"]["content"], ["model-1", "model-2", "model-3"]
        )
        assert verdict.ranking == ["model-1", "model-2", "model-3"]
        assert httpx.post(up.api_base + "/chat/completions", json={"messages": []}).status_code == 400


def test_overhead_end_to_end(tmp_path, capsys):
    code = main(
        [
            "overhead",
            "--requests",
            "20",
            "--warmup",
            "2",
            "--concurrency",
            "1,4",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "| target | concurrency |" in out
    data = json.loads((tmp_path / "overhead.json").read_text())
    assert [(r["target"], r["concurrency"]) for r in data["rows"]] == [(t, c) for t in TARGETS for c in (1, 4)]
    for row in data["rows"]:
        assert row["errors"] == 0 and row["requests"] == 20
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["throughput_rps"] > 0
    assert (tmp_path / "overhead.md").read_text().startswith("## Framework overhead")
    assert (tmp_path / "overhead.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_target_is_a_usage_error(tmp_path, capsys):
    assert main(["overhead", "--targets", "nope", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "unknown overhead targets" in capsys.readouterr().err
