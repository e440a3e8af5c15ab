"""ra-agents: a principle-following judge (RewardAnything) for agent systems.

>>> from ra_agents import Judge
>>> judge = Judge()  # the bundled model, in-process
>>> judge.judge("Correctness first, then brevity.", "2+2?", {"a": "4", "b": "5"}).best
'a'
"""

from importlib.metadata import PackageNotFoundError, version

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
    "__version__",
]
