"""Throughput of the judge as a service, against the reference server and the bare upstream.

The same load (``requests`` verdict requests of ``candidates`` candidates each, sent by
``concurrency`` concurrent clients sharing one ``aiohttp.ClientSession``) goes to each target:

- ``upstream``: the instant upstream's own ``/v1/chat/completions``, with the chat body a judge
  sends (the ceiling: no judge server in between);
- ``ra-agents``: ``ra-agents serve`` (``POST /v1/judge``) pointed at that upstream, as started
  by default (one process; the ``litellm`` backend);
- ``ra-agents-workers2``: the same with ``--workers 2`` (two server processes);
- ``ra-agents-litellm``: the same with ``--backend litellm`` (the default, named);
- ``ra-agents-http``: the same with ``--backend http`` (straight to the upstream over aiohttp,
  skipping LiteLLM);
- ``reference``: the ``rewardanything==1.0.1`` reference server (``POST /api/rewardanything``)
  pointed at the same upstream.

The upstream is :class:`~benchmarks.overhead.InstantUpstream` (a canned, valid verdict for
the masked names ``model-1..model-k``), run in its own process so that the load generator and
the upstream do not share an interpreter lock. Each server runs as a subprocess on a free
loopback port; it is polled on ``GET /health``, warmed up, measured, then stopped (SIGTERM,
then kill). An answer counts as ok when its status is 200 and it scores exactly the request's
candidates; anything else is an error.

The load generator must not be what limits the figures, so it runs on aiohttp and each row
reports its CPU time per request (``client_cpu_ms``). An ``httpx.AsyncClient`` with 64
connections spent about 3.8 ms of CPU per request (its pool scans every connection on each
request), which on a 2-core machine starved the server it was measuring; aiohttp's client
spends about 0.15 ms.

The reference server needs ``rewardanything==1.0.1``. Its package ``__init__`` imports the
local-inference module (torch, transformers), which its server never uses, so the benchmark
starts it by registering the package without running that ``__init__`` and running
``rewardanything.serve`` as ``__main__``; the default environment
(:func:`ensure_reference_python`) therefore installs the package with ``--no-deps`` plus only
what the server path imports.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ra_agents import RAError, UsageError
from ra_agents.evals.metrics import percentile
from ra_agents.evals.report import md_table, plot, progress
from ra_agents.local.model import cache_dir
from ra_agents.local.vllm_server import free_port

from .overhead import HttpxDirect, make_requests
from .processes import aiohttp_module, start_child, start_serve, start_upstream, tail

__all__ = [
    "TARGET_NAMES",
    "REFERENCE_VERSION",
    "REFERENCE_DEPENDENCIES",
    "GOAL_OVER_REFERENCE",
    "GOAL_OVER_UPSTREAM",
    "reference_venv_dir",
    "ensure_reference_python",
    "run_server_bench",
    "render_markdown",
    "plot_server",
]

_OURS: dict[str, tuple[str, ...]] = {
    "ra-agents": (),
    "ra-agents-workers2": ("--workers", "2"),
    "ra-agents-litellm": ("--backend", "litellm"),
    "ra-agents-http": ("--backend", "http"),
}
"""Our targets and the ``ra-agents serve`` flags each adds to the defaults."""

TARGET_NAMES: tuple[str, ...] = ("upstream", *_OURS, "reference")
"""The targets, in the order they are measured and reported."""

REFERENCE_VERSION = "1.0.1"
"""The ``rewardanything`` release whose server is the reference."""

REFERENCE_DEPENDENCIES: tuple[str, ...] = (
    "fastapi",
    "uvicorn",
    "pydantic",
    "openai",
    "tqdm",
    "numpy",
    "scipy",
    "requests",
)
"""What ``rewardanything.serve`` imports (its package also pulls torch and transformers, unused by the server)."""

GOAL_OVER_REFERENCE = 5.0
"""Our throughput should be at least this multiple of the reference server's."""

GOAL_OVER_UPSTREAM = 0.4
"""Our throughput should be at least this fraction of the upstream's own."""

_REQUEST_TIMEOUT_S = 60.0
_JSON = {"content-type": "application/json"}

# Registers the rewardanything package without running its __init__ (which imports torch and
# transformers for local inference), then runs its server module as a script.
_REFERENCE_BOOT = """\
import importlib.util, runpy, sys
spec = importlib.util.find_spec("rewardanything")
if spec is None or not spec.submodule_search_locations:
    sys.exit("rewardanything is not installed in this Python")
sys.modules["rewardanything"] = importlib.util.module_from_spec(spec)
"""
_REFERENCE_LAUNCH = (
    _REFERENCE_BOOT
    + """\
sys.argv[0] = "rewardanything.serve"
runpy.run_module("rewardanything.serve", run_name="__main__", alter_sys=True)
"""
)
_REFERENCE_CHECK = (
    _REFERENCE_BOOT
    + """\
import importlib.metadata
import rewardanything.serve
print(importlib.metadata.version("rewardanything"))
"""
)

# ---------------------------------------------------------------- the reference environment


def reference_venv_dir() -> Path:
    """Where the benchmark keeps its reference environment: ``<ra-agents cache>/bench-reference-venv``."""
    return cache_dir() / "bench-reference-venv"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _check_reference(python: Path) -> tuple[str | None, str]:
    """The ``rewardanything`` version whose server ``python`` can import, or ``None`` and why not."""
    try:
        done = subprocess.run(
            [str(python), "-c", _REFERENCE_CHECK], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return None, tail(done.stderr or done.stdout)
    return done.stdout.strip().splitlines()[-1], ""


def _run_pip(python: Path, *args: str) -> None:
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RAError(f"pip install {' '.join(args)} failed in the reference environment:\n{tail(done.stderr)}")


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    try:
        from filelock import FileLock
    except ImportError:  # pragma: no cover - filelock comes with the litellm extra
        yield
        return
    with FileLock(str(path)):
        yield


def ensure_reference_python(python: str | Path | None = None) -> tuple[Path, str]:
    """A Python that can run the reference server, and the ``rewardanything`` version it has.

    Args:
        python: an interpreter with ``rewardanything`` installed; ``None`` uses (creating it once)
            a virtual environment under the ra-agents cache (:func:`reference_venv_dir`) with
            ``rewardanything==1.0.1`` installed without dependencies, plus
            :data:`REFERENCE_DEPENDENCIES`.

    Raises:
        UsageError: the given interpreter cannot import ``rewardanything.serve``.
        RAError: the environment could not be created.
    """
    if python is not None:
        path = Path(python)
        version, why = _check_reference(path)
        if version is None:
            raise UsageError(f"--reference-python {path} cannot import rewardanything.serve:\n{why}")
        return path, version
    venv = reference_venv_dir()
    exe = _venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _lock(venv.parent / (venv.name + ".lock")):
        if exe.is_file():
            version, _ = _check_reference(exe)
            if version is not None:
                return exe, version
            shutil.rmtree(venv)  # incomplete or broken: rebuild it
        print(f"creating the reference environment once (rewardanything=={REFERENCE_VERSION}) ...", file=sys.stderr)
        done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RAError(f"could not create the reference environment:\n{tail(done.stderr)}")
        _run_pip(exe, "--no-deps", f"rewardanything=={REFERENCE_VERSION}")
        _run_pip(exe, *REFERENCE_DEPENDENCIES)
        version, why = _check_reference(exe)
        if version is None:
            raise RAError(f"the reference environment cannot import rewardanything.serve:\n{why}")
        return exe, version


# ------------------------------------------------------------------------------ processes


def _tree_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a live process and its live descendants (Linux ``/proc``), or None.

    uvicorn's ``--workers`` are children of the server process, and a child's time reaches its
    parent's counters only when it exits, so the tree is walked.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo, seen = 0.0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        proc = Path(f"/proc/{current}")
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in (proc / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            if current == pid:
                return None  # no /proc (not Linux), or the process is gone
    return total


# -------------------------------------------------------------------------------- targets


@dataclass
class _Endpoint:
    """Where a target's requests go, their encoded bodies, and how an answer is checked."""

    name: str
    url: str
    bodies: list[bytes]
    check: Callable[[Any, dict[str, Any]], str | None]


def _ok_upstream(answer: Any, request: dict[str, Any]) -> str | None:
    verdict = json.loads(answer["choices"][0]["message"]["content"])
    if len(verdict.get("scores", {})) != len(request["responses"]):
        return f"the upstream scored {sorted(verdict.get('scores', {}))}"
    return None


def _ok_ours(answer: Any, request: dict[str, Any]) -> str | None:
    if set(answer.get("scores", {})) != set(request["responses"]) or len(answer.get("ranking", [])) != len(
        request["responses"]
    ):
        return f"ra-agents answered scores {answer.get('scores')} and ranking {answer.get('ranking')}"
    return None


def _ok_reference(answer: Any, request: dict[str, Any]) -> str | None:
    results = answer.get("results", {})
    if set(results.get("scores", {})) != set(request["responses"]) or len(results.get("best-to-worst", [])) != len(
        request["responses"]
    ):
        return f"the reference answered {results}"
    return None


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


async def _start_target(
    name: str,
    stack: AsyncExitStack,
    client: Any,
    *,
    api_base: str,
    requests: list[dict[str, Any]],
    workdir: Path,
    reference_python: Path | None,
) -> tuple[_Endpoint, int | None]:
    """Start what ``name`` needs (a server subprocess, or nothing) and return its endpoint."""
    judge_body = [{k: r[k] for k in ("principle", "prompt", "responses")} for r in requests]
    if name == "upstream":
        direct = HttpxDirect(api_base)
        return _Endpoint(name, direct.url, [_encode(direct.body(r)) for r in requests], _ok_upstream), None
    bodies = [_encode(b) for b in judge_body]
    if name in _OURS:
        root, pid = await start_serve(
            stack, client, api_base=api_base, workdir=workdir, flags=_OURS[name], log=f"{name}.log"
        )
        return _Endpoint(name, root + "/v1/judge", bodies, _ok_ours), pid
    if name != "reference":
        raise UsageError(f"unknown server-bench target {name!r}; known: {list(TARGET_NAMES)}")
    if reference_python is None:  # pragma: no cover - resolved by the caller
        raise UsageError("the reference target needs a Python with rewardanything")
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    k = max(len(r["responses"]) for r in requests)
    config = workdir / "reference.json"
    config.write_text(
        json.dumps(
            {
                "api_model": "x",
                "api_key": "none",
                "api_base": api_base,
                "api_timeout": _REQUEST_TIMEOUT_S,
                "generation_config": {"max_tokens": 32 + 24 * k, "temperature": 0.0},
                "num_workers": 64,
                "request_limit": 100000,
                "request_limit_period": 60,
            }
        ),
        encoding="utf-8",
    )
    argv = [
        str(reference_python),
        "-c",
        _REFERENCE_LAUNCH,
        "-c",
        str(config),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--base-output-path",
        str(workdir / "reference-outputs"),
    ]
    masked = [_encode({**b, "mask_responses": True}) for b in judge_body]
    pid = await start_child(
        stack, client, "the reference server", argv, root=root, workdir=workdir, log="reference.log"
    )
    return _Endpoint(name, root + "/api/rewardanything", masked, _ok_reference), pid


# ---------------------------------------------------------------------------------- load


@dataclass
class _Measured:
    """One load run: latencies (s) of the ok answers, error messages, wall time and the client's CPU time."""

    latencies: list[float]
    errors: list[str]
    wall_s: float
    client_cpu_s: float


async def _load(
    client: Any,
    endpoint: _Endpoint,
    requests: list[dict[str, Any]],
    indices: Sequence[int],
    concurrency: int,
    advance: Callable[[int], None],
) -> _Measured:
    """Send ``indices`` with ``concurrency`` workers sharing the ``aiohttp.ClientSession`` ``client``."""
    aiohttp = aiohttp_module()
    pending = iter(indices)
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        for i in pending:  # one iterator shared by all workers: each index is sent once
            started = time.perf_counter()
            problem: str | None
            try:
                async with client.post(endpoint.url, data=endpoint.bodies[i], headers=_JSON) as response:
                    status, raw = response.status, await response.read()
                if status != 200:
                    problem = f"HTTP {status}: {raw[:300].decode(errors='replace')}"
                else:
                    problem = endpoint.check(json.loads(raw), requests[i])
            except (
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
                KeyError,
                IndexError,
                TypeError,
                AttributeError,
            ) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(problem)
            advance(1)

    cpu, started = time.process_time(), time.perf_counter()  # this process runs only the load
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _Measured(latencies, errors, time.perf_counter() - started, time.process_time() - cpu)


def _cpu_of(*pids: int | None) -> list[float | None]:
    return [None if pid is None else _tree_cpu_seconds(pid) for pid in pids]


def _per_request_ms(before: float | None, after: float | None, sent: int) -> float:
    if before is None or after is None or not sent:
        return float("nan")
    return (after - before) * 1000 / sent


def _row(
    target: str, concurrency: int, run: _Measured, before: list[float | None], after: list[float | None]
) -> dict[str, Any]:
    latencies, errors, wall = run.latencies, run.errors, run.wall_s
    ms = [x * 1000 for x in latencies]
    sent = len(latencies) + len(errors)
    return {
        "target": target,
        "concurrency": concurrency,
        "requests": sent,
        "ok": len(latencies),
        "errors": len(errors),
        "wall_s": round(wall, 4),
        "throughput_rps": len(latencies) / wall if wall > 0 else float("nan"),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": sum(ms) / len(ms) if ms else float("nan"),
        "client_cpu_ms": run.client_cpu_s * 1000 / sent if sent else float("nan"),
        "upstream_cpu_ms": _per_request_ms(before[0], after[0], sent),
        "server_cpu_ms": _per_request_ms(before[1], after[1], sent),
        "first_error": errors[0] if errors else None,
    }


def _comparisons(rows: list[dict[str, Any]], concurrency: Sequence[int]) -> list[dict[str, Any]]:
    rps = {(r["target"], r["concurrency"]): r["throughput_rps"] for r in rows}
    out = []
    for target in _OURS:
        for c in concurrency:
            ours = rps.get((target, c))
            if ours is None:
                continue
            ref = rps.get(("reference", c))
            up = rps.get(("upstream", c))
            over_ref = ours / ref if ref else None
            over_up = ours / up if up else None
            out.append(
                {
                    "target": target,
                    "concurrency": c,
                    "ours_over_reference": over_ref,
                    "ours_over_upstream": over_up,
                    "reference_goal_met": None if over_ref is None else over_ref >= GOAL_OVER_REFERENCE,
                    "upstream_goal_met": None if over_up is None else over_up >= GOAL_OVER_UPSTREAM,
                }
            )
    return out


async def run_server_bench(
    *,
    targets: Sequence[str] = TARGET_NAMES,
    requests: int = 2000,
    concurrency: Sequence[int] = (16, 64),
    candidates: int = 4,
    warmup: int = 8,
    reference_python: str | Path | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Measure each target at each concurrency against one instant upstream.

    Args:
        targets: names from :data:`TARGET_NAMES`; ``reference`` needs ``rewardanything`` (see
            :func:`ensure_reference_python`), the others nothing beyond the server extra.
        requests: measured requests per target and concurrency.
        concurrency: the numbers of concurrent clients to measure with.
        candidates: candidates per request.
        warmup: unmeasured requests before each measurement (at least one per client).
        reference_python: a Python with ``rewardanything`` (``None``: the benchmark's own environment).
        show_progress: a progress bar on stderr.

    Returns:
        ``{"benchmark": "server", "rows": [...], "comparisons": [...], ...}``; each row has the target,
        concurrency, requests, ok, errors, wall_s, throughput_rps, p50_ms, p99_ms, mean_ms, the CPU time
        per request of the load generator, the upstream and the server (``client_cpu_ms``,
        ``upstream_cpu_ms``, ``server_cpu_ms``; the last two NaN without Linux ``/proc``, the
        server's NaN for the upstream target) and first_error.

    Raises:
        UsageError: an unknown target or an unusable ``reference_python``.
        RAError: a server did not start.
    """
    aiohttp = aiohttp_module()
    unknown = [t for t in targets if t not in TARGET_NAMES]
    if unknown:
        raise UsageError(f"unknown server-bench targets {unknown}; known: {list(TARGET_NAMES)}")
    ordered = [t for t in TARGET_NAMES if t in targets]
    reference: dict[str, Any] | None = None
    ref_python: Path | None = None
    if "reference" in ordered:
        ref_python, version = await asyncio.to_thread(ensure_reference_python, reference_python)
        reference = {
            "version": version,
            "python": "given (--reference-python)" if reference_python else "the benchmark's environment in the cache",
            "launch": "package registered without its __init__ (torch, transformers), rewardanything.serve as __main__",
        }
    reqs = make_requests(requests, candidates)
    top = max(concurrency)
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="ra-bench-server-"))
    try:
        async with AsyncExitStack() as stack:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=top), timeout=aiohttp.ClientTimeout(total=_REQUEST_TIMEOUT_S)
            )
            client = await stack.enter_async_context(session)
            api_base, upstream_pid = await start_upstream(stack, workdir)
            with progress(len(ordered) * len(concurrency) * requests, "server", show_progress) as advance:
                for name in ordered:
                    async with AsyncExitStack() as per_target:
                        endpoint, server_pid = await _start_target(
                            name,
                            per_target,
                            client,
                            api_base=api_base,
                            requests=reqs,
                            workdir=workdir,
                            reference_python=ref_python,
                        )
                        for c in concurrency:
                            warm = range(min(max(warmup, c), len(reqs)))
                            await _load(client, endpoint, reqs, warm, c, lambda n: None)
                            before = _cpu_of(upstream_pid, server_pid)
                            run = await _load(client, endpoint, reqs, range(len(reqs)), c, advance)
                            after = _cpu_of(upstream_pid, server_pid)
                            rows.append(_row(name, c, run, before, after))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "server",
        "upstream": "instant local OpenAI-compatible server (InstantUpstream, own process)",
        "requests": requests,
        "candidates": candidates,
        "concurrency": list(concurrency),
        "targets": ordered,
        "reference": reference,
        "goals": {"ours_over_reference": GOAL_OVER_REFERENCE, "ours_over_upstream": GOAL_OVER_UPSTREAM},
        "rows": rows,
        "comparisons": _comparisons(rows, concurrency),
    }


# ---------------------------------------------------------------------------------- report


def _verdict(value: float | None, goal: float, *, percent: bool) -> str:
    if value is None:
        return "not measured"
    shown = f"{value:.0%}" if percent else f"{value:.2f}x"
    wanted = f"{goal:.0%}" if percent else f"{goal:g}x"
    return f"{shown} (goal ≥ {wanted}: {'met' if value >= goal else 'NOT met'})"


def render_markdown(results: dict[str, Any]) -> str:
    """The table (one row per target and concurrency), then the ratios against the goals."""
    table = md_table(
        [
            "target",
            "concurrency",
            "ok",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/req: client",
            "upstream",
            "server",
        ],
        [
            [
                r["target"],
                r["concurrency"],
                r["ok"],
                r["errors"],
                r["throughput_rps"],
                r["p50_ms"],
                r["p99_ms"],
                r["client_cpu_ms"],
                r["upstream_cpu_ms"],
                r["server_cpu_ms"],
            ]
            for r in results["rows"]
        ],
        digits=2,
    )
    lines = [
        f"## Judge server throughput ({results['upstream']}; {results['requests']} requests of "
        f"{results['candidates']} candidates per target and concurrency)",
        "",
        "`upstream` is the upstream's own chat endpoint with the judge's request body; `ra-agents` is "
        "`ra-agents serve` (`POST /v1/judge`) as started by default (one process, the `litellm` backend), "
        "`ra-agents-workers2` the same with `--workers 2`, `ra-agents-litellm` with `--backend litellm`, "
        "`ra-agents-http` with `--backend http`; `reference` is the `rewardanything` reference server "
        "(`POST /api/rewardanything`); every server calls the same upstream. The CPU columns are the CPU "
        "time per request of the load generator (aiohttp), the upstream and the server (all its processes): "
        "on a machine with few cores their sum, not the server alone, bounds the throughput.",
        "",
        table,
        "",
    ]
    for comp in results["comparisons"]:
        lines.append(
            f"- {comp['target']}, concurrency {comp['concurrency']}: ours/reference "
            f"{_verdict(comp['ours_over_reference'], GOAL_OVER_REFERENCE, percent=False)}; ours/upstream "
            f"{_verdict(comp['ours_over_upstream'], GOAL_OVER_UPSTREAM, percent=True)}"
        )
    errors = [r for r in results["rows"] if r["errors"]]
    if errors:
        lines.append("")
        lines += [
            f"- first error of {r['target']} at concurrency {r['concurrency']}: {r['first_error']}" for r in errors
        ]
    if results.get("reference"):
        ref = results["reference"]
        lines += ["", f"Reference: rewardanything {ref['version']} ({ref['python']}; {ref['launch']})."]
    return "\n".join(lines)


def plot_server(results: dict[str, Any], path: Path) -> Path | None:
    """Requests per second, one group of bars per concurrency, one bar per target."""
    rows = results["rows"]
    targets = results["targets"]
    levels = results["concurrency"]

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        width = 0.8 / max(len(targets), 1)
        rps = {(r["target"], r["concurrency"]): r["throughput_rps"] for r in rows}
        for n, target in enumerate(targets):
            xs = [i + n * width for i in range(len(levels))]
            ax.bar(xs, [rps.get((target, c), 0.0) for c in levels], width, label=target)
        ax.set_xticks(
            [i + width * (len(targets) - 1) / 2 for i in range(len(levels))], [f"concurrency {c}" for c in levels]
        )
        ax.set_ylabel("requests per second")
        ax.set_title(f"judge server throughput, {results['candidates']} candidates per request", fontsize=9)
        ax.legend(fontsize=8)

    return plot(path, draw)
