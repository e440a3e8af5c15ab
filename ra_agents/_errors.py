"""Errors raised by ra-agents.

Every error derives from :class:`RAError`::

    RAError
    ├── UsageError          the caller's mistake: bad arguments, too few candidates,
    │                       an unknown backend, a missing optional dependency
    │   └── MissingDependencyError   an extra is not installed (names the extra)
    ├── BackendError        the model server or library failed (carries status and body)
    │   ├── BackendUnavailable       unreachable server or connection dropped
    │   ├── BackendTimeout           no answer in time
    │   └── ContextLengthError       the request does not fit the model's context window
    └── VerdictError        the model answered, but not with a usable verdict
                            (carries the raw text and, when known, why it stopped)

Messages say what to do next.
"""

from __future__ import annotations

__all__ = [
    "RAError",
    "UsageError",
    "MissingDependencyError",
    "BackendError",
    "BackendUnavailable",
    "BackendTimeout",
    "ContextLengthError",
    "VerdictError",
]


class RAError(Exception):
    """Base class of every error ra-agents raises on purpose."""


class UsageError(RAError, ValueError):
    """The caller asked for something that cannot work; the message says how to fix it."""


class MissingDependencyError(UsageError, ImportError):
    """An optional dependency is missing."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'ra-agents[{extra}]'"
        )


class BackendError(RAError):
    """The backend failed to produce a completion.

    Attributes:
        status: HTTP status code when the backend is a server, else ``None``.
        body: the server's error body or the library's message, for diagnosis.
        retryable: whether retrying the same request may help.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class BackendUnavailable(BackendError):  # noqa: N818 - public API name
    """The backend could not be reached, or the connection dropped."""

    retryable = True


class BackendTimeout(BackendError):  # noqa: N818 - public API name
    """The backend did not answer in time."""

    retryable = True


class ContextLengthError(BackendError):
    """The request does not fit the model's context window."""


class VerdictError(RAError):
    """The model's answer is not a usable verdict.

    Attributes:
        raw: the model's raw answer text (reasoning included when known).
        finish_reason: why generation stopped (``"length"`` means max_tokens was hit).
        attempts: how many times the judge asked before giving up.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: str = "",
        finish_reason: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.finish_reason = finish_reason
        self.attempts = attempts
