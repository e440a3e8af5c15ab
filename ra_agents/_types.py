"""Value types shared by the core, the backends and the adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Protocol, TypedDict, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from ._errors import UsageError
from .principles import Principle
from .prompt import prompt_text

__all__ = [
    "Message",
    "GenerationSettings",
    "Usage",
    "TokenLogprob",
    "Completion",
    "Backend",
    "PassVerdict",
    "JudgeResult",
    "JudgeRequest",
    "verdict_to_dict",
    "verdict_from_dict",
    "verdict_json_schema",
]


class Message(TypedDict):
    """One chat message in the OpenAI shape."""

    role: str
    content: str


class GenerationSettings(TypedDict, total=False):
    """What the judge asks of a backend for one generation.

    Backends ignore what they cannot do, except ``json_schema``, which they honour
    only when ``Backend.supports_json_schema`` is true.
    """

    max_tokens: int
    temperature: float
    seed: int
    json_schema: dict[str, Any]
    top_logprobs: int
    timeout: float


@dataclass(frozen=True)
class Usage:
    """Token usage of one or more generations."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives."""

    token: str
    logprob: float
    top: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """What a backend returns for one generation."""

    text: str
    reasoning: str | None = None
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str | None = None
    logprobs: Sequence[TokenLogprob] | None = None
    latency_s: float = 0.0


@runtime_checkable
class Backend(Protocol):
    """Anything that turns chat messages into a completion.

    Attributes:
        model: the model name reported in results and spans.
        provider: the GenAI ``provider.name`` for spans (``"vllm"``, ``"transformers"`` ...).
        supports_json_schema: whether ``settings["json_schema"]`` constrains the output.
    """

    model: str
    provider: str
    supports_json_schema: bool

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        """Generate one completion."""
        ...


@dataclass(frozen=True)
class PassVerdict:
    """The verdict of one judging pass, in real candidate names.

    Attributes:
        order: the candidates in the order the judge saw them (model-1 first).
        scores: integer score per candidate.
        ranking: strict best-to-worst ranking.
        reasoning: the judge's reasoning for this pass.
        repaired: the judge's ranking disagreed with its scores and was re-sorted.
        expected_scores: probability-weighted scores when logprobs were available.
        raw: the raw answer text.
        attempts: how many asks this pass took (1 when the first answer was usable).
    """

    order: tuple[str, ...]
    scores: Mapping[str, int]
    ranking: tuple[str, ...]
    reasoning: str = ""
    repaired: bool = False
    expected_scores: Mapping[str, float] | None = None
    raw: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class JudgeResult:
    """The judge's verdict on one request.

    Attributes:
        names: candidate names in request order.
        scores: score per candidate (the mean over passes when ``permutations > 1``).
        ranking: strict best-to-worst ranking (Borda count over passes).
        normalized: each score mapped from the scale to [0, 1].
        reasoning: the judge's reasoning (passes separated by blank lines).
        expected_scores: probability-weighted scores from logprobs, when available.
        passes: every pass's verdict, in real names.
        agreement: share of passes whose winner is the overall winner (None for one pass).
        pairwise_agreement: share of candidate pairs ordered alike, over pairs of passes.
        ranking_repaired: some pass's ranking disagreed with its scores and was re-sorted.
        retries: re-asks after unusable answers, over all passes.
        usage: tokens over all calls.
        latency_s: wall time of the whole judgement.
        model: the judge model.
        scale: the score scale (low, high).
        principle: the principle's text as the judge read it (a :class:`Principle` rendered).
        flags: candidates whose text tries to steer the judge, with what was found in each
            (:func:`ra_agents.protocol.steering_flags`: masked names, a verdict-shaped JSON
            object, instructions addressed to the judge). Flagged candidates are judged like
            any other; the flag says their verdict deserves a second look.
    """

    names: tuple[str, ...]
    scores: Mapping[str, float]
    ranking: tuple[str, ...]
    normalized: Mapping[str, float]
    reasoning: str
    passes: tuple[PassVerdict, ...]
    expected_scores: Mapping[str, float] | None = None
    agreement: float | None = None
    pairwise_agreement: float | None = None
    ranking_repaired: bool = False
    retries: int = 0
    usage: Usage = Usage()
    latency_s: float = 0.0
    model: str = ""
    scale: tuple[int, int] = (1, 5)
    principle: str = ""
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The winning candidate's name."""
        return self.ranking[0]

    @property
    def worst(self) -> str:
        """The losing candidate's name."""
        return self.ranking[-1]

    def unit_score(self, name: str) -> float:
        """``name``'s score in [0, 1]: the expected score when logprobs gave one, else ``normalized``.

        This is the continuous value evaluators, guardrails and RL rewards want: it breaks
        ties between equal integer scores when the backend returns logprobs.
        """
        expected = (self.expected_scores or {}).get(name)
        if expected is None:
            return self.normalized[name]
        low, high = self.scale
        return min(1.0, max(0.0, (expected - low) / (high - low)))

    def score_list(self) -> list[float]:
        """Scores in request order (handy when candidates were given as a list)."""
        return [self.scores[n] for n in self.names]

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """The verdict as JSON-ready data: :func:`verdict_to_dict` (raw answer texts only with ``raw``)."""
        return verdict_to_dict(self, raw=raw)


@cache
def _verdict_adapter() -> TypeAdapter[JudgeResult]:
    return TypeAdapter(JudgeResult)


def verdict_to_dict(result: JudgeResult, *, raw: bool = True) -> dict[str, Any]:
    """THE serialisation of a verdict: every field as JSON-ready data, plus ``best``.

    The wire, the cache payload, Ray columns, LangGraph state and the client all use it
    (and :func:`verdict_from_dict` to read it back). ``raw=False`` leaves out each pass's
    raw answer text (the reasoning, in real names, stays).
    """
    data = _verdict_adapter().dump_python(result, mode="json")
    data["best"] = result.best
    if not raw:
        for one in data["passes"]:
            one.pop("raw", None)
    return data


def verdict_from_dict(data: Mapping[str, Any]) -> JudgeResult:
    """The :class:`JudgeResult` that :func:`verdict_to_dict` wrote.

    Raises:
        pydantic.ValidationError: ``data`` is not a verdict.
    """
    return _verdict_adapter().validate_python({k: v for k, v in data.items() if k != "best"})


def verdict_json_schema() -> dict[str, Any]:
    """The JSON schema of :func:`verdict_to_dict`'s output (for OpenAPI documents)."""
    schema = _verdict_adapter().json_schema(mode="serialization")
    schema.setdefault("properties", {})["best"] = {"type": "string", "title": "Best"}
    return schema


def validation_summary(exc: Any, *, limit: int | None = None, whole: str = "request") -> str:
    """``loc: message`` for each error of a pydantic (or FastAPI) validation error, ``; ``-joined.

    FastAPI's leading ``body`` location is dropped, and pydantic's ``Value error, `` prefix of
    our own validators' messages; ``limit`` caps how many errors are listed; ``whole`` names
    an error of the whole object.
    """
    errors = list(exc.errors())
    parts = []
    for e in errors[:limit]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or whole
        parts.append(f"{loc}: {str(e.get('msg')).removeprefix('Value error, ')}")
    more = "; ..." if limit is not None and len(errors) > limit else ""
    return "; ".join(parts) + more


def _principle_value(value: Any) -> str | Principle:
    """A request's principle: non-blank text, or a principle object (see :meth:`Principle.from_dict`)."""
    try:
        if isinstance(value, Principle):
            return value
        if isinstance(value, Mapping):
            return Principle.from_dict(value)
        if not isinstance(value, str):
            raise ValueError(f"principle must be text or a principle object, got {type(value).__name__}")
        if not value.strip():
            raise ValueError("principle is blank; state what the judge should value")
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    return value


def _principle_data(value: str | Principle) -> str | dict[str, Any]:
    return value.to_dict() if isinstance(value, Principle) else value


def _prompt_value(value: Any) -> str:
    """A request's prompt as text: text, or chat messages read by :func:`ra_agents.prompt_text`."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, int | float):
        raise ValueError(f"prompt must be text or chat messages, got {type(value).__name__}")
    try:
        return prompt_text(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def candidates_shape(value: Any) -> dict[Any, Any] | list[Any]:
    """Candidates as a dict (a mapping of name -> candidate) or a list (any other sequence).

    The one shape rule, for the judge's own arguments and for requests read from a file or an
    HTTP body alike; the names and the candidates themselves are checked later.

    Raises:
        UsageError: neither a mapping nor a sequence (text, bytes, a set, a number...).
    """
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise UsageError(
        "responses must be a list of candidates or a mapping of name -> candidate, e.g. "
        f'["answer A", "answer B"] or {{"a": "answer A", "b": "answer B"}}; got {type(value).__name__}'
    )


def _responses_value(value: Any) -> dict[str, Any] | list[Any]:
    """A request's candidates in the one shape rule (:func:`candidates_shape`)."""
    try:
        return candidates_shape(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None


_RESPONSES_SCHEMA: dict[str, Any] = {
    "title": "Responses",
    "description": "The candidates: a list (named 0, 1, ...) or a mapping of name to candidate.",
    "anyOf": [{"type": "array", "items": {}}, {"type": "object"}],
}


_PROMPT_SCHEMA: dict[str, Any] = {
    "title": "Prompt",
    "description": "The prompt the candidates answer: text, or chat messages (read as the library's prompt_text).",
    "anyOf": [{"type": "string"}, {"type": "array", "items": {}}, {"type": "object"}],
}


_CRITERION_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "weight": {"type": "number", "minimum": 0},
    },
    "required": ["name"],
    "additionalProperties": False,
}
_PRINCIPLE_SCHEMA: dict[str, Any] = {
    "title": "Principle",
    "description": "What the judge should value: text, or criteria with weights and a priority order.",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "criteria": {"type": "array", "items": _CRITERION_SCHEMA},
                "priority": {"type": "array", "items": {"type": "string"}},
                "closing": {"type": "string"},
                "id": {"type": "string"},
                "category": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "summary": {"type": "string"},
            },
            "additionalProperties": False,
        },
    ],
}


class JudgeRequest(BaseModel):
    """One judging request, as read from a file or an HTTP body.

    ``responses`` is a mapping of candidate name to candidate, or a list (names are
    then ``"0"``, ``"1"``, ...). Candidates may be strings or structured items.
    """

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    principle: Annotated[
        str | Principle,
        PlainValidator(_principle_value),
        PlainSerializer(_principle_data),
        WithJsonSchema(_PRINCIPLE_SCHEMA),
    ]
    prompt: Annotated[str, PlainValidator(_prompt_value), WithJsonSchema(_PROMPT_SCHEMA)]
    responses: Annotated[
        dict[str, Any] | list[Any], PlainValidator(_responses_value), WithJsonSchema(_RESPONSES_SCHEMA)
    ]
    permutations: int | None = Field(default=None, ge=1, le=16)
    seed: int | None = None

    @classmethod
    def read(cls, data: JudgeRequest | Mapping[str, Any], *, name: object) -> JudgeRequest:
        """``data`` as a request, or a :class:`~ra_agents.UsageError` naming request ``name`` and each bad field."""
        if isinstance(data, JudgeRequest):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise UsageError(f"request {name} is malformed: {validation_summary(exc)}") from None
