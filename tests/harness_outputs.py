"""Running a measuring command (``ra-agents eval``, ``python -m benchmarks``) against the served model, and
checking the files it writes: shared by the real-model tests of both."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["outputs", "run_on_served_model"]


def run_on_served_model(
    main: Callable[[Sequence[str]], int], vllm_server: Any, tmp_path: Path, capsys: Any, *args: str
) -> str:
    """Run ``main(args)`` against the session's vLLM server, writing into ``tmp_path``; its stdout."""
    code = main(
        [
            *args,
            "--model",
            vllm_server.litellm_model,
            "--api-base",
            vllm_server.api_base,
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    return str(out.out)


def outputs(tmp_path: Path, name: str) -> dict[str, Any]:
    """The run's JSON, after checking its plot and markdown were written too."""
    assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / f"{name}.md").read_text().startswith("## ")
    data: dict[str, Any] = json.loads((tmp_path / f"{name}.json").read_text())
    assert data["machine"]["cpus"] >= 1 and data["argv"][0] == name
    return data
