"""Errors raised by ra-agents.

Every error derives from :class:`RAError`::

    RAError
    ├── UsageError          the caller's mistake: bad arguments, too few candidates,
    │                       an unknown backend, a missing optional dependency
    │   ├── MissingDependencyError   an extra is not installed (names the extra)
    │   └── LimitError               a request is over a server limit (names it and the value)
    │       └── IncompleteGroupError an RL reward group did not complete in time (408)
    ├── BackendError        the model server or library failed (carries status and body)
    │   ├── BackendUnavailable       unreachable server or connection dropped
    │   ├── BackendTimeout           no answer in time
    │   ├── ContextLengthError       the request does not fit the model's context window
    │   └── SamplesFailedError       every sample of a best-of-n run failed, so nothing was judged
    └── VerdictError        the model answered, but not with a usable verdict
                            (carries the raw text and, when known, why it stopped)

Messages say what to do next. :func:`error_to_dict` and :func:`error_from_dict` carry an
error across a process boundary (the HTTP wire, a Ray column) with its fields, and rebuild
it as the same type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
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
]


class RAError(Exception):
    """Base class of every error ra-agents raises on purpose."""

    _fields: tuple[str, ...] = ()
    """Attributes carried by :func:`error_to_dict` beside the message."""


class UsageError(RAError, ValueError):
    """The caller asked for something that cannot work; the message says how to fix it."""


class MissingDependencyError(UsageError, ImportError):
    """An optional dependency is missing."""

    _fields = ("package", "extra")

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'ra-agents[{extra}]'"
        )


class LimitError(UsageError):
    """A request exceeds one of the server's limits.

    Attributes:
        limit: the setting that was exceeded (``"max_candidates"``, ``"max_body_bytes"`` ...).
        value: the request's value of it.
        status: the HTTP status the server answers with (422, or 413 for a body).
    """

    _fields = ("limit", "value", "status")

    def __init__(self, message: str, *, limit: str, value: int, status: int = 422) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.status = status


class BackendError(RAError):
    """The backend failed to produce a completion.

    Attributes:
        status: HTTP status code when the backend is a server, else ``None``.
        body: the server's error body or the library's message, for diagnosis.
        retryable: whether retrying the same request may help.
    """

    retryable: bool = False
    _fields = ("status", "body")

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


class SamplesFailedError(BackendError):
    """Every sample of a best-of-n run failed, so nothing was judged.

    Raised by :func:`ra_agents.integrations.lcel.best_of_n`. Across a process boundary it
    travels as a :class:`BackendError` (:func:`error_to_dict`): its per-sample errors are
    exceptions, not data.

    Attributes:
        errors: sample index -> error. The first error is also the ``__cause__``.
    """

    def __init__(self, message: str, errors: Mapping[int, Exception]) -> None:
        super().__init__(message)
        self.errors = dict(errors)


class VerdictError(RAError):
    """The model's answer is not a usable verdict.

    Attributes:
        raw: the model's raw answer text (reasoning included when known).
        finish_reason: why generation stopped (``"length"`` means max_tokens was hit).
        attempts: how many times the judge asked before giving up.
    """

    _fields = ("raw", "finish_reason", "attempts")

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


INCOMPLETE_LIMIT = "group_wait_s"
"""The ``limit`` of the :class:`LimitError` an incomplete group's samples get."""

INCOMPLETE_STATUS = 408
"""HTTP status of a sample whose group did not complete in time: not retried by clients (a
re-posted sample would start a new, again incomplete group)."""


class IncompleteGroupError(LimitError):
    """A group did not complete within the wait; each of its samples fails with this.

    Serialised as a :class:`~ra_agents.LimitError` (``limit="group_wait_s"``, status 408) whose
    message names the group, how many samples arrived of how many, and what to change.
    """

    def __init__(self, group: str, arrived: int, expected: int, wait_s: float) -> None:
        super().__init__(
            f"group {group} is incomplete: {arrived} of {expected} samples arrived within group_wait_s={wait_s:g}; "
            f"no reward is given for part of a group. Send every sample of a prompt (set the server's group_size, "
            f"--group-size, to the trainer's samples per prompt), to ONE server (several servers behind a load "
            f"balancer split groups), or raise --group-wait",
            limit=INCOMPLETE_LIMIT,
            value=math.ceil(wait_s),
            status=INCOMPLETE_STATUS,
        )
        self.group = group
        self.arrived = arrived
        self.expected = expected


_TYPES: dict[str, type[RAError]] = {
    cls.__name__: cls
    for cls in (
        RAError,
        UsageError,
        MissingDependencyError,
        LimitError,
        BackendError,
        BackendUnavailable,
        BackendTimeout,
        ContextLengthError,
        VerdictError,
    )
}


def error_to_dict(exc: RAError) -> dict[str, Any]:
    """``{"type", "message", ...fields}``: the error's class (the nearest public one) and its attributes."""
    cls = next(c for c in type(exc).__mro__ if c.__name__ in _TYPES and issubclass(c, RAError))
    data: dict[str, Any] = {"type": cls.__name__, "message": str(exc)}
    for name in cls._fields:
        value = getattr(exc, name, None)
        if value is not None:
            data[name] = value
    return data


def error_from_dict(data: dict[str, Any], *, status: int | None = None) -> RAError:
    """The error :func:`error_to_dict` described, as the same type with the same fields.

    An unknown type is a :class:`UsageError` for a 4xx ``status``, else a :class:`BackendError`.
    """
    cls = _TYPES.get(str(data.get("type")))
    if cls is None:
        cls = UsageError if status is not None and 400 <= status < 500 else BackendError
    error = cls.__new__(cls)
    Exception.__init__(error, str(data.get("message", "")))
    for name in cls._fields:
        setattr(error, name, data.get(name))
    if isinstance(error, BackendError) and error.status is None:
        error.status = status
    if isinstance(error, VerdictError):
        error.raw = error.raw or ""
        error.attempts = error.attempts or 1
    return error
