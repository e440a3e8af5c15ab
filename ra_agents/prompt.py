"""One prompt normaliser: every way a host framework holds a prompt becomes the same text.

The judge reads the prompt as text. Whatever shape it arrives in, every entry point (the
core :class:`~ra_agents.Judge`, the HTTP client and every adapter) calls
:func:`prompt_text`, so one conversation reaches the model as one text and one cache key,
whichever adapter carried it. No framework is imported here; shapes are recognised by
their attributes.

The rules, in order:

- text is the prompt as given;
- a LangChain prompt value (anything with ``to_messages()``) is its messages;
- a LangGraph state (a mapping with ``messages``) is its messages;
- one chat message (an OpenAI dict, or a LangChain message) is a list of one;
- a list of chat messages: a single user message is its text (so ``"2+2?"`` and
  ``[{"role": "user", "content": "2+2?"}]`` read alike); anything longer is rendered
  message by message by :func:`ra_agents.trajectory.render_trajectory`, system messages
  included (``system: ...`` / ``user: ...`` / ``assistant: ...``, tool calls and results
  on their own lines);
- a list of content blocks (``{"type": "text", "text": ...}``, strings) is its texts,
  one per line; non-text blocks read ``[image_url]`` and the like;
- any other mapping with exactly one entry is that entry's value (``{"question": ...}``,
  as LangSmith and LCEL inputs hold it); with several entries it is indented JSON;
- a pydantic model or dataclass is indented JSON.

>>> prompt_text([{"role": "user", "content": [{"type": "text", "text": "2+2?"}]}])
'2+2?'
>>> print(prompt_text([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]))
system: Be brief.
user: 2+2?
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from ._errors import UsageError
from .trajectory import content_text, is_message, is_trajectory, render_trajectory, trajectory_messages

__all__ = ["PromptLike", "prompt_text"]

PromptLike: TypeAlias = Any
"""What :func:`prompt_text` accepts: text, chat messages (OpenAI dicts or LangChain
messages), content blocks, a LangChain prompt value, a LangGraph state, or an input mapping."""


def prompt_text(value: PromptLike) -> str:
    """The text the judge reads as the prompt (see the module docs for the rules).

    Raises:
        UsageError: ``value`` is ``None``, or holds nothing to read.
    """
    if isinstance(value, str):
        return value
    if value is None:
        raise UsageError("prompt is None; pass the text or the chat messages the candidates answer")
    to_messages = getattr(value, "to_messages", None)
    if callable(to_messages):  # a LangChain PromptValue
        return _messages_text(list(to_messages()))
    if is_message(value):
        return _messages_text([value])
    if is_trajectory(value):  # a message list, or a state holding one
        return _messages_text(trajectory_messages(value))
    if isinstance(value, Mapping):
        if "messages" in value and not value["messages"]:
            raise UsageError("the prompt's 'messages' is empty; pass the messages the candidates answer")
        if len(value) == 1:
            return prompt_text(next(iter(value.values())))
        return _json(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if not value:
            raise UsageError("the prompt is an empty list; pass the text or the messages the candidates answer")
        if all(isinstance(b, str | Mapping) for b in value):
            return content_text(value)
        return _json(list(value))
    if hasattr(value, "model_dump"):
        return _json(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json(dataclasses.asdict(value))
    return str(value)


def _messages_text(messages: list[Any]) -> str:
    if len(messages) == 1:
        only = messages[0]
        role = only.get("role", only.get("type")) if isinstance(only, Mapping) else getattr(only, "type", None)
        content = only.get("content") if isinstance(only, Mapping) else getattr(only, "content", None)
        if role in ("user", "human"):
            return content_text(content)
    return render_trajectory(messages, system=True)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
