"""A small OpenAI-compatible chat server on 127.0.0.1 (standard library only).

It tests and measures an HTTP path without a model: your tests, the benchmarks'
instant upstream and the wire-level tests all build on it. It never stands in for a
real model server.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from ._scripted import shown_responses, verdict_json

__all__ = ["LoopbackOpenAI", "Reply", "chat_completion", "verdict_reply"]

Reply = tuple[int, dict[str, Any]]
"""An HTTP status and the JSON body to send."""


def chat_completion(
    content: str,
    *,
    model: str = "loopback",
    reasoning: str | None = None,
    finish: str = "stop",
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
) -> Reply:
    """A successful ``chat.completion`` answer carrying ``content``."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return 200, {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def verdict_reply(score: Callable[[str], int]) -> Callable[[dict[str, Any]], Reply]:
    """A ``respond`` function that answers the judge's request with a verdict.

    Each candidate the judge shows is scored ``score(text)`` (1-5) and ranked by score,
    so the answer follows the shuffled names the judge sent.

    Example:
        >>> server = LoopbackOpenAI(verdict_reply(lambda text: 5 if "Paris" in text else 2))
    """

    def respond(body: dict[str, Any]) -> Reply:
        return chat_completion(verdict_json(shown_responses(body["messages"]), score))

    return respond


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that can drop its open connections, as a dying process would."""

    allow_reuse_address = True  # restart on the same port (backend-down tests)
    # The standard library listens with a backlog of 5: a burst of 64 new connections (a
    # pool filling up) overflowed it, and the dropped connects waited seconds to retry.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Reset every open (kept-alive) connection; clients see the server gone."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a dropped connection is expected
            super().handle_error(request, client_address)


class LoopbackOpenAI:
    """Answers ``POST /v1/chat/completions`` with ``respond(body)``; use as a context manager.

    Args:
        respond: maps the request's JSON body to ``(status, payload)``.
        record: keep every request's lower-cased headers and body in :attr:`requests`.
        port: the port to bind (0: any free port).
    """

    def __init__(self, respond: Callable[[dict[str, Any]], Reply], *, record: bool = False, port: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per response

            def do_GET(self) -> None:  # http.server API; answers /v1/models
                self._send(200, {"object": "list", "data": [{"id": "loopback", "object": "model"}]})

            def do_POST(self) -> None:  # http.server API
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError as exc:
                    self._send(400, {"error": {"message": f"the body is not JSON: {exc}"}})
                    return
                if record:
                    owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self._send(*respond(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-openai", daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"  # bound to loopback above

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
