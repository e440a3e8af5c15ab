"""Configuration: constructor arguments first, then environment, then a config file.

Environment variables:
    RA_AGENTS_MODEL     a LiteLLM model string, e.g. ``hosted_vllm/rewardanything``;
                        unset (and no config file) means the bundled model in-process
    RA_AGENTS_API_BASE  the server's base URL; several comma-separated URLs become
                        replicas behind a LiteLLM Router
    RA_AGENTS_API_KEY   the server's key, if any
    RA_AGENTS_TIMEOUT   seconds per request (default 120)
    RA_AGENTS_CONFIG    a TOML config file (default ``ra-agents.toml`` in the working
                        folder, when present)

Config file::

    [backend]
    model = "hosted_vllm/rewardanything"
    api_base = ["http://gpu-a:8000/v1", "http://gpu-b:8000/v1"]
    timeout = 60
    num_retries = 2

    [judge]
    permutations = 2
    max_tokens = 2048
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ._errors import UsageError
from ._types import Backend

__all__ = ["load_config", "backend_from_config"]


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read the TOML config file (``path``, ``RA_AGENTS_CONFIG`` or ``./ra-agents.toml``).

    Returns an empty dict when there is none. Environment variables override the
    file's ``[backend]`` values.
    """
    chosen = path or os.environ.get("RA_AGENTS_CONFIG")
    file = Path(chosen) if chosen else Path("ra-agents.toml")
    data: dict[str, Any] = {}
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config file {file} is not valid TOML: {exc}") from exc
    elif chosen:
        raise UsageError(f"config file {file} does not exist; fix RA_AGENTS_CONFIG or the path given")
    backend = dict(data.get("backend", {}))
    env = {
        "model": os.environ.get("RA_AGENTS_MODEL"),
        "api_base": os.environ.get("RA_AGENTS_API_BASE"),
        "api_key": os.environ.get("RA_AGENTS_API_KEY"),
        "timeout": os.environ.get("RA_AGENTS_TIMEOUT"),
    }
    backend.update({k: v for k, v in env.items() if v})
    if isinstance(backend.get("api_base"), str) and "," in backend["api_base"]:
        backend["api_base"] = [b.strip() for b in backend["api_base"].split(",") if b.strip()]
    if "timeout" in backend:
        try:
            backend["timeout"] = float(backend["timeout"])
        except ValueError as exc:
            raise UsageError(f"timeout must be a number of seconds, got {backend['timeout']!r}") from exc
    data["backend"] = backend
    data.setdefault("judge", {})
    return data


def backend_from_config(config: dict[str, Any] | None = None) -> Backend:
    """The configured backend, or the bundled model in-process when none is configured."""
    backend = (config if config is not None else load_config())["backend"]
    if not backend.get("model"):
        if backend.get("api_base"):
            raise UsageError("RA_AGENTS_API_BASE is set but RA_AGENTS_MODEL is not; set both (e.g. hosted_vllm/NAME)")
        from .backends.transformers import TransformersBackend

        return TransformersBackend(backend.get("model_path"))
    from .backends.litellm import LiteLLMBackend

    options = {k: backend[k] for k in ("api_key", "timeout", "num_retries") if k in backend}
    bases = backend.get("api_base")
    if isinstance(bases, list) and len(bases) > 1:
        return LiteLLMBackend.replicas(backend["model"], bases, **options)
    if isinstance(bases, list):
        bases = bases[0] if bases else None
    return LiteLLMBackend(backend["model"], api_base=bases, **options)
