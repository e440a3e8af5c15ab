"""``python -m benchmarks cache`` end to end, on a tiny batch against the instant local upstream."""

from __future__ import annotations

import json

from benchmarks.cache import renamed
from benchmarks.cli import main


def test_cache_bench_counts_calls_and_hits_cold_and_warm(tmp_path, capsys) -> None:
    code = main(["cache", "--requests", "6", "--candidates", "3", "--concurrency", "2", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| store | run | requests | ok | judge calls | hits | misses |" in out
    assert "| disk | warm | 6 | 6 | 0 | 6 | 0 |" in out
    assert "| memory | warm, renamed | 6 | 6 | 0 | 6 | 0 |" in out

    data = json.loads((tmp_path / "cache.json").read_text())
    got = [(r["store"], r["run"], r["judge_calls"], r["hits"], r["misses"], r["same_verdicts"]) for r in data["rows"]]
    assert got == [
        ("none", "no cache", 6, None, None, None),
        ("disk", "cold", 6, 0, 6, True),
        ("disk", "warm", 0, 6, 0, True),
        ("disk", "warm, renamed", 0, 6, 0, True),
        ("memory", "cold", 6, 0, 6, True),
        ("memory", "warm", 0, 6, 0, True),
        ("memory", "warm, renamed", 0, 6, 0, True),
    ]
    for row in data["rows"]:
        assert row["requests"] == row["ok"] == 6
        assert row["wall_s"] > 0 and row["ms_per_request"] > 0
    assert (tmp_path / "cache.md").read_text().startswith("## Verdict cache")
    assert (tmp_path / "cache.png").read_bytes()[:4] == b"\x89PNG"


def test_the_replayed_batch_is_renamed_and_reordered() -> None:
    batch = [{"principle": "p", "prompt": "q", "responses": {"a": "1", "b": "2", "c": "3"}}]
    (replay,) = renamed(batch)
    assert replay["responses"] == {"replay-0": "3", "replay-1": "2", "replay-2": "1"}
    assert replay["prompt"] == "q" and batch[0]["responses"] == {"a": "1", "b": "2", "c": "3"}


def test_unknown_store_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["cache", "--stores", "redis", "--out", str(tmp_path), "--no-progress", "--no-plot"]) == 2
    assert "unknown cache stores" in capsys.readouterr().err
