"""In-process generation on a terminal: a token counter and a one-time hint to serve the model.

The model is a stand-in that drives transformers' streamer protocol the way ``generate``
does (the prompt first, then one call per generated token), so no weights are loaded.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch

from ra_agents.backends import transformers as backend_module
from ra_agents.backends.transformers import SERVED_MODEL_HINT, TransformersBackend


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FakeTokenizer:
    pad_token_id = 0
    eos_token_id = 1

    def apply_chat_template(self, messages: Any, **_: Any) -> list[int]:
        return [5, 6, 7]

    def decode(self, ids: list[int], **_: Any) -> str:
        return " ".join(str(i) for i in ids)


class FakeModel:
    """Generates ``tokens`` tokens per row, feeding the streamer as transformers does."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.device = torch.device("cpu")
        self.config = SimpleNamespace(vocab_size=16, max_position_embeddings=64)
        self.generation_config = SimpleNamespace(eos_token_id=None)
        self.streamers: list[Any] = []

    def generate(self, input_ids: torch.Tensor, streamer: Any = None, **_: Any) -> Any:
        rows = input_ids.shape[0]
        self.streamers.append(streamer)
        if streamer is not None:
            streamer.put(input_ids)
        new = torch.full((rows, self.tokens), 9)
        for step in range(self.tokens):
            if streamer is not None:
                streamer.put(new[:, step])
        if streamer is not None:
            streamer.end()
        return SimpleNamespace(sequences=torch.cat([input_ids, new], dim=1), scores=[])


def _generate(monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO, tokens: int = 5) -> FakeModel:
    """One in-process generation on the fake model, with ``stderr`` as the process's stderr."""
    model = FakeModel(tokens)
    backend = TransformersBackend(batch_window_s=0)
    monkeypatch.setattr(backend, "_components", lambda: (model, FakeTokenizer(), None))
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(backend_module, "_hinted", backend_module.threading.Event())  # a fresh process
    monkeypatch.setattr(backend_module, "_PROGRESS_EVERY_S", 0.0)  # draw every token

    async def twice() -> None:
        for _ in range(2):
            await backend.generate([{"role": "user", "content": "hi"}], {"max_tokens": tokens})

    asyncio.run(twice())
    return model


def test_a_terminal_sees_a_token_counter_and_the_hint_once(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    model = _generate(monkeypatch, terminal)
    shown = terminal.getvalue()
    assert shown.count(SERVED_MODEL_HINT) == 1  # two generations, one hint
    assert "RA_AGENTS_API_BASE=" in SERVED_MODEL_HINT and "ra-agents vllm serve" in SERVED_MODEL_HINT
    assert "generating in-process: 1/5 tokens" in shown
    assert "generating in-process: 5/5 tokens" in shown  # counted per step, not per prompt
    assert shown.endswith("\r\033[K")  # the counter's line is cleared at the end
    assert all(streamer is not None for streamer in model.streamers)


def test_a_pipe_sees_nothing_and_the_hint_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = io.StringIO()
    with caplog.at_level(logging.INFO, logger=backend_module.__name__):
        model = _generate(monkeypatch, pipe)
    assert pipe.getvalue() == ""
    assert model.streamers == [None, None]  # no streamer at all off a terminal
    assert [r.getMessage() for r in caplog.records].count(SERVED_MODEL_HINT) == 1


def test_the_counter_reports_batched_requests() -> None:
    terminal = Terminal()
    progress = backend_module._Progress(terminal, rows=3, max_new=10, every_s=0.0)
    progress.put(torch.zeros((3, 4)))  # the prompt
    for _ in range(4):
        progress.put(torch.zeros(3))
    assert progress.tokens == 4
    assert "4/10 tokens, 3 requests batched" in terminal.getvalue()
