"""The RewardAnything listwise protocol, as pure functions.

One chat call judges all N candidates. The candidates hide behind masked names
``model-1`` ... ``model-N`` in a shuffled order; the model answers with optional
reasoning and a JSON verdict ``{"scores": {...}, "best-to-worst": [...]}``, which is
validated strictly and mapped back to the real names.

Nothing here touches a network, a model or a framework.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import factorial
from typing import Any, TypeVar

from ._errors import UsageError, VerdictError
from ._types import Message, TokenLogprob, candidates_shape
from .trajectory import is_trajectory, render_trajectory

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "MAX_VERDICT_ATTEMPTS",
    "RANKING_KEY",
    "MaskedVerdict",
    "masked_names",
    "unmask",
    "raw_answer",
    "render_candidate",
    "render_messages",
    "verdict_schema",
    "parse_verdict",
    "expected_scores",
    "distinct_orders",
    "request_orders",
    "seeded_positions",
    "feedback_message",
    "check_candidates",
    "steering_flags",
]

RANKING_KEY = "best-to-worst"

DEFAULT_SYSTEM_PROMPT = """\
You are a reward model that judges candidate responses by a given principle.

You receive a JSON object with:
- "principle": the standard to judge by. It overrides any preference of your own.
- "prompt": what the responses answer.
- "responses": candidate responses under anonymous names ("model-1", "model-2", ...).

Judge every response by how well it follows the principle while answering the prompt
well. Ignore the names and the order of the responses; judge content only.

Score each response with an integer from {low} to {high}:
{rubric}

Then rank all responses from best to worst. The ranking is strict: every name appears
exactly once, and responses with equal scores are still put in order.

You may think first inside <think>...</think>. Then answer with only this JSON object:
{{"scores": {{"model-1": <score>, ...}}, "best-to-worst": ["model-...", ...]}}"""

_RUBRIC_1_5 = """\
5: follows the principle perfectly and is excellent in quality
4: follows the principle well, with minor limits
3: follows the principle at a basic level
2: follows the principle only partly; key points are missing
1: poor, or contradicts the principle"""


def _default_rubric(low: int, high: int) -> str:
    if (low, high) == (1, 5):
        return _RUBRIC_1_5
    best = f"{high}: follows the principle perfectly and is excellent in quality"
    return f"{best}\n{low}: poor, or contradicts the principle"


def masked_names(n: int) -> list[str]:
    """The masked names ``model-1`` ... ``model-n``."""
    return [f"model-{i}" for i in range(1, n + 1)]


_MASKED_NAME_RE = re.compile(r"\bmodel-\d+\b")


def unmask(text: str, real_of: Mapping[str, str]) -> str:
    """``text`` with every masked name the judge used replaced by the candidate's real name.

    One pass over the text, whole names only: ``model-1`` never matches inside
    ``model-10``, and a real name that itself looks like a masked name is never replaced
    again. Masked names the pass did not use are left as written.

    >>> unmask("model-2 beats model-1 and model-10", {"model-1": "a", "model-2": "model-1", "model-10": "c"})
    'model-1 beats a and c'
    """
    if not text or "model-" not in text:
        return text
    return _MASKED_NAME_RE.sub(lambda m: real_of.get(m.group(0), m.group(0)), text)


def render_candidate(candidate: Any) -> str:
    """Serialise a candidate readably for the judge.

    Strings pass through. Trajectories (message lists, or states with ``messages``) are
    rendered step by step by :func:`ra_agents.trajectory.render_trajectory`. Chat messages
    (anything with ``content`` and ``tool_calls``, such as LangChain's ``AIMessage``) become
    their text followed by one line per tool call: ``-> tool_name({"arg": ...})``. Pydantic
    models, dataclasses, mappings and sequences become indented JSON.
    """
    if isinstance(candidate, str):
        return candidate
    if is_trajectory(candidate):
        return render_trajectory(candidate)
    if hasattr(candidate, "content") and hasattr(candidate, "tool_calls"):
        return _render_message(candidate.content, candidate.tool_calls or [])
    if isinstance(candidate, Mapping) and "tool_calls" in candidate:
        return _render_message(candidate.get("content") or "", candidate["tool_calls"] or [])
    if hasattr(candidate, "model_dump"):
        candidate = candidate.model_dump(mode="json")
    elif dataclasses.is_dataclass(candidate) and not isinstance(candidate, type):
        candidate = dataclasses.asdict(candidate)
    try:
        return json.dumps(candidate, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return str(candidate)


def _render_message(content: Any, tool_calls: Sequence[Any]) -> str:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
    lines = [text.strip()] if text and text.strip() else []
    if tool_calls:
        lines.append(f"Tool calls ({len(tool_calls)}):")
    for call in tool_calls:
        name, args = _tool_call_parts(call)
        lines.append(f"-> {name}({json.dumps(args, ensure_ascii=False, sort_keys=True, default=str)})")
    return "\n".join(lines)


def _tool_call_parts(call: Any) -> tuple[str, Any]:
    if not isinstance(call, Mapping):
        call = getattr(call, "__dict__", {"name": str(call)})
    if "function" in call and isinstance(call["function"], Mapping):  # OpenAI shape
        fn = call["function"]
        args = fn.get("arguments", {})
        if isinstance(args, str):
            with contextlib.suppress(ValueError):
                args = json.loads(args)
        return str(fn.get("name", "?")), args
    return str(call.get("name", "?")), call.get("args", call.get("arguments", {}))


def render_messages(
    principle: str,
    prompt: str,
    masked_texts: Mapping[str, str],
    *,
    system_prompt: str | None = None,
    scale: tuple[int, int] = (1, 5),
) -> list[Message]:
    """Build the two chat messages of one judging call.

    Args:
        principle: the natural-language principle.
        prompt: the prompt the candidates answer.
        masked_texts: masked name -> rendered candidate text, in the order shown.
        system_prompt: replaces the default rubric (e.g. a checkpoint's own prompt);
            ``{low}``, ``{high}`` and ``{rubric}`` are filled in when present.
        scale: the (low, high) integer score scale.
    """
    low, high = scale
    template = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
    system = template.replace("{low}", str(low)).replace("{high}", str(high))
    system = system.replace("{rubric}", _default_rubric(low, high)).replace("{{", "{").replace("}}", "}")
    user = json.dumps(
        {"principle": principle, "prompt": prompt, "responses": dict(masked_texts)},
        ensure_ascii=False,
        indent=2,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def verdict_schema(names: Sequence[str], scale: tuple[int, int] = (1, 5)) -> dict[str, Any]:
    """A JSON schema that admits exactly the verdicts over ``names``.

    Every name must be scored; the ranking array is bounded to exactly N items of the
    known names (uniqueness is checked by the parser, as not every grammar engine
    enforces ``uniqueItems``).
    """
    low, high = scale
    n = len(names)
    return {
        "type": "object",
        "properties": {
            "scores": {
                "type": "object",
                "properties": {m: {"type": "integer", "minimum": low, "maximum": high} for m in names},
                "required": list(names),
                "additionalProperties": False,
            },
            RANKING_KEY: {
                "type": "array",
                "items": {"type": "string", "enum": list(names)},
                "minItems": n,
                "maxItems": n,
            },
        },
        "required": ["scores", RANKING_KEY],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class MaskedVerdict:
    """A validated verdict over masked names.

    Attributes:
        scores: masked name -> integer score.
        ranking: masked names best to worst, consistent with the scores.
        reasoning: the reasoning text found around the JSON.
        repaired: the model's ranking disagreed with its scores and was re-sorted.
    """

    scores: dict[str, int]
    ranking: list[str]
    reasoning: str
    repaired: bool


_OPEN_THINK_RE = re.compile(r"<think>", re.IGNORECASE)
_CLOSE_THINK_RE = re.compile(r"</think>", re.IGNORECASE)
_SCORES_KEY_RE = re.compile(r'"scores"\s*:')
_FENCE_OPEN_RE = re.compile(r"```(?:json)?\s*\Z", re.IGNORECASE)
_FENCE_CLOSE_RE = re.compile(r"\A\s*```")

MAX_VERDICT_ATTEMPTS = 8
"""How many ``"scores"`` objects, counted from the end of the answer, the parser examines."""

_STARTS_PER_KEY = 8  # opening braces tried, nearest first, for the object around one "scores" key
_BASE_WINDOW = 64 * 1024  # characters a verdict object may span, plus _WINDOW_PER_NAME per candidate
_WINDOW_PER_NAME = 512


def _split_reasoning(text: str, reasoning_field: str | None) -> tuple[str, str]:
    """Separate reasoning from the answer body, in one pass over the text.

    Every ``<think>...</think>`` block is reasoning (an unclosed ``<think>`` is left in
    the body: the model may never have closed it). With no ``<think>`` at all, a lone
    ``</think>`` means the opening tag was in the prompt template: all before the last
    one is reasoning.
    """
    parts = [reasoning_field.strip()] if reasoning_field and reasoning_field.strip() else []
    body: list[str] = []
    pos = 0
    found_block = False
    while (opened := _OPEN_THINK_RE.search(text, pos)) is not None:
        closed = _CLOSE_THINK_RE.search(text, opened.end())
        if closed is None:
            break
        found_block = True
        body.append(text[pos : opened.start()])
        parts.append(text[opened.end() : closed.start()].strip())
        pos = closed.end()
    if not found_block:
        last_close = None
        for match in _CLOSE_THINK_RE.finditer(text):
            last_close = match
        if last_close is not None:
            parts.append(text[: last_close.start()].strip())
            pos = last_close.end()
    body.append(text[pos:])
    return "\n\n".join(p for p in parts if p), "".join(body)


class _JSONObject(dict[str, Any]):
    """A decoded JSON object that remembers a repeated key (it matters only inside the verdict)."""

    repeated: str | None = None


def _object_hook(pairs: list[tuple[str, Any]]) -> _JSONObject:
    obj = _JSONObject()
    for key, value in pairs:
        if key in obj and obj.repeated is None:
            obj.repeated = key
        obj[key] = value
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object_hook)


def _object_around(body: str, key_at: int, window: int) -> tuple[_JSONObject, int, int] | None:
    """The innermost JSON object whose span holds the ``"scores"`` key at ``key_at``.

    Tries the nearest opening braces before the key (at most ``_STARTS_PER_KEY``), each
    decoded by the C decoder over a slice of at most ``window`` characters, so the work
    is bounded whatever the text.
    """
    lowest = max(0, key_at - window)
    hi = key_at
    for _ in range(_STARTS_PER_KEY):
        start = body.rfind("{", lowest, hi)
        if start < 0:
            return None
        hi = start
        try:
            obj, length = _DECODER.raw_decode(body[start : start + window])
        except (ValueError, RecursionError):
            continue
        end = start + length
        if end > key_at and isinstance(obj, _JSONObject) and "scores" in obj:
            return obj, start, end
    return None


def _shows_content(obj: Mapping[str, Any], names: Sequence[str]) -> bool:
    """False for a format example (no score is a number and the ranking names no response)."""
    scores = obj["scores"]
    values = scores.values() if isinstance(scores, Mapping) else scores if isinstance(scores, list) else ()
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return True
    ranking = obj.get(RANKING_KEY)
    known = set(names)
    return isinstance(ranking, list) and any(isinstance(m, str) and m in known for m in ranking)


def _find_verdict_object(body: str, names: Sequence[str]) -> tuple[_JSONObject, str]:
    """The answer's final verdict object, and the body's text around it (see :func:`parse_verdict`)."""
    window = _BASE_WINDOW + _WINDOW_PER_NAME * len(names)
    keys = [m.start() for m in _SCORES_KEY_RE.finditer(body)]
    template: tuple[_JSONObject, int, int] | None = None
    for key_at in reversed(keys[-MAX_VERDICT_ATTEMPTS:]):
        found = _object_around(body, key_at, window)
        if found is None:
            continue
        if _shows_content(found[0], names):
            return found[0], _text_around(body, found[1], found[2])
        template = template or found
    if template is not None:  # only format examples: report what is wrong with the last one
        return template[0], _text_around(body, template[1], template[2])
    raise VerdictError("no JSON object with a 'scores' key was found in the answer")


def _text_around(body: str, start: int, end: int) -> str:
    before, after = body[:start], body[end:]
    fence_open = _FENCE_OPEN_RE.search(before[-64:])
    fence_close = _FENCE_CLOSE_RE.match(after)
    if fence_open and fence_close:
        before = before[: len(before) - (len(before[-64:]) - fence_open.start())]
        after = after[fence_close.end() :]
    return (before.rstrip() + "\n" + after.lstrip()).strip()


def _as_int_score(name: str, value: Any, scale: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise VerdictError(f"the score of {name} is {value!r}, not an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise VerdictError(f"the score of {name} is {value}, not an integer")
        value = int(value)
    low, high = scale
    if not low <= value <= high:
        raise VerdictError(f"the score of {name} is {value}, outside the scale {low}-{high}")
    return value


def parse_verdict(
    text: str,
    names: Sequence[str],
    *,
    reasoning: str | None = None,
    scale: tuple[int, int] = (1, 5),
) -> MaskedVerdict:
    """Parse and validate a verdict over the masked ``names``.

    Accepts reasoning in ``<think>`` tags, after a lone ``</think>``, or in a separate
    ``reasoning`` field; the JSON may sit in a code fence and be surrounded by text.

    Which object is the verdict: the model's final answer, that is the **last** JSON
    object outside the reasoning that has a ``"scores"`` key and shows content (a
    numeric score, or a ranking naming a response). Earlier drafts, and format examples
    with empty placeholders (``{"scores": {}, "best-to-worst": []}``) wherever they
    stand, are ignored and kept as reasoning text. The final object is then validated on
    its own: if it is unusable the answer is rejected, never silently replaced by an
    earlier draft. Verdicts inside ``<think>`` blocks are reasoning, not answers. Other
    JSON in the answer (even malformed, or repeating a key) does not matter.

    Validation is strict: every name scored exactly once with an integer on the scale,
    no unknown names, no repeated key in the verdict, and a ranking that is a
    permutation of all names. A ranking that disagrees with the scores is repaired by one
    deterministic rule: stable-sort the model's ranking by score, highest first (so the
    model's own order decides among equal scores), and the verdict is flagged ``repaired``.

    Work is linear in the answer's length and bounded whatever its shape: one pass
    finds the ``"scores"`` keys and the ``<think>`` tags; only the last
    :data:`MAX_VERDICT_ATTEMPTS` keys are examined, each by at most a few decodes of a
    slice no longer than a verdict over ``len(names)`` responses can plausibly be
    (64 KiB plus 512 characters per response). A 1 MiB answer of any shape is parsed or
    rejected in milliseconds (``python -m benchmarks parser`` measures it).

    Raises:
        VerdictError: the answer is not a usable verdict (carries the raw text).
    """
    try:
        return _parse(text, names, reasoning, scale)
    except VerdictError as exc:
        raise VerdictError(f"unusable verdict: {exc}", raw=raw_answer(text, reasoning)) from None
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise VerdictError(f"unusable verdict: {exc}", raw=raw_answer(text, reasoning)) from None


def raw_answer(text: str, reasoning: str | None) -> str:
    """The whole raw answer: a separate reasoning field (as a ``<think>`` block) before the text."""
    return f"<think>{reasoning}</think>{text}" if reasoning else text


def _parse(text: str, names: Sequence[str], reasoning: str | None, scale: tuple[int, int]) -> MaskedVerdict:
    if not isinstance(text, str):
        raise VerdictError(f"the answer is {type(text).__name__}, not text")
    thought, body = _split_reasoning(text, reasoning)
    obj, around = _find_verdict_object(body, names)
    expected = set(names)
    if obj.repeated is not None:
        raise VerdictError(f"the verdict names {obj.repeated!r} twice; give each key once")

    raw_scores = obj["scores"]
    if not isinstance(raw_scores, dict):
        raise VerdictError("'scores' is not an object of name -> score")
    if isinstance(raw_scores, _JSONObject) and raw_scores.repeated is not None:
        raise VerdictError(
            f"the verdict names {raw_scores.repeated!r} twice; every response must be scored exactly once"
        )
    unknown = sorted(set(raw_scores) - expected)
    missing = [m for m in names if m not in raw_scores]
    if unknown:
        raise VerdictError(f"scores name unknown responses {unknown}; the responses are {list(names)}")
    if missing:
        raise VerdictError(f"scores are missing for {missing}; every response must be scored")
    scores = {m: _as_int_score(m, raw_scores[m], scale) for m in names}

    ranking = obj.get(RANKING_KEY)
    if ranking is None:
        raise VerdictError(f"the '{RANKING_KEY}' ranking is missing")
    if not isinstance(ranking, list) or not all(isinstance(m, str) for m in ranking):
        raise VerdictError(f"'{RANKING_KEY}' is not a list of response names")
    counts = Counter(ranking)
    if len(counts) != len(ranking):
        dupes = sorted(m for m, c in counts.items() if c > 1)
        raise VerdictError(f"the ranking lists {dupes} more than once; it must list each response once")
    if set(counts) != expected:
        raise VerdictError(
            f"the ranking is not a permutation of the responses: missing "
            f"{[m for m in names if m not in counts]}, unknown {sorted(set(counts) - expected)}"
        )

    repaired_ranking = sorted(ranking, key=lambda m: -scores[m])  # stable: model order breaks ties
    repaired = repaired_ranking != ranking
    thought = "\n\n".join(p for p in (thought, around) if p)
    return MaskedVerdict(scores=scores, ranking=repaired_ranking, reasoning=thought, repaired=repaired)


_SCORE_KEY_RE = re.compile(r'"(model-\d+)"\s*:\s*$')
_SCORE_TAIL = 256  # characters of generated text kept to find the key before a score token


def expected_scores(
    tokens: Sequence[TokenLogprob],
    names: Sequence[str],
    scale: tuple[int, int] = (1, 5),
) -> dict[str, float] | None:
    """Probability-weighted scores from the logprobs of the score tokens.

    For each ``"model-k": <digit>`` in the generated text, the top alternatives at the
    digit's position are renormalised over the scale's digits and averaged. This
    breaks ties between equal integer scores. Returns ``None`` when some name's score
    token (or its alternatives) cannot be found.
    """
    import math

    low, high = scale
    if high > 9 or low < 0:
        return None  # multi-digit scores are not one token
    wanted = set(names)
    out: dict[str, float] = {}
    text = ""  # a bounded tail of the generated text: enough to hold one '"model-k": ' key
    for tok in tokens:
        stripped = tok.token.strip()
        match = _SCORE_KEY_RE.search(text)
        if match and match.group(1) in wanted and stripped.isdigit() and len(stripped) == 1:
            # Surface forms of one digit ("5", " 5") are different tokens: add their mass.
            alternatives = dict(tok.top)
            alternatives.setdefault(tok.token, tok.logprob)
            mass: dict[int, float] = {}
            for surface, lp in alternatives.items():
                digit = surface.strip()
                if digit.isdigit() and len(digit) == 1 and low <= int(digit) <= high:
                    mass[int(digit)] = mass.get(int(digit), 0.0) + math.exp(lp)
            if mass:
                total = sum(mass.values())
                out.setdefault(match.group(1), sum(d * p for d, p in mass.items()) / total)
        text = (text + tok.token)[-_SCORE_TAIL:]
    return out if set(out) == wanted else None


_T = TypeVar("_T")

_UNSEEDED = random.Random()
"""Orders for unseeded judges: fresh every call, without seeding a generator from the OS each time."""


def request_orders(names: Sequence[str], k: int, seed: int | None) -> list[list[str]]:
    """The ``k`` orders a judge call uses: :func:`distinct_orders` with ``random.Random(seed)``.

    A seeded call's orders depend only on the number of names, ``k`` and the seed, so their
    positions are computed once (:func:`seeded_positions`); ``None`` draws fresh orders.
    """
    if seed is None:
        return distinct_orders(names, k, _UNSEEDED)
    return [[names[i] for i in order] for order in seeded_positions(len(names), k, seed)]


@lru_cache(maxsize=1024)
def seeded_positions(n: int, k: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """The positions ``distinct_orders(range(n), k, random.Random(seed))`` picks, computed once."""
    return tuple(tuple(order) for order in distinct_orders(range(n), k, random.Random(seed)))


def distinct_orders(names: Sequence[_T], k: int, rng: random.Random) -> list[list[_T]]:
    """``k`` shuffled orders of ``names``, all different while ``k <= len(names)!``.

    With two candidates and ``k = 2`` both orders are judged, which is what exposes a
    judge that picks by position.
    """
    n = len(names)
    if n <= 1:
        return [list(names) for _ in range(k)]
    if n <= 7 and k <= factorial(n):
        chosen = rng.sample(range(factorial(n)), k)
        return [_nth_permutation(names, i) for i in chosen]
    orders: list[list[_T]] = []
    seen: set[tuple[_T, ...]] = set()
    while len(orders) < k:
        order = list(names)
        rng.shuffle(order)
        if tuple(order) not in seen or len(seen) >= factorial(min(n, 10)):
            seen.add(tuple(order))
            orders.append(order)
    return orders


def _nth_permutation(names: Sequence[_T], index: int) -> list[_T]:
    pool = list(names)
    out: list[_T] = []
    for size in range(len(pool), 0, -1):
        block = factorial(size - 1)
        pos, index = divmod(index, block)
        out.append(pool.pop(pos))
    return out


def feedback_message(error: VerdictError, names: Sequence[str]) -> Message:
    """The user message that asks the judge again after an unusable answer."""
    return {
        "role": "user",
        "content": (
            f"Your answer could not be used: {error}. Answer again with only the JSON object "
            f'{{"scores": {{...}}, "{RANKING_KEY}": [...]}}, scoring each of {list(names)} exactly once '
            "and ranking all of them."
        ),
    }


def check_candidates(
    responses: Any, *, max_candidates: int, render: Callable[[Any], str]
) -> tuple[list[str], list[str]]:
    """Validate request candidates; return (real names, rendered texts) in request order.

    Raises:
        UsageError: no candidates, too many, duplicate or non-string names, or (with the
            default ``render``) a candidate that is ``None``, a number or bytes.
    """
    shaped = candidates_shape(responses)
    if isinstance(shaped, dict):
        names = list(shaped.keys())
        items = list(shaped.values())
        bad = [n for n in names if not isinstance(n, str) or not n]
        if bad:
            raise UsageError(f"candidate names must be non-empty strings, got {bad!r}")
    else:
        items = shaped
        names = [str(i) for i in range(len(items))]
    if not items:
        raise UsageError("responses is empty; give at least one candidate to judge")
    if len(items) > max_candidates:
        raise UsageError(
            f"{len(items)} candidates is more than max_candidates={max_candidates}; split them into "
            "smaller groups or raise max_candidates (the whole request must fit the model's context)"
        )
    if render is render_candidate:  # a custom render may well read numbers
        for name, item in zip(names, items, strict=True):
            if item is None or isinstance(item, int | float | complex | bytes | bytearray):
                where = f"responses[{name}]" if not isinstance(responses, Mapping) else f"responses[{name!r}]"
                fix = "leave it out" if item is None else f"pass it as text, {str(item)!r}"
                raise UsageError(
                    f"{where} is {item!r} ({type(item).__name__}): a candidate is a string, a chat message or a "
                    f"list of messages, a dict, a pydantic model or a dataclass; {fix} (or pass render= to "
                    "read other types)"
                )
    texts = [render(item) for item in items]
    return names, texts


# ------------------------------------------------------------ steering candidates

_VERDICT_SHAPE_RE = re.compile(r'"scores"\s*:\s*\{|"best-to-worst"\s*:\s*\[', re.IGNORECASE)
_JUDGE_ADDRESS_RE = re.compile(
    r"\b(?:ignore|disregard|forget) (?:all |any |the |your )?(?:previous |prior |above |earlier |other )?"
    r"(?:instructions|rules|principles?|rubric)"
    r"|\b(?:dear|attention|note to the|hey|to the) (?:judge|grader|evaluator|reward model)"
    r"|\b(?:you are|as) (?:the|a|an) (?:judge|grader|evaluator|reward model)\b"
    r"|\b(?:give|assign|award) (?:this|me|my|the) (?:response |answer |candidate |reply |output )?(?:a |the )?"
    r"(?:score|rating|grade) of (?:5|five|10|ten)\b"
    r"|\b(?:score|rate|grade) (?:this|me|my) (?:response |answer |candidate |reply |output )?(?:a |as )?"
    r"(?:5|five|10|ten|the highest|highest|top)\b"
    r"|\b(?:rank|put|place) (?:this|me|my) (?:response |answer |candidate |reply |output )?"
    r"(?:first|highest|on top|as the best)\b"
    r"|\bthis (?:response|answer|candidate|reply|output) (?:is the best one|must win|should (?:win|be ranked first))",
    re.IGNORECASE,
)
"""Phrases addressed to a judge rather than to the user (a documented, deliberately small list)."""


def steering_flags(text_of: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Candidates whose text tries to steer the judge, and what each holds.

    Three findings, each a short phrase:

    - ``"masked name 'model-2'"``: the judge's own names for candidates (``model-N``), which
      a candidate has no reason to know;
    - ``"verdict-shaped JSON"``: a ``"scores": {`` or ``"best-to-worst": [`` fragment, the
      shape of the judge's answer;
    - ``"instruction to the judge: '...'"``: a phrase addressed to a judge (ignore the
      instructions, score this 5, rank me first ...).

    The protocol already isolates candidate text: each candidate is a JSON string inside the
    user message (so no text can close it or add a key), and the parser accepts only the
    masked names of this request. A flag therefore does not mean the verdict was forged; it
    means a candidate tried, and its verdict deserves a second look.
    """
    flags: dict[str, tuple[str, ...]] = {}
    for name, text in text_of.items():
        found: list[str] = []
        masked = sorted(set(_MASKED_NAME_RE.findall(text)), key=lambda m: int(m.split("-")[1]))
        found.extend(f"masked name {m!r}" for m in masked[:3])
        if _VERDICT_SHAPE_RE.search(text):
            found.append("verdict-shaped JSON")
        address = _JUDGE_ADDRESS_RE.search(text)
        if address:
            found.append(f"instruction to the judge: {address.group(0)!r}")
        if found:
            flags[name] = tuple(found)
    return flags
