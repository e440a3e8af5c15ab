"""The JSON shapes of the judge service, shared by the server and the client.

Pure pydantic: no HTTP library here. The server (``ra_agents.remote.server``) validates bodies
with these models; the client (``ra_agents.remote.client``) turns answers back into the
library's own :class:`~ra_agents.JudgeResult` and error types, so code written against
the library works unchanged against a server.

A verdict travels as :func:`ra_agents.verdict_to_dict` writes it (read back with
:func:`ra_agents.verdict_from_dict`), an error as :func:`ra_agents.error_to_dict` writes it
(rebuilt with :func:`ra_agents.error_from_dict`): one shape for the library, the wire and
the cache.

Native API:

- ``POST /v1/judge``: a :class:`~ra_agents.JudgeRequest` -> a verdict (:data:`VERDICT_SCHEMA`).
- ``POST /v1/judge/batch``: ``{"requests": [...]}`` -> :class:`BatchOut` (one item per
  request, in request order; each a verdict or an error).
- Errors: ``{"error": {"type", "message", ...}}`` with a 4xx/5xx status; beside the message
  the error's fields (a verdict error's ``raw``, ``finish_reason`` and ``attempts``, a limit
  error's ``limit``, ``value`` and ``status``, a backend error's ``status`` and ``body``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from .._types import JudgeResult, _verdict_adapter, verdict_json_schema

__all__ = [
    "VERDICT_SCHEMA",
    "verdict_json",
    "ErrorOut",
    "ErrorBody",
    "BatchItemOut",
    "BatchOut",
    "RARequest",
    "RAResponse",
    "OpenRLHFRequest",
    "OpenRLHFResponse",
]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` written in place, so it can sit anywhere in an OpenAPI document."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


VERDICT_SCHEMA: dict[str, Any] = _inlined(verdict_json_schema())
"""The JSON schema of a verdict on the wire (:func:`ra_agents.verdict_to_dict`), self-contained."""


def verdict_json(result: JudgeResult) -> bytes:
    """:func:`ra_agents.verdict_to_dict` (raw texts included) as JSON bytes, for the server's answers.

    The same data, written by pydantic's serialiser in one go: a few times cheaper than
    ``json.dumps(verdict_to_dict(result))`` on the server's hot path.
    """
    return b'{"best":' + json.dumps(result.best).encode() + b"," + _verdict_adapter().dump_json(result)[1:]


VerdictData = Annotated[dict[str, Any], WithJsonSchema(VERDICT_SCHEMA)]
"""A verdict as :func:`ra_agents.verdict_to_dict` writes it."""


class ErrorOut(BaseModel):
    """A typed error, as :func:`ra_agents.error_to_dict` writes it.

    ``type`` is the library's error class name; the error's own fields (``raw``,
    ``finish_reason``, ``attempts``, ``limit``, ``value``, ``status``, ``body`` ...) sit beside
    ``message``.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorOut


class BatchItemOut(BaseModel):
    """One batch entry: ``ok`` with a verdict, or not ``ok`` with an error."""

    index: int
    id: str | int | None = None
    ok: bool
    verdict: VerdictData | None = None
    error: ErrorOut | None = None


class BatchOut(BaseModel):
    """The batch's results in request order."""

    results: list[BatchItemOut]


class RARequest(BaseModel):
    """The reference ``rewardanything`` request (``/api/rewardanything``)."""

    principle: str
    prompt: str
    responses: dict[str, str]
    mask_responses: bool = True


class RAResponse(BaseModel):
    """The reference ``rewardanything`` response: reasoning and ``{"scores", "best-to-worst"}``."""

    thoughts: str
    results: dict[str, Any]


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward model request (``--remote_rm_url``).

    ``query`` holds prompt + response texts; ``prompts`` the prompts (so the response is
    the query after its prompt); ``labels`` optional per-sample labels, which may carry a
    principle (see the server docs).
    """

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    principle: str | None = None


class OpenRLHFResponse(BaseModel):
    """OpenRLHF's expected answer: one reward per sample, plus scores and logs."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)
