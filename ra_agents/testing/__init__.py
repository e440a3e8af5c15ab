"""Test doubles for your own tests of code that uses the judge.

Two doubles, one for each level a test may want to stop at:

- :class:`ScriptedBackend`: a judge backend that replays queued answers (texts,
  completions, exceptions, or functions of what the judge sent) and records every
  call. ``Judge(backend=ScriptedBackend(...))`` drives the whole judge, its parser,
  retries and adapters, with no network and no model.
- :class:`LoopbackOpenAI`: an OpenAI-compatible chat server on 127.0.0.1 (standard
  library only) that answers with a function of the request body. Point any
  OpenAI-compatible client at ``server.api_base``: ``Judge.from_litellm("hosted_vllm/x",
  api_base=server.api_base)``, the LiteLLM proxy, ``ra-agents serve``.

Neither proves a real model gives the answer; they prove what your code does with it.

Example:
    >>> from ra_agents import Judge
    >>> from ra_agents.testing import ScriptedBackend, prefer
    >>> judge = Judge(backend=ScriptedBackend(default=prefer(lambda text: "Paris" in text)))
    >>> verdict = judge.judge("Be accurate.", "Capital of France?", {"a": "Lyon.", "b": "Paris."})
    >>> verdict.best, verdict.scores
    ('b', {'a': 1, 'b': 5})
"""

from __future__ import annotations

from ._loopback import LoopbackOpenAI, Reply, chat_completion, verdict_reply
from ._scripted import ScriptedBackend, prefer, shown_responses, verdict_json

__all__ = [
    "LoopbackOpenAI",
    "Reply",
    "ScriptedBackend",
    "chat_completion",
    "prefer",
    "shown_responses",
    "verdict_json",
    "verdict_reply",
]
