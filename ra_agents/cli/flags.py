"""Command-line flags shared by ``ra-agents`` and ``ra-agents eval``: one spelling for one thing.

A module of its own so that neither command line has to import the other. Every command
that builds a judge takes the same judge flags (:func:`add_judge_options`); a flag left out
falls through to the settings layer (``RA_AGENTS_*``, the config file, the default), so the
environment is honoured the same way everywhere. Old spellings stay accepted, hidden from
``--help``, for one release (:func:`add_hidden_alias`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from ..judge import Judge
from ..settings import resolve_backend

__all__ = [
    "add_backend_options",
    "add_hidden_alias",
    "add_judge_options",
    "add_principle_items",
    "judge_from_flags",
    "judge_keywords",
    "setting_type",
]


def add_backend_options(p: argparse.ArgumentParser | Any) -> None:
    """``--model``, ``--api-base`` and ``--api-key``: which model server the judge calls.

    Args:
        p: a parser or an argument group.
    """
    p.add_argument(
        "--model",
        help="LiteLLM model string, e.g. hosted_vllm/rewardanything (default: RA_AGENTS_MODEL, [backend], "
        "else the bundled model in-process)",
    )
    p.add_argument(
        "--api-base",
        help="the model server's base URL, e.g. http://127.0.0.1:8000/v1, or replicas comma-separated "
        "(default: RA_AGENTS_API_BASE)",
    )
    p.add_argument("--api-key", help="the model server's key, if it wants one (default: RA_AGENTS_API_KEY)")


def add_principle_items(p: argparse.ArgumentParser | Any, help: str) -> None:
    """``--principle ID|NAME=TEXT``, repeatable, collected in ``principle_items`` (one list entry each)."""
    p.add_argument(
        "--principle",
        type=lambda text: [text],  # with action="extend": the whole text is one item, commas and all
        action="extend",
        dest="principle_items",
        default=[],
        metavar="ID|NAME=TEXT",
        help=help,
    )


def add_judge_options(p: argparse.ArgumentParser | Any, *, concurrency: bool = True) -> None:
    """``--model``, ``--api-base``, ``--api-key``, ``--timeout`` and the judge's own flags.

    Args:
        p: a parser or an argument group.
        concurrency: add ``--concurrency`` (a command with a ``--concurrency`` of its own says False).
    """
    add_backend_options(p)
    p.add_argument(
        "--timeout", type=float, help="seconds per model request (default: RA_AGENTS_TIMEOUT, [backend], else 120)"
    )
    p.add_argument(
        "--permutations",
        type=int,
        help="judge k shuffled orders and aggregate (default: RA_AGENTS_JUDGE_PERMUTATIONS, [judge], else 1)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the shuffles, for reproducible runs")
    p.add_argument("--max-tokens", type=int, default=None, help="generation budget per call")
    if concurrency:
        p.add_argument(
            "--concurrency", type=int, help="requests in flight at once (default: RA_AGENTS_JUDGE_CONCURRENCY, else 8)"
        )
    p.add_argument(
        "--cache", metavar="DIR", help="verdict cache folder: requests judged before are answered from it (no call)"
    )


def add_hidden_alias(p: argparse.ArgumentParser | Any, old: str, dest: str, **kwargs: Any) -> None:
    """Accept ``old`` as another spelling of the flag stored in ``dest``, without showing it in ``--help``."""
    p.add_argument(old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def setting_type(cls: type[Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that checks a flag as the settings layer checks setting ``name`` of ``cls``.

    A bad value is an argparse error naming the flag, the value and what is expected
    (``argument --workers: expected an integer >= 1, got '0'``), with the bounds kept in one place.
    """
    from pydantic import TypeAdapter, ValidationError

    from ..settings import expectation

    field = cls.model_fields[name]
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, *field.metadata])  # type: ignore[arg-type]
    expected = expectation(cls, name)

    def check(text: str) -> Any:
        try:
            return adapter.validate_python(text)
        except ValidationError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    check.__name__ = name  # argparse names the type in some errors
    return check


def judge_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`judge_from_flags` that the judge flags hold (unset ones left out)."""
    keywords: dict[str, Any] = {
        name: getattr(args, name, None) for name in ("permutations", "seed", "max_tokens", "concurrency")
    }
    if getattr(args, "cache", None):
        keywords["cache"] = args.cache
    backend = {name: getattr(args, name) for name in ("api_key", "timeout") if getattr(args, name, None) is not None}
    if backend:
        keywords["backend"] = backend
    return keywords


def judge_from_flags(
    model: str | None, api_base: str | None, *, backend: Mapping[str, Any] | None = None, **options: Any
) -> Judge:
    """The judge that ``--model`` / ``--api-base`` name (shared by ``judge``, ``demo``, ``sweep`` and ``eval``).

    Both go to the one backend resolver (:func:`ra_agents.settings.resolve_backend`), which fills
    in what they leave unset from ``RA_AGENTS_MODEL``/``RA_AGENTS_API_BASE`` and the config file:
    ``--api-base`` alone works when the model is configured, and comma-separated URLs are replicas.

    Args:
        model: a LiteLLM model string; without it, the configured or bundled judge.
        api_base: the server's base URL (or several, comma-separated).
        backend: more backend settings, e.g. ``timeout`` or ``api_key`` (``None`` values: not given).
        **options: keyword arguments of :class:`Judge` (``None`` values: from the judge's settings).

    Returns:
        The judge.

    Raises:
        UsageError: an api_base but no model anywhere, or an invalid setting.
    """
    return Judge(resolve_backend(model, api_base, **(backend or {})), **options)
