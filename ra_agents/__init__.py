"""ra-agents: a principle-following judge (RewardAnything) for agent systems.

>>> from ra_agents import Judge
>>> judge = Judge()  # the bundled model, in-process
>>> judge.judge("Correctness first, then brevity.", "2+2?", {"a": "4", "b": "5"}).best
'a'
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthError,
    MissingDependencyError,
    RAError,
    UsageError,
    VerdictError,
)
from ._types import (
    Backend,
    Completion,
    GenerationSettings,
    JudgeRequest,
    JudgeResult,
    Message,
    PassVerdict,
    TokenLogprob,
    Usage,
)
from .judge import BatchItem, Judge
from .multi import MultiResult
from .policy import Policy, PolicyOutcome, Rule
from .principle import Criterion, Principle, PrincipleLike

if TYPE_CHECKING:  # the client needs the 'client' extra (httpx), so it is imported on first use
    from .client import AsyncClient, Client

try:
    __version__ = version("ra-agents")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Judge",
    "JudgeResult",
    "JudgeRequest",
    "PassVerdict",
    "BatchItem",
    "Principle",
    "Criterion",
    "PrincipleLike",
    "MultiResult",
    "Policy",
    "Rule",
    "PolicyOutcome",
    "Backend",
    "Completion",
    "GenerationSettings",
    "Message",
    "TokenLogprob",
    "Usage",
    "RAError",
    "UsageError",
    "MissingDependencyError",
    "BackendError",
    "BackendUnavailable",
    "BackendTimeout",
    "ContextLengthError",
    "VerdictError",
    "Client",
    "AsyncClient",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import the HTTP client on first access, so ``import ra_agents`` does not need httpx."""
    if name in ("Client", "AsyncClient"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
