"""Agent trajectories as candidates: detect them and render them compactly for the judge.

A trajectory is what an agent did: a list of chat messages with tool calls and tool
results. Three shapes are read, without importing any framework:

- OpenAI chat messages: dicts with ``role`` (``user``, ``assistant``, ``tool``, ...),
  ``content``, assistant ``tool_calls`` (``{"id", "function": {"name", "arguments"}}``, or
  ``{"name", "args"}``) and tool messages with ``tool_call_id``;
- LangChain messages (``HumanMessage``, ``AIMessage`` with ``tool_calls``, ``ToolMessage``
  ...), recognised by their ``type`` and ``content`` attributes, and the same messages
  as dicts (``{"type": "ai", ...}``, as the LangGraph server returns them);
- a LangGraph state (any mapping) whose ``messages`` holds such a list.

Each message becomes one block of lines: its further lines are indented by two spaces
and blank lines are dropped::

    user: What is the weather in Paris?
    assistant -> get_weather({"city": "Paris"})
    get_weather result: {"temp_c": 18, "sky": "sunny"}
    assistant: It is 18 °C and sunny in Paris.

A tool result is named after the call it answers (by ``tool_call_id``), else after the
message's ``name``; a LangChain ``ToolMessage`` with ``status="error"`` reads
``name error: ...``. Arguments are one-line JSON in the order the model gave them;
arguments that are not JSON are shown as the model wrote them. Text, image and other
content blocks become their text or ``[type]``; reasoning and ``tool_use`` blocks are
left out (the tool calls are shown from ``tool_calls``). System messages are left out
unless ``system=True``.

Shortening rule (:func:`shorten`): a text longer than ``H + T`` characters keeps its first
``H`` and its last ``T`` characters with ``… [N chars omitted] …`` between them (a space
on each side; ``N`` is the number of characters dropped). A limit given as one number
``L`` splits as ``H = L - L // 3`` and ``T = L // 3`` (two thirds to the start, where tool
outputs put their status and headers, a third to the end, where they put totals and
errors); give a pair ``(H, T)`` to choose. ``None`` keeps the whole text. Tool results
(default 1000: 667 + 333), tool-call arguments (default 300: 200 + 100) and message texts
(default: whole) have separate limits (see :func:`render_trajectory`).

Ranking: :func:`arank_trajectories` (and :func:`rank_trajectories`) judges N trajectories of
one task in ONE listwise call, the group reward that ART's RULER made popular, here under
a principle; :func:`trajectory_rewards` turns the verdict into per-trajectory rewards in
[0, 1]. The judge is any :class:`ra_agents.Judging`: a local :class:`ra_agents.Judge` or an
HTTP client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, Unpack

from ._errors import UsageError
from .sync import run_sync

if TYPE_CHECKING:
    from ._types import JudgeResult
    from .judging import Judging
    from .principles import PrincipleLike

__all__ = [
    "Limit",
    "TrajectoryOptions",
    "DEFAULT_MAX_TOOL_CHARS",
    "DEFAULT_MAX_ARG_CHARS",
    "is_trajectory",
    "is_message",
    "content_text",
    "trajectory_messages",
    "render_trajectory",
    "shorten",
    "common_prefix",
    "trajectory_request",
    "NO_STEPS",
    "rank_trajectories",
    "arank_trajectories",
    "trajectory_rewards",
]

Limit: TypeAlias = int | tuple[int, int] | None
"""A length limit: ``L`` characters (split two thirds head, one third tail), ``(head, tail)``, or ``None``."""

DEFAULT_MAX_TOOL_CHARS = 1000
"""Characters kept of each tool result by default."""

DEFAULT_MAX_ARG_CHARS = 300
"""Characters kept of each tool call's arguments by default."""

NO_STEPS = "(no steps after the task)"
"""What the judge reads for a trajectory that holds nothing beyond the task (see :func:`trajectory_request`)."""


class TrajectoryOptions(TypedDict, total=False):
    """The options of :func:`render_trajectory`, for functions that pass them on."""

    max_tool_chars: Limit
    max_arg_chars: Limit
    max_text_chars: Limit
    system: bool


_ROLES = {"human": "user", "ai": "assistant", "developer": "system"}
_LANGCHAIN_TYPES = {"human", "ai", "system", "tool", "function", "chat", "developer"}
_TEXT_BLOCKS = {"text", "input_text", "output_text"}
_HIDDEN_BLOCKS = {"tool_use", "tool_call", "function_call", "thinking", "redacted_thinking", "reasoning"}


@dataclass(frozen=True)
class _Call:
    name: str
    args: str
    id: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _Step:
    """One message, normalised. Ids are kept for naming tool results but never compared."""

    role: str
    text: str
    calls: tuple[_Call, ...] = ()
    name: str | None = None
    error: bool = False
    call_id: str | None = field(default=None, compare=False)


# ------------------------------------------------------------------ detection


def _langchain_type(kind: str) -> str:
    """``"AIMessageChunk"`` -> ``"ai"``; other types unchanged."""
    return kind[: -len("MessageChunk")].lower() if kind.endswith("MessageChunk") else kind


def is_message(item: Any) -> bool:
    """Whether ``item`` is one chat message: an OpenAI dict, a LangChain message, or its dict form."""
    if isinstance(item, Mapping):
        if isinstance(item.get("role"), str):
            return "content" in item or "tool_calls" in item
        kind = item.get("type")
        return isinstance(kind, str) and _langchain_type(kind) in _LANGCHAIN_TYPES and "content" in item
    kind = getattr(item, "type", None)
    return isinstance(kind, str) and _langchain_type(kind) in _LANGCHAIN_TYPES and hasattr(item, "content")


def _message_list(value: Any) -> Sequence[Any] | None:
    if isinstance(value, Mapping):
        value = value.get("messages")
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return None


def is_trajectory(value: Any) -> bool:
    """Whether ``value`` is a trajectory: a non-empty list of chat messages, or a state holding one.

    A state is any mapping with the list under ``messages``. A single message is not a
    trajectory, nor is a list holding anything but messages.
    """
    messages = _message_list(value)
    return bool(messages) and all(is_message(m) for m in messages or ())


def trajectory_messages(value: Any) -> list[Any]:
    """The message list of a trajectory (a list of messages, or a state with ``messages``).

    Raises:
        UsageError: ``value`` is neither; the message names the first item that is not a message.
    """
    messages = _message_list(value)
    if messages is None:
        keys = f" with keys {sorted(map(str, value))}" if isinstance(value, Mapping) else ""
        raise UsageError(
            f"a trajectory is a list of chat messages or a state with 'messages', got {type(value).__name__}{keys}"
        )
    for index, item in enumerate(messages):
        if not is_message(item):
            raise UsageError(
                f"item {index} of the trajectory is not a chat message ({type(item).__name__}); give OpenAI "
                "message dicts ({'role', 'content', 'tool_calls'}) or LangChain messages"
            )
    return list(messages)


# -------------------------------------------------------------- normalisation


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def content_text(content: Any) -> str:
    """A message's content as text: blocks' texts one per line, other blocks as ``[type]``, stripped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping):
                kind = block.get("type")
                if kind in _TEXT_BLOCKS or (kind is None and "text" in block):
                    parts.append(str(block.get("text", "")))
                elif kind not in _HIDDEN_BLOCKS:
                    parts.append(f"[{kind}]")
            else:
                parts.append(_json_text(block))
        return "\n".join(p.strip() for p in parts if p.strip())
    return _json_text(content).strip()


def _args_text(args: Any) -> str:
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except ValueError:
            return args.strip()
        return _json_text(parsed)
    return _json_text({} if args is None else args)


def _call(raw: Any) -> _Call:
    if not isinstance(raw, Mapping):
        raw = {"name": getattr(raw, "name", str(raw)), "args": getattr(raw, "args", {}), "id": getattr(raw, "id", None)}
    function = raw.get("function")
    if isinstance(function, Mapping):  # OpenAI: {"id", "type": "function", "function": {"name", "arguments"}}
        name, args = function.get("name"), function.get("arguments")
    else:  # LangChain and agentevals: {"name", "args", "id"}
        name, args = raw.get("name"), raw.get("args", raw.get("arguments"))
    call_id = raw.get("id")
    return _Call(str(name or "?"), _args_text(args), str(call_id) if call_id else None)


def _step(message: Any) -> _Step:
    if isinstance(message, Mapping):
        get = message.get
        role = get("role")
        if not isinstance(role, str):
            kind = _langchain_type(str(get("type")))
            role = str(get("role", "user")) if kind == "chat" else kind
        calls = [*(get("tool_calls") or ()), *(get("invalid_tool_calls") or ())]
        content, name, call_id, status = get("content"), get("name"), get("tool_call_id"), get("status")
    else:
        kind = _langchain_type(message.type)
        role = str(getattr(message, "role", "user")) if kind == "chat" else kind
        calls = [*(getattr(message, "tool_calls", None) or ()), *(getattr(message, "invalid_tool_calls", None) or ())]
        content, name = message.content, getattr(message, "name", None)
        call_id, status = getattr(message, "tool_call_id", None), getattr(message, "status", None)
    role = _ROLES.get(role, role)
    return _Step(
        role=role,
        text=content_text(content),
        calls=tuple(_call(c) for c in calls) if role == "assistant" else (),
        name=str(name) if name else None,
        error=status == "error",
        call_id=str(call_id) if call_id else None,
    )


def common_prefix(trajectories: Sequence[Any], *, roles: Sequence[str] | None = None) -> int:
    """How many leading messages every trajectory has in common.

    Messages compare by what the judge would read (role, text, tool calls, tool results),
    never by ids, so an OpenAI dict and the equivalent LangChain message are equal.

    Args:
        trajectories: trajectories (lists of messages, or states with ``messages``).
        roles: count only messages of these roles (``"system"``, ``"user"``, ``"assistant"``,
            ``"tool"``...), stopping at the first message of another role.
    """
    lists = [[_step(m) for m in trajectory_messages(t)] for t in trajectories]
    if not lists:
        return 0
    count = 0
    for steps in zip(*lists, strict=False):
        first = steps[0]
        if (roles is not None and first.role not in roles) or any(s != first for s in steps[1:]):
            break
        count += 1
    return count


# ------------------------------------------------------------------ rendering


def _split(limit: Limit, what: str) -> tuple[int, int] | None:
    if limit is None:
        return None
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        return limit - limit // 3, limit // 3
    if (
        isinstance(limit, tuple)
        and len(limit) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in limit)
    ):
        return limit[0], limit[1]
    raise UsageError(f"{what} must be a number of characters, a (head, tail) pair of them, or None; got {limit!r}")


def shorten(text: str, limit: Limit) -> str:
    """Shorten ``text`` by the documented rule (see the module docs).

    >>> shorten("abcdefghij", 6)
    'abcd … [4 chars omitted] … ij'
    >>> shorten("abcdefghij", (2, 0))
    'ab … [8 chars omitted] …'
    """
    return _shorten(text, _split(limit, "limit"))


def _shorten(text: str, split: tuple[int, int] | None) -> str:
    if split is None:
        return text
    head, tail = split
    if len(text) <= head + tail:
        return text
    marker = f"… [{len(text) - head - tail} chars omitted] …"
    return " ".join(part for part in (text[:head], marker, text[len(text) - tail :]) if part)


def _block(head: str, text: str) -> str:
    """``head`` and ``text`` on one line; the text's further non-blank lines indented by two spaces."""
    first, *rest = text.split("\n") if text else ["(empty)"]
    return "\n".join([f"{head} {first}".rstrip(), *(f"  {line}" for line in rest if line.strip())])


def render_trajectory(
    messages: Any,
    *,
    max_tool_chars: Limit = DEFAULT_MAX_TOOL_CHARS,
    max_arg_chars: Limit = DEFAULT_MAX_ARG_CHARS,
    max_text_chars: Limit = None,
    system: bool = False,
) -> str:
    """Render a trajectory as the judge reads it: one block of lines per message.

    Args:
        messages: OpenAI message dicts, LangChain messages, or a state with ``messages``
            (see the module docs).
        max_tool_chars: limit on each tool result (see :func:`shorten`).
        max_arg_chars: limit on each tool call's arguments, as one-line JSON.
        max_text_chars: limit on the text of user, assistant and system messages
            (``None``: kept whole).
        system: include system (and developer) messages.

    Returns:
        The rendering, blocks separated by newlines; ``""`` for an empty list.

    Raises:
        UsageError: ``messages`` is not a trajectory, or a limit is malformed.
    """
    tool_split = _split(max_tool_chars, "max_tool_chars")
    arg_split = _split(max_arg_chars, "max_arg_chars")
    text_split = _split(max_text_chars, "max_text_chars")
    tool_names: dict[str, str] = {}
    blocks: list[str] = []
    for step in map(_step, trajectory_messages(messages)):
        if step.role == "assistant":
            for call in step.calls:
                if call.id:
                    tool_names[call.id] = call.name
            if step.text or not step.calls:
                blocks.append(_block("assistant:", _shorten(step.text, text_split)))
            blocks.extend(f"assistant -> {c.name}({_shorten(c.args, arg_split)})" for c in step.calls)
        elif step.role in ("tool", "function"):
            name = tool_names.get(step.call_id or "") or step.name or "tool"
            outcome = "error:" if step.error else "result:"
            blocks.append(_block(f"{name} {outcome}", _shorten(step.text, tool_split)))
        elif step.role != "system" or system:
            blocks.append(_block(f"{step.role}:", _shorten(step.text, text_split)))
    return "\n".join(blocks)


def trajectory_request(
    task: Any, trajectories: Mapping[str, Any] | Sequence[Any], **options: Unpack[TrajectoryOptions]
) -> tuple[str, dict[str, str]]:
    """The prompt and candidate texts that judge trajectories of one task in one listwise call.

    Args:
        task: what the agents were asked. Text is the prompt as given, and the trajectories
            are rendered whole. Messages (a trajectory) become the prompt through
            :func:`ra_agents.prompt_text` (as at every other entry point) and are left out of
            every trajectory that begins with them, so the judge reads them once.
            ``None`` takes the task from the trajectories: the leading system and user
            messages they all share (``system`` messages appear only with ``system=True``).
        trajectories: name -> trajectory, or a list of trajectories (named ``"0"``, ``"1"``...).
        **options: rendering options, see :func:`render_trajectory`.

    Returns:
        ``(prompt, {name: rendered trajectory})``; a trajectory with nothing beyond the
        task reads :data:`NO_STEPS`.

    Raises:
        UsageError: no trajectories, one trajectory where several were expected, an item
            that is not a trajectory, or no task given and none shared.
    """
    if is_trajectory(trajectories):
        raise UsageError("got one trajectory; pass several, as a list or a mapping of name -> trajectory")
    if isinstance(trajectories, Mapping):
        named = {str(name): trajectory_messages(t) for name, t in trajectories.items()}
    elif isinstance(trajectories, Sequence) and not isinstance(trajectories, (str, bytes)):
        named = {str(i): trajectory_messages(t) for i, t in enumerate(trajectories)}
    else:
        raise UsageError(
            f"trajectories must be a list or a mapping of name -> trajectory, got {type(trajectories).__name__}"
        )
    if not named:
        raise UsageError("no trajectories to judge; give at least one")

    if task is None:
        shared = common_prefix(list(named.values()), roles=("system", "user"))
        task = next(iter(named.values()))[:shared]
        if not task:
            raise UsageError(
                "no task: the trajectories do not begin with the same user message; pass the task (text or messages)"
            )
    if isinstance(task, str):
        if not task.strip():
            raise UsageError("task is empty; say what the agents were asked to do")
        return task, {name: render_trajectory(messages, **options) or NO_STEPS for name, messages in named.items()}

    from .prompt import prompt_text  # the one prompt normaliser (it renders message lists with this module)

    task_messages = trajectory_messages(task)
    prompt = prompt_text(task_messages)
    if not prompt.strip():
        raise UsageError("the task's messages render to nothing; pass the task as text")
    size = len(task_messages)
    texts = {}
    for name, messages in named.items():
        rest = messages[size:] if common_prefix([task_messages, messages]) >= size else messages
        texts[name] = render_trajectory(rest, **options) or NO_STEPS
    return prompt, texts


# -------------------------------------------------------------------- ranking


async def arank_trajectories(
    judge: Judging,
    principle: PrincipleLike,
    task: Any,
    trajectories: Mapping[str, Any] | Sequence[Any],
    *,
    permutations: int | None = None,
    seed: int | None = None,
    **options: Unpack[TrajectoryOptions],
) -> JudgeResult:
    """Rank N trajectories of the same task in ONE listwise judge call.

    Args:
        judge: the judge (any :class:`~ra_agents.Judging`).
        principle: what to value in how the agents worked.
        task: what the agents were asked: text, the input messages (shown once, read by
            :func:`ra_agents.prompt_text`, and left out of each trajectory that begins with
            them), or ``None`` to use the leading system and user messages all trajectories
            share (see :func:`trajectory_request`).
        trajectories: name -> trajectory, or a list of them (named ``"0"``, ``"1"``...).
        permutations: passes over shuffled orders (the judge's setting when ``None``).
        seed: the shuffle seed (the judge's when ``None``).
        **options: rendering options, see :func:`render_trajectory`. The trajectories
            reach the judge already rendered, so its ``render`` is not used.

    Raises:
        UsageError: bad trajectories or no task. BackendError, VerdictError: as
            :meth:`Judge.ajudge <ra_agents.Judge.ajudge>`.
    """
    prompt, texts = trajectory_request(task, trajectories, **options)
    return await judge.ajudge(principle, prompt, texts, permutations=permutations, seed=seed)


def rank_trajectories(
    judge: Judging,
    principle: PrincipleLike,
    task: Any,
    trajectories: Mapping[str, Any] | Sequence[Any],
    *,
    permutations: int | None = None,
    seed: int | None = None,
    **options: Unpack[TrajectoryOptions],
) -> JudgeResult:
    """Synchronous :func:`arank_trajectories`."""
    return run_sync(
        arank_trajectories(judge, principle, task, trajectories, permutations=permutations, seed=seed, **options),
        async_name="arank_trajectories",
    )


def trajectory_rewards(result: JudgeResult) -> dict[str, float]:
    """Per-trajectory rewards in [0, 1], in the order the trajectories were given.

    Each is :meth:`JudgeResult.unit_score <ra_agents.JudgeResult.unit_score>`: the
    logprob-weighted expected score when the backend gives logprobs (which breaks ties),
    else the integer score mapped from the scale. ``list(rewards.values())`` is the
    group's reward vector for a GRPO-style update.
    """
    return {name: result.unit_score(name) for name in result.names}
