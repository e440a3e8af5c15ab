"""Writing results: JSON, markdown tables, PNG plots, progress bars (of evaluations, calibration, benchmarks)."""

from __future__ import annotations

import json
import math
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["md_table", "fmt", "write_outputs", "progress", "machine_info", "plot"]


_DASH = "\u2013"  # an en dash marks a missing figure


def fmt(value: Any, digits: int = 3) -> str:
    """Format a table cell: floats rounded, NaN/None as an en dash."""
    if value is None:
        return _DASH
    if isinstance(value, float):
        if math.isnan(value):
            return _DASH
        return f"{value:.{digits}f}"
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(c, digits) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_outputs(out_dir: Path, name: str, results: dict[str, Any], markdown: str) -> dict[str, Path]:
    """Write ``<name>.json`` and ``<name>.md`` under ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{name}.json"
    md_path = out_dir / f"{name}.md"
    json_path.write_text(json.dumps(_json_safe(results), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown + "\n", encoding="utf-8")
    return {"json": json_path, "md": md_path}


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    import os

    from .. import __version__

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ra_agents": __version__,
    }


@contextmanager
def progress(total: int, desc: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on a terminal's stderr (a no-op off a terminal, without tqdm, or disabled); yields ``advance(n)``."""
    bar = None
    if enabled:
        try:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True, disable=None)
        except ImportError:  # pragma: no cover - tqdm is in the eval extra
            bar = None

    def advance(n: int = 1) -> None:
        if bar is not None:
            bar.update(n)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.close()


def plot(path: Path, draw: Callable[[Any], None], *, size: tuple[float, float] = (8.0, 4.5)) -> Path | None:
    """Draw a figure with ``draw(fig)`` and save it as PNG; ``None`` without matplotlib.

    The figure has its own Agg canvas: no pyplot state and no change of the process's backend
    (a notebook that saves a plot keeps its own).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is in the eval extra
        print("matplotlib is not installed; skipping plots (pip install 'ra-agents[eval]')", file=sys.stderr)
        return None
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    draw(fig)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
