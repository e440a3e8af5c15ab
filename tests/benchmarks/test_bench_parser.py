"""``python -m benchmarks parser``: the table of parse time against answer shape and size."""

from __future__ import annotations

import json

from benchmarks.cli import main
from benchmarks.parser import SHAPES


def test_parser_bench_prints_every_shape_and_finds_every_trailing_verdict(tmp_path, capsys):
    code = main(["parser", "--sizes", "16,64", "--repeats", "1", "--out", str(tmp_path), "--no-plot", "--no-progress"])

    assert code == 0
    out = capsys.readouterr().out
    assert "| answer shape | size | alone | ms | + valid verdict | ms |" in out
    rows = json.loads((tmp_path / "parser.json").read_text())["rows"]
    assert {r["shape"] for r in rows} == set(SHAPES) and {r["bytes"] for r in rows} == {16 * 1024, 64 * 1024}
    assert all(r["outcome"] == ("verdict" if r["verdict_after"] else "rejected") for r in rows)
    assert all(r["ms"] >= 0 for r in rows)


def test_parser_bench_unknown_shape_is_a_usage_error(tmp_path, capsys):
    assert main(["parser", "--shapes", "nope", "--out", str(tmp_path)]) == 2
    assert "choose from" in capsys.readouterr().err
