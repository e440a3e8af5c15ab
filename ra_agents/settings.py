"""One settings layer for the judge, its backend, the server and RL rewards.

Every setting resolves the same way: an explicit argument (a constructor keyword, a
command-line flag) wins, then the environment, then the config file, then the default::

    argument  >  RA_AGENTS_* environment variable  >  config file table  >  default

=========================  ======================  ==========================
group                      environment             config file table
=========================  ======================  ==========================
:class:`JudgeSettings`     ``RA_AGENTS_JUDGE_*``   ``[judge]``
:class:`BackendSettings`   ``RA_AGENTS_*``         ``[backend]``
:class:`ServerSettings`    ``RA_AGENTS_SERVER_*``  ``[server]``
:class:`RewardSettings`    ``RA_AGENTS_REWARD_*``  ``[reward]``
=========================  ======================  ==========================

Three variables are read from the environment only, since they say where files live rather
than how to judge: ``RA_AGENTS_CACHE`` (the bundled model's export and vLLM's environment),
``RA_AGENTS_VLLM_VENV`` (a vLLM environment of your own) and ``RA_AGENTS_RMBENCH_DATA``
(RM-Bench's data folder).

The config file is TOML: the path in ``RA_AGENTS_CONFIG``, else ``ra-agents.toml`` in the
working folder when there is one::

    [backend]
    model = "hosted_vllm/rewardanything"
    api_base = ["http://gpu-a:8000/v1", "http://gpu-b:8000/v1"]   # or "http://a/v1,http://b/v1"

    [judge]
    permutations = 2

    [server]
    max_candidates = 16

The variable of a setting is its group's prefix and its name in capitals
(``RA_AGENTS_JUDGE_PERMUTATIONS``, ``RA_AGENTS_API_BASE``, ``RA_AGENTS_SERVER_MAX_BATCH``);
lists take commas (``RA_AGENTS_API_BASE=http://a/v1,http://b/v1``) and tuples JSON
(``RA_AGENTS_JUDGE_SCALE=[1,10]``). ``ra-agents config`` prints every effective setting and
where it came from (:func:`explain`).

The backend is made in one place, :func:`resolve_backend` (model, replica list and key to a
:class:`~ra_agents.Backend`), which ``Judge()``, the command line and the server all call.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from pydantic import Field, StrictInt, ValidationError, field_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from ._errors import UsageError
from ._types import Backend

__all__ = [
    "CONFIG_ENV",
    "BackendKind",
    "BackendSettings",
    "JudgeSettings",
    "RewardSettings",
    "ServerSettings",
    "check_api_base",
    "comma_list",
    "load_config",
    "expectation",
    "explain",
    "read_config",
    "resolve",
    "resolve_backend",
]

CONFIG_ENV = "RA_AGENTS_CONFIG"
"""The environment variable naming the config file."""

DEFAULT_CONFIG = "ra-agents.toml"
"""The config file read from the working folder when :data:`CONFIG_ENV` is unset."""

BackendKind = Literal["litellm", "http", "auto"]
"""How a model is reached: through LiteLLM (the default), straight over HTTP, or ``auto``."""

_KEY_ENV = {"hosted_vllm": "HOSTED_VLLM_API_KEY", "openai": "OPENAI_API_KEY"}
"""Where LiteLLM reads an OpenAI-compatible upstream's key, by model prefix (the http backend reads it there too)."""

_S = TypeVar("_S", bound="_Layered")


def comma_list(value: Any) -> Any:
    """``"a, b"`` as ``["a", "b"]`` (blank items dropped); a list stays a list, ``None`` is empty.

    THE split of replica lists and key lists, whatever source they come from.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return value


def read_config(path: str | os.PathLike[str] | None = None) -> tuple[Path | None, dict[str, Any]]:
    """The config file and its tables: ``path``, else ``RA_AGENTS_CONFIG``, else ``./ra-agents.toml``.

    Returns ``(None, {})`` when there is no file (a missing default file is not an error).

    Raises:
        UsageError: the named file does not exist or is not valid TOML.
    """
    chosen = path or os.environ.get(CONFIG_ENV)
    file = Path(chosen) if chosen else Path(DEFAULT_CONFIG)
    if not file.is_file():
        if chosen:
            raise UsageError(f"config file {file} does not exist; fix {CONFIG_ENV} or the path given")
        return None, {}
    try:
        return file, tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {file} is not valid TOML: {exc}") from exc


def check_api_base(url: Any, what: str = "api_base", example: str = "http://127.0.0.1:8000/v1") -> str:
    """``url`` if it is an http(s) URL; else a :class:`UsageError` that says how to write it.

    Without a scheme (``127.0.0.1:8000/v1``) HTTP clients fail later with a misleading error
    (LiteLLM reports a status 500 for a path it made up), so every backend and the judge
    server's clients check at construction.

    Args:
        url: the URL given.
        what: the argument's name, for the message.
        example: a well-formed URL of the same kind, shown when none was given.
    """
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"{what} takes a server URL such as {example!r}, got {url!r}")
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        fixed = "http://" + url.strip() if not sep else "http://" + rest
        raise UsageError(
            f"{what} {url!r} is not an http(s) URL; write the scheme too, e.g. {fixed!r} (https:// for a TLS server)"
        )
    return url


# ------------------------------------------------------------------ the sources


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source, also reading a group's older variable names."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        value, key, complex_ = super().get_field_value(field, field_name)
        if value is None:
            for old in self.settings_cls.legacy_env.get(field_name, ()):  # type: ignore[attr-defined]
                found = self.env_vars.get(old if self.case_sensitive else old.lower())
                if found is not None:
                    return found, field_name, complex_
        return value, key, complex_

    def variable(self, name: str) -> str:
        """The variable that set field ``name``."""
        for var in (self.env_prefix + name, *self.settings_cls.legacy_env.get(name, ())):  # type: ignore[attr-defined]
            if self.env_vars.get(var if self.case_sensitive else var.lower()) is not None:
                return var.upper()
        return (self.env_prefix + name).upper()


class _FileTable(PydanticBaseSettingsSource):
    """One table of the config file. Unknown keys are passed on, so a misspelt setting is an error."""

    def __init__(self, settings_cls: type[BaseSettings], path: str | os.PathLike[str] | None) -> None:
        super().__init__(settings_cls)
        self.file, data = read_config(path)
        table = settings_cls.table  # type: ignore[attr-defined]
        values = data.get(table, {})
        if not isinstance(values, dict):
            raise UsageError(f"[{table}] in config file {self.file} must be a table, got {type(values).__name__}")
        self.values: dict[str, Any] = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class _Layered(BaseSettings):
    """A settings group: argument > environment > its config file table > default."""

    model_config = SettingsConfigDict(extra="forbid", env_ignore_empty=True, validate_default=True)

    table: ClassVar[str]
    """The group's table in the config file."""
    legacy_env: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Older environment variable names still read, by field."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls), _FileTable(settings_cls, None)


def resolve(
    cls: type[_S],
    arguments: Mapping[str, Any] | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
) -> tuple[_S, dict[str, str]]:
    """The settings of group ``cls`` and where each came from.

    Args:
        cls: :class:`JudgeSettings`, :class:`BackendSettings`, :class:`ServerSettings` or :class:`RewardSettings`.
        arguments: explicit values; ``None`` values count as not given.
        config_path: the config file (default ``RA_AGENTS_CONFIG``, else ``./ra-agents.toml``).

    Returns:
        The settings, and by field its source: ``"argument"``, the environment variable's
        name, ``"<file> [table]"`` or ``"default"``.

    Raises:
        UsageError: a value is invalid (the message names the setting and its source).
    """
    given = {k: v for k, v in (arguments or {}).items() if v is not None}
    env = _Environment(cls)
    file = _FileTable(cls, config_path)
    from_env, from_file = env(), file()
    origin: dict[str, str] = {}
    for name in cls.model_fields:
        if name in given:
            origin[name] = "argument"
        elif name in from_env:
            origin[name] = env.variable(name)
        elif name in from_file:
            origin[name] = f"{file.file} [{cls.table}]"
        else:
            origin[name] = "default"
    for name in from_file:
        origin.setdefault(name, f"{file.file} [{cls.table}]")
    # Text is how the environment and flags spell every value, but in code a string where a
    # number or a flag is wanted is a mistake ("2", "false"): refuse it rather than guess.
    problems = [
        _problem(cls, name, value, "argument", None)
        for name, value in given.items()
        if name in cls.model_fields and _wrong_python_type(cls, name, value)
    ]
    if problems:
        raise UsageError("invalid setting: " + "; ".join(problems))
    values = {**from_file, **from_env, **given}
    try:
        settings = cls.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            problems.append(_problem(cls, field, values.get(field), origin.get(field, "argument"), error))
        raise UsageError("invalid setting: " + "; ".join(dict.fromkeys(problems))) from None
    return settings, origin


def expectation(cls: type[_Layered], name: str) -> str:
    """What setting ``name`` of group ``cls`` takes, in words, e.g. ``"an integer >= 1"``."""
    field = cls.model_fields[name]
    bounds = [
        f"{op} {getattr(item, attr)}"
        for item in field.metadata
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
        if hasattr(item, attr)
    ]
    return _kind_words(field.annotation) + (" " + " and ".join(bounds) if bounds else "")


def _kind(annotation: Any) -> Any:
    """The annotation without ``None`` and ``Annotated`` wrappers."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else annotation
    return annotation


def _kind_words(annotation: Any) -> str:
    kind = _kind(annotation)
    if kind is bool:
        return "true or false"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    if get_origin(kind) is tuple:
        return "two integers (low, high) with low < high"
    if get_origin(kind) is list:
        return "a list of strings, or one comma-separated string"
    return "a string"


def _wrong_python_type(cls: type[_Layered], name: str, value: Any) -> bool:
    """A str for a non-text setting, or a bool for a number, given in code."""
    kind = _kind(cls.model_fields[name].annotation)
    if kind in (int, float):
        return isinstance(value, str | bool)
    if kind is bool or get_origin(kind) is tuple:
        return isinstance(value, str)
    return False


_EXAMPLES: dict[str, Any] = {
    "permutations": 2,
    "scale": (1, 5),
    "max_tokens": 1024,
    "seed": 0,
    "model": "hosted_vllm/NAME",
}


def _example(cls: type[_Layered], name: str, where: str) -> str:
    """A valid assignment of setting ``name``, written as it is where the bad value came from."""
    field = cls.model_fields[name]
    kind = _kind(field.annotation)
    value = _EXAMPLES.get(name, field.default)
    if value is None or value is PydanticUndefined:
        value = (
            ["http://host:8000/v1"] if get_origin(kind) is list else {int: 1, float: 1.0, bool: True}.get(kind, "...")
        )
    if where == "argument":
        return f"{name}={value!r}"
    if where.startswith("RA_AGENTS_"):
        if isinstance(value, list):
            return f"{where}={','.join(value)}"
        text = json.dumps(list(value) if isinstance(value, tuple) else value)
        return f"{where}={text if not isinstance(value, str) else value}"
    return f"{name} = {json.dumps(list(value) if isinstance(value, tuple) else value)} in [{cls.table}]"


def _problem(cls: type[_Layered], name: str, value: Any, where: str, error: Any) -> str:
    """One invalid value, taught: the setting, where it came from, what was given, what is expected."""
    if name not in cls.model_fields:
        if error is not None and error.get("type") == "extra_forbidden":
            return f"{cls.table}.{name} ({where}) is not a setting; [{cls.table}] takes: {', '.join(cls.model_fields)}"
        return f"{cls.table}.{name or '?'} ({where}): {error['msg'] if error else 'invalid'}"
    wrong_text = where == "argument" and isinstance(value, str) and _wrong_python_type(cls, name, value)
    given = f"the string {value!r}" if wrong_text else repr(value)
    if error is not None and error.get("type") == "value_error":  # our validators' own advice
        return f"{cls.table}.{name} ({where}) got {given}: {str(error['msg']).removeprefix('Value error, ')}"
    expected = expectation(cls, name)
    return f"{cls.table}.{name} ({where}) got {given}: expected {expected}, e.g. {_example(cls, name, where)}"


# ------------------------------------------------------------------- the groups


def _urls(urls: list[str]) -> list[str]:
    """Each URL checked by :func:`check_api_base`, as a pydantic validation error."""
    for url in urls:
        try:
            check_api_base(url)
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix("api_base ")) from None
    return urls


class JudgeSettings(_Layered):
    """How a :class:`~ra_agents.Judge` judges (see its arguments). ``RA_AGENTS_JUDGE_*``, ``[judge]``."""

    model_config = SettingsConfigDict(env_prefix="RA_AGENTS_JUDGE_")
    table: ClassVar[str] = "judge"

    system_prompt: str | None = None
    scale: tuple[StrictInt, StrictInt] = (1, 5)
    permutations: int = Field(1, ge=1)
    max_retries: int = Field(2, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0)
    structured: bool | None = None
    logprobs: bool = True
    seed: int | None = None
    concurrency: int = Field(8, ge=1)
    max_candidates: int = Field(64, ge=1)
    cache: str | None = None
    cache_sampled: bool = False

    @field_validator("scale")
    @classmethod
    def _ordered(cls, scale: tuple[int, int]) -> tuple[int, int]:
        if scale[0] >= scale[1]:
            raise ValueError("expected two integers (low, high) with low < high, e.g. (1, 5)")
        return scale


class BackendSettings(_Layered):
    """Where the judge's generations come from. ``RA_AGENTS_*``, ``[backend]``.

    Attributes:
        model: a LiteLLM model string, e.g. ``hosted_vllm/rewardanything``; unset means the
            bundled model in-process.
        api_base: the model server's base URL, or several (replicas behind a LiteLLM Router):
            a list, or one string of comma-separated URLs.
        api_key: the model server's key (else LiteLLM's own variable, e.g. ``HOSTED_VLLM_API_KEY``).
        timeout: seconds per request.
        num_retries: retries of retryable failures.
        model_path: the folder of the in-process model (default: the bundled one).
    """

    model_config = SettingsConfigDict(env_prefix="RA_AGENTS_")
    table: ClassVar[str] = "backend"

    model: str | None = None
    api_base: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_key: str | None = None
    timeout: float = Field(120.0, gt=0)
    num_retries: int = Field(2, ge=0)
    model_path: str | None = None

    @field_validator("api_base", mode="before")
    @classmethod
    def _replicas(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("api_base")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return _urls(value)


class RewardSettings(_Layered):
    """How RL reward files and managers (OpenRLHF, verl) reach their judge. ``RA_AGENTS_REWARD_*``, ``[reward]``.

    Attributes:
        judge_url: a ``ra-agents serve`` URL; unset means a local ``Judge()`` (``RA_AGENTS_MODEL`` ...).
        principle: the principle of samples whose label names none.
        group_size: samples per prompt (the trainer's samples per prompt).
        group_wait_s: how long a group may take to complete before its samples fail.
        timeout_s: how long one group's judging may take.
    """

    model_config = SettingsConfigDict(env_prefix="RA_AGENTS_REWARD_")
    table: ClassVar[str] = "reward"

    judge_url: str | None = None
    principle: str | None = None
    group_size: int = Field(8, ge=1)
    group_wait_s: float = Field(300.0, gt=0)
    timeout_s: float = Field(600.0, gt=0)


class ServerSettings(_Layered):
    """Everything ``ra-agents serve`` is configured with; clients can change none of it.

    ``RA_AGENTS_SERVER_*`` (``RA_AGENTS_SERVER_MAX_BATCH=64``), ``[server]``.

    Attributes:
        host: interface to bind. With no API key the server binds 127.0.0.1 unless
            ``allow_no_auth`` is set.
        port: TCP port.
        workers: uvicorn worker processes.
        api_keys: accepted ``Authorization: Bearer`` keys (a list or ``k1,k2``); empty means
            no authentication.
        allow_no_auth: serve without keys on a non-loopback interface.
        model: the judge's LiteLLM model; unset: the backend settings' (``RA_AGENTS_MODEL``,
            ``[backend]``), else the bundled model.
        api_base: the judge model's server URL(s); unset: the backend settings'.
        backend: how ``model`` is reached: ``"litellm"`` (the default: any provider, replicas
            behind LiteLLM's Router, the user's LiteLLM callbacks, retries, fallbacks and cost
            tracking), ``"http"`` (one OpenAI-compatible server such as vLLM, straight over
            aiohttp: less CPU per request, but none of LiteLLM's features), or ``"auto"``
            (``"http"`` for a ``hosted_vllm/`` or ``openai/`` model with one ``api_base``).
        judge_factory: ``module:function`` returning a :class:`~ra_agents.Judge` (overrides model).
        default_principle: used when a reward request carries none
            (``RA_AGENTS_SERVER_DEFAULT_PRINCIPLE``; ``RA_AGENTS_SERVER_PRINCIPLE`` is still read).
        max_body_bytes: largest request body.
        max_candidates: most candidates in one request.
        max_candidate_chars: longest candidate text.
        max_principle_chars: longest principle.
        max_prompt_chars: longest prompt.
        max_batch: most requests in one batch body.
        max_in_flight: requests handled at once; more get 429 with ``Retry-After``. A reward
            sample waiting for its group does not hold one (see ``max_waiting_samples``).
        max_waiting_samples: reward samples waiting for their groups at once; more get 429.
        group_size: OpenRLHF samples per prompt to judge together.
        group_wait_s: longest wait for a group to fill before judging what arrived.
        graceful_timeout_s: on SIGTERM, how long in-flight requests may still run.
    """

    model_config = SettingsConfigDict(env_prefix="RA_AGENTS_SERVER_")
    table: ClassVar[str] = "server"
    legacy_env: ClassVar[Mapping[str, tuple[str, ...]]] = {"default_principle": ("RA_AGENTS_SERVER_PRINCIPLE",)}

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_no_auth: bool = False
    model: str | None = None
    api_base: Annotated[list[str], NoDecode] = Field(default_factory=list)
    backend: BackendKind = "litellm"
    judge_factory: str | None = None
    default_principle: str | None = None
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_candidates: int = Field(64, ge=1)
    max_candidate_chars: int = Field(200_000, ge=1)
    max_principle_chars: int = Field(200_000, ge=1)
    max_prompt_chars: int = Field(400_000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_in_flight: int = Field(256, ge=1)
    max_waiting_samples: int = Field(8192, ge=1)
    group_size: int = Field(8, ge=1, le=256)
    group_wait_s: float = Field(2.0, gt=0)
    graceful_timeout_s: float = Field(30.0, ge=0)

    @field_validator("api_keys", "api_base", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("api_base")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return _urls(value)

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


# ------------------------------------------------------------- the one resolver


def backend_kind(kind: BackendKind, settings: BackendSettings) -> Literal["litellm", "http"]:
    """``kind`` with ``"auto"`` resolved: ``"http"`` for one ``hosted_vllm/`` or ``openai/`` server."""
    if kind != "auto":
        return kind
    prefix = (settings.model or "").partition("/")[0]
    return "http" if settings.model and len(settings.api_base) == 1 and prefix in _KEY_ENV else "litellm"


def resolve_backend(
    model: str | None = None,
    api_base: str | list[str] | None = None,
    api_key: str | None = None,
    *,
    kind: BackendKind = "litellm",
    config_path: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Backend:
    """THE backend resolver: model, replica list and key (arguments over environment over file) to a backend.

    Each argument left ``None`` comes from :class:`BackendSettings` (``RA_AGENTS_MODEL``,
    ``RA_AGENTS_API_BASE``, ``RA_AGENTS_API_KEY``, ``[backend]``), so ``api_base`` alone works
    when the model is configured. No model anywhere means the bundled model in-process.

    Args:
        model: a LiteLLM model string.
        api_base: one URL, comma-separated URLs or a list: several become replicas behind a
            LiteLLM Router.
        api_key: the model server's key.
        kind: ``"litellm"`` (default), ``"http"`` (one OpenAI-compatible server, straight over
            aiohttp, skipping LiteLLM) or ``"auto"`` (see :func:`backend_kind`).
        config_path: the config file (default ``RA_AGENTS_CONFIG``, else ``./ra-agents.toml``).
        **options: other backend settings (``timeout``, ``num_retries``, ``model_path``) and
            keyword arguments of the backend class (``extra_body``, ``supports_logprobs`` ...).

    Raises:
        UsageError: an api_base but no model, several replicas with ``kind="http"``, an invalid value.
    """
    known = {k: options.pop(k) for k in list(options) if k in BackendSettings.model_fields}
    settings, origin = resolve(
        BackendSettings, {"model": model, "api_base": api_base, "api_key": api_key, **known}, config_path=config_path
    )
    chosen = backend_kind(kind, settings)
    if not settings.model:
        if settings.api_base:
            raise UsageError(
                f"an api_base is set ({origin['api_base']}) but no model: give --model too "
                "(or RA_AGENTS_MODEL, or model in [backend]), e.g. --model hosted_vllm/NAME"
            )
        if chosen == "http":
            raise UsageError("backend 'http' needs --model and ONE --api-base (an OpenAI-compatible server)")
        from .backends.transformers import TransformersBackend

        return TransformersBackend(settings.model_path)
    common = {"timeout": settings.timeout, "num_retries": settings.num_retries, **options}
    if chosen == "http":
        if len(settings.api_base) != 1:
            raise UsageError(
                f"backend 'http' needs ONE --api-base (an OpenAI-compatible server), got {len(settings.api_base)}; "
                "for several replicas use the backend 'litellm'"
            )
        from .backends.openai_http import OpenAIHTTPBackend

        prefix = settings.model.partition("/")[0]
        key = settings.api_key or os.environ.get(_KEY_ENV.get(prefix, _KEY_ENV["hosted_vllm"])) or None
        return OpenAIHTTPBackend(settings.model, api_base=settings.api_base[0], api_key=key, **common)
    from .backends.litellm import LiteLLMBackend

    if len(settings.api_base) > 1:
        return LiteLLMBackend.replicas(settings.model, settings.api_base, api_key=settings.api_key, **common)
    base = settings.api_base[0] if settings.api_base else None
    return LiteLLMBackend(settings.model, api_base=base, api_key=settings.api_key, **common)


# ---------------------------------------------------------------- explanation

_SECRET = {"api_key", "api_keys"}


def explain(
    arguments: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    config_path: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Every effective setting, with where it came from (what ``ra-agents config`` prints).

    Args:
        arguments: explicit values by group (``{"backend": {"model": ...}}``).
        config_path: the config file.

    Returns:
        One row per setting: ``group``, ``name``, ``value`` (keys shown as ``***``) and ``source``.
    """
    rows: list[dict[str, Any]] = []
    for cls in (BackendSettings, JudgeSettings, ServerSettings, RewardSettings):
        settings, origin = resolve(cls, (arguments or {}).get(cls.table), config_path=config_path)
        for name in cls.model_fields:
            value = getattr(settings, name)
            if name in _SECRET and value:
                value = ["***"] * len(value) if isinstance(value, list) else "***"
            rows.append({"group": cls.table, "name": name, "value": value, "source": origin[name]})
    return rows


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The settings in effect that are set (not defaults), by table: ``backend``, ``judge``, ``server``, ``reward``.

    Args:
        path: the TOML file (default ``RA_AGENTS_CONFIG``, else ``./ra-agents.toml`` when present).

    Returns:
        One dict per table (environment over file); the backend's ``api_base`` is one URL, or
        a list when there are several replicas. ``resolve_backend(**load_config()["backend"])``
        is the configured backend.

    Raises:
        UsageError: ``path`` does not exist, or a value is invalid.
    """
    config: dict[str, Any] = {}
    for cls in (BackendSettings, JudgeSettings, ServerSettings, RewardSettings):
        settings, origin = resolve(cls, config_path=path)
        config[cls.table] = {k: v for k, v in settings.model_dump().items() if origin[k] != "default"}
    bases = config["backend"].get("api_base")
    if bases is not None:
        config["backend"]["api_base"] = bases[0] if len(bases) == 1 else bases
    return config
