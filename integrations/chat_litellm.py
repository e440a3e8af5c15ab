"""A tiny LangChain chat model over any ra-agents backend (LiteLLM, vLLM, the bundled model).

It lets the model that serves the judge also serve as a graph's *generator*, with no
``langchain-openai`` installed::

    model = BackendChatModel.from_litellm("hosted_vllm/smollm2", api_base="http://127.0.0.1:8000/v1")
    model.invoke("Name a prime number.")

Tool calling does not need server-side tool support: after :meth:`BackendChatModel.bind_tools`
the model answers with a JSON object ``{"name": ..., "args": {...}}`` constrained by a JSON
schema (when the backend supports one), which becomes an ``AIMessage`` with ``tool_calls``.
The reserved tool ``final_answer`` ends the plan with a plain answer instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from ra_agents import Backend, GenerationSettings, Message, MissingDependencyError
from ra_agents.protocol import render_candidate
from ra_agents.trajectory import content_text

try:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langchain-core", "langgraph", "The LangChain chat model adapter") from exc

__all__ = ["BackendChatModel", "FINAL_ANSWER"]

FINAL_ANSWER = "final_answer"
"""The reserved tool name a bound model uses to answer instead of calling a tool."""

_TOOL_INSTRUCTIONS = (
    "You can call one of these tools. Answer with only a JSON object "
    '{{"name": <tool name>, "args": {{...}}}}. To answer directly, use the name '
    '"{final}" with args {{"answer": "..."}}.\nTools:\n{tools}'
)


class BackendChatModel(BaseChatModel):
    """A LangChain chat model that generates through an ra-agents :class:`~ra_agents.Backend`.

    Attributes:
        backend: the backend (e.g. ``LiteLLMBackend`` or ``TransformersBackend``).
        max_tokens: generation budget per call.
        temperature: sampling temperature (above 0 so best-of-n candidates differ).
    """

    backend: Any
    max_tokens: int = 256
    temperature: float = 0.8

    @classmethod
    def from_litellm(cls, model: str, *, api_base: str | None = None, **kwargs: Any) -> BackendChatModel:
        """A chat model on any LiteLLM model string, e.g. ``"hosted_vllm/NAME"`` behind vLLM."""
        from ra_agents.backends.litellm import LiteLLMBackend

        fields = {k: kwargs.pop(k) for k in ("max_tokens", "temperature") if k in kwargs}
        return cls(backend=LiteLLMBackend(model, api_base=api_base, **kwargs), **fields)

    @classmethod
    def from_config(cls, **fields: Any) -> BackendChatModel:
        """The configured backend (``RA_AGENTS_MODEL``/``RA_AGENTS_API_BASE``), else the bundled model."""
        from ra_agents.settings import resolve_backend

        return cls(backend=resolve_backend(), **fields)

    @property
    def _llm_type(self) -> str:
        return "ra-agents-backend"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Bind tools; the model then answers with one JSON tool call (see the module docs)."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        from ra_agents.sync import run_sync

        return run_sync(self._agenerate(messages, stop, **kwargs), async_name="model.ainvoke")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        backend: Backend = self.backend
        tools: list[dict[str, Any]] = kwargs.get("tools") or []
        wire = [_to_wire(m) for m in messages]
        settings: GenerationSettings = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if tools:
            wire.insert(0, {"role": "system", "content": _tool_prompt(tools)})
            if backend.supports_json_schema:
                settings["json_schema"] = _tool_schema(tools)
        completion = await backend.generate(wire, settings)
        message = _to_tool_call(completion.text, tools) if tools else AIMessage(content=completion.text)
        message.usage_metadata = {
            "input_tokens": completion.usage.prompt_tokens,
            "output_tokens": completion.usage.completion_tokens,
            "total_tokens": completion.usage.total_tokens,
        }
        message.response_metadata = {"model_name": completion.model, "finish_reason": completion.finish_reason}
        return ChatResult(generations=[ChatGeneration(message=message)])


def _to_wire(message: BaseMessage) -> Message:
    """Flatten a message to role + text (tool traffic becomes readable text)."""
    if isinstance(message, ToolMessage):
        return {"role": "user", "content": f"Tool result ({message.name or 'tool'}): {message.content}"}
    role = {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")
    return {
        "role": role,
        "content": render_candidate(message) if role == "assistant" else content_text(message.content),
    }


def _tool_prompt(tools: list[dict[str, Any]]) -> str:
    lines = [f"- {t['function']['name']}: {t['function'].get('description', '')}" for t in tools]
    return _TOOL_INSTRUCTIONS.format(final=FINAL_ANSWER, tools="\n".join(lines))


def _tool_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """One JSON-schema branch per tool, plus the ``final_answer`` branch."""
    answer = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    branches = [(t["function"]["name"], t["function"].get("parameters") or {"type": "object"}) for t in tools]
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"enum": [name]}, "args": params},
                "required": ["name", "args"],
                "additionalProperties": False,
            }
            for name, params in [*branches, (FINAL_ANSWER, answer)]
        ]
    }


def _to_tool_call(text: str, tools: list[dict[str, Any]]) -> AIMessage:
    """The JSON answer as a tool call; anything unusable stays a plain text answer."""
    known = {t["function"]["name"] for t in tools}
    try:
        obj = json.loads(text)
        name, args = obj["name"], obj.get("args") or {}
    except (ValueError, TypeError, KeyError):
        return AIMessage(content=text)
    if name == FINAL_ANSWER or name not in known or not isinstance(args, dict):
        return AIMessage(content=str(args.get("answer", text)) if isinstance(args, dict) else text)
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}])
