"""The server benchmark's logic, fast: the upstream and ``ra-agents serve`` only (no reference environment)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import server
from ra_agents.evals.report import write_outputs


@pytest.fixture
def no_reference_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything tries to create or check the reference environment."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fast test must not touch the reference environment")

    monkeypatch.setattr(server, "ensure_reference_python", refuse)


async def test_upstream_and_ours_without_errors(tmp_path: Path, no_reference_env: None) -> None:
    results = await server.run_server_bench(
        targets=["upstream", "ra-agents", "ra-agents-litellm"],
        requests=20,
        concurrency=[4],
        candidates=4,
        warmup=2,
        show_progress=False,
    )
    assert results["reference"] is None
    assert [(r["target"], r["concurrency"]) for r in results["rows"]] == [
        ("upstream", 4),
        ("ra-agents", 4),
        ("ra-agents-litellm", 4),
    ]
    for row in results["rows"]:
        assert row["errors"] == 0, row["first_error"]
        assert row["ok"] == row["requests"] == 20
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["throughput_rps"] > 0
        assert row["client_cpu_ms"] > 0  # the load generator's own cost is measured, not assumed
        assert row["upstream_cpu_ms"] >= 0  # the upstream process's, from /proc (NaN would fail)
        if row["target"] == "upstream":
            assert math.isnan(row["server_cpu_ms"])
        else:
            assert row["server_cpu_ms"] >= 0  # measured (20 requests may take under one clock tick)
    assert [c["target"] for c in results["comparisons"]] == ["ra-agents", "ra-agents-litellm"]
    for comparison in results["comparisons"]:
        assert comparison["ours_over_reference"] is None and comparison["reference_goal_met"] is None
        assert comparison["ours_over_upstream"] > 0 and isinstance(comparison["upstream_goal_met"], bool)

    markdown = server.render_markdown(results)
    assert (
        "| target | concurrency | ok | errors | req/s | p50 ms | p99 ms | CPU ms/req: client | upstream | server |"
        in markdown
    )
    assert "ours/reference not measured" in markdown and "ours/upstream" in markdown
    paths = write_outputs(tmp_path, "server", results, markdown)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [r["target"] for r in data["rows"]] == ["upstream", "ra-agents", "ra-agents-litellm"]
    assert all(r["errors"] == 0 and r["ok"] == 20 for r in data["rows"])
    png = server.plot_server(results, tmp_path / "server.png")
    assert png is not None and png.read_bytes()[:4] == b"\x89PNG"


async def test_unknown_target_is_a_usage_error(no_reference_env: None) -> None:
    from ra_agents import UsageError

    with pytest.raises(UsageError, match="unknown server-bench targets"):
        await server.run_server_bench(targets=["nope"], requests=1, concurrency=[1], show_progress=False)


def test_cli_parses_the_server_subcommand() -> None:
    from benchmarks.cli import build_parser

    args = build_parser().parse_args(["server"])
    assert (args.requests, args.concurrency, args.candidates, args.reference_python) == (2000, [16, 64], 4, None)
    args = build_parser().parse_args(["server", "--concurrency", "2,8", "--reference-python", "py", "--no-plot"])
    assert args.concurrency == [2, 8] and args.reference_python == Path("py") and args.no_plot
    assert args.targets == list(server.TARGET_NAMES)
    assert build_parser().parse_args(["server", "--targets", "upstream,ra-agents-workers2"]).targets == [
        "upstream",
        "ra-agents-workers2",
    ]
