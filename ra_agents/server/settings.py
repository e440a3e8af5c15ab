"""Settings of ``ra-agents serve``: flags, then environment, then the ``[server]`` table of the TOML file."""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._errors import UsageError
from ..config import load_config

__all__ = ["ServerSettings", "settings_from_sources", "SETTINGS_ENV"]

SETTINGS_ENV = "RA_AGENTS_SERVER_SETTINGS"
"""Carries the resolved settings (JSON) to worker processes."""

_ENV = {
    "host": "RA_AGENTS_SERVER_HOST",
    "port": "RA_AGENTS_SERVER_PORT",
    "api_keys": "RA_AGENTS_SERVER_API_KEYS",
    "default_principle": "RA_AGENTS_SERVER_PRINCIPLE",
    "judge_factory": "RA_AGENTS_SERVER_JUDGE_FACTORY",
    "backend": "RA_AGENTS_SERVER_BACKEND",
}


class ServerSettings(BaseModel):
    """Everything the server is configured with. Clients can change none of it.

    Attributes:
        host: interface to bind. With no API key the server binds 127.0.0.1 unless
            ``allow_no_auth`` is set.
        port: TCP port.
        workers: uvicorn worker processes.
        api_keys: accepted ``Authorization: Bearer`` keys; empty means no authentication.
        allow_no_auth: serve without keys on a non-loopback interface.
        model: LiteLLM model of the judge (``None``: the configured or bundled judge).
        api_base: the judge model's server URL(s).
        backend: how ``model`` is reached: ``"litellm"`` (any provider, several replicas
            through LiteLLM's Router), ``"http"`` (one OpenAI-compatible server such as vLLM,
            straight over aiohttp: several times less CPU per request, see BENCHMARKS.md), or
            ``"auto"`` (the default): ``"http"`` for a ``hosted_vllm/`` or ``openai/`` model with
            one ``api_base``, ``"litellm"`` otherwise.
        judge_factory: ``module:function`` returning a :class:`~ra_agents.Judge` (overrides model).
        default_principle: used when a reward request carries none.
        max_body_bytes: largest request body.
        max_candidates: most candidates in one request.
        max_candidate_chars: longest candidate text.
        max_principle_chars: longest principle.
        max_prompt_chars: longest prompt.
        max_batch: most requests in one batch body.
        max_in_flight: requests handled at once; more get 429 with ``Retry-After``.
        group_size: OpenRLHF samples per prompt to judge together.
        group_wait_s: longest wait for a group to fill before judging what arrived.
        graceful_timeout_s: on SIGTERM, how long in-flight requests may still run.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    api_keys: list[str] = Field(default_factory=list)
    allow_no_auth: bool = False
    model: str | None = None
    api_base: str | None = None
    backend: Literal["auto", "litellm", "http"] = "auto"
    judge_factory: str | None = None
    default_principle: str | None = None
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_candidates: int = Field(64, ge=1)
    max_candidate_chars: int = Field(200_000, ge=1)
    max_principle_chars: int = Field(200_000, ge=1)
    max_prompt_chars: int = Field(400_000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_in_flight: int = Field(256, ge=1)
    group_size: int = Field(8, ge=1, le=256)
    group_wait_s: float = Field(2.0, gt=0)
    graceful_timeout_s: float = Field(30.0, ge=0)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def loopback_only(self) -> bool:
        """True when the bound interface is reachable from this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def secured(self) -> tuple[ServerSettings, str | None]:
        """These settings, made safe: no keys on a public interface binds loopback instead.

        Returns the settings to use and a notice to print when the host was changed.
        """
        if self.api_keys or self.allow_no_auth or self.loopback_only:
            return self, None
        notice = (
            f"no API key is configured, so the server binds 127.0.0.1 instead of {self.host}; "
            "set RA_AGENTS_SERVER_API_KEYS (or --api-key) to serve other machines, "
            "or pass --allow-no-auth to expose it without authentication"
        )
        return self.model_copy(update={"host": "127.0.0.1"}), notice


def settings_from_sources(flags: dict[str, Any] | None = None, *, config_path: str | None = None) -> ServerSettings:
    """Resolve settings: ``flags`` (non-None values) over environment over the TOML ``[server]`` table.

    Raises:
        UsageError: a setting is invalid (the message names it).
    """
    merged: dict[str, Any] = {}
    file_table = load_config(config_path).get("server", {})
    if isinstance(file_table, dict):
        merged.update(file_table)
    for field, var in _ENV.items():
        if os.environ.get(var):
            merged[field] = os.environ[var]
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return ServerSettings.model_validate(merged)
    except ValueError as exc:
        raise UsageError(f"invalid server settings: {exc}") from None


def settings_to_env(settings: ServerSettings) -> str:
    """The settings as the JSON a worker process reads from :data:`SETTINGS_ENV`."""
    return json.dumps(settings.model_dump())
