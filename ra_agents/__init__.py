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
    IncompleteGroupError,
    LimitError,
    MissingDependencyError,
    RAError,
    SamplesFailedError,
    UsageError,
    VerdictError,
    error_from_dict,
    error_to_dict,
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
    verdict_from_dict,
    verdict_to_dict,
)
from .acceptance import DEFAULT_ON_JUDGE_ERROR, DEFAULT_THRESHOLD, OnJudgeError, accepts
from .judge import BatchItem, Judge
from .judging import Judging, MultiResult
from .panel import Panel, PanelResult
from .policy import Policy, PolicyOutcome, Rule
from .principles import Criterion, Principle, PrincipleLike
from .prompt import PromptLike, prompt_text

if TYPE_CHECKING:  # the client needs the 'client' extra (httpx), so it is imported on first use
    from .remote.client import AsyncClient, Client

try:
    __version__ = version("ra-agents")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Judge",
    "Judging",
    "JudgeResult",
    "JudgeRequest",
    "PassVerdict",
    "BatchItem",
    "Principle",
    "Criterion",
    "PrincipleLike",
    "PromptLike",
    "prompt_text",
    "accepts",
    "DEFAULT_THRESHOLD",
    "DEFAULT_ON_JUDGE_ERROR",
    "OnJudgeError",
    "verdict_to_dict",
    "verdict_from_dict",
    "MultiResult",
    "Panel",
    "PanelResult",
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
    "LimitError",
    "IncompleteGroupError",
    "BackendError",
    "BackendUnavailable",
    "BackendTimeout",
    "ContextLengthError",
    "SamplesFailedError",
    "VerdictError",
    "error_to_dict",
    "error_from_dict",
    "Client",
    "AsyncClient",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import the HTTP client on first access, so ``import ra_agents`` does not need httpx."""
    if name in ("Client", "AsyncClient"):
        from .remote import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
