"""A tiny OTLP/HTTP trace receiver on loopback, for tests that follow a trace across processes.

It accepts ``POST /v1/traces`` with a protobuf ``ExportTraceServiceRequest`` (what an
OpenTelemetry SDK sends with ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf``),
optionally gzip-compressed, and keeps every span it receives. It is a real collector
endpoint as far as the sender can tell; it stores spans in memory and nothing more.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OTLPReceiver", "ReceivedSpan"]


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as received, ids in lower-case hex (``parent_span_id`` is ``""`` for a root)."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)


class OTLPReceiver:
    """Receives OTLP/HTTP traces on ``127.0.0.1``; use as a context manager or ``start()``/``stop()``.

    Args:
        port: the port to bind (0: any free one; read it back from :attr:`port`).
    """

    def __init__(self, port: int = 0) -> None:
        self._spans: list[ReceivedSpan] = []
        self._changed = threading.Condition()
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?", 1)[0] != "/v1/traces":
                    self._answer(404, b"")
                    return
                if "protobuf" not in (self.headers.get("Content-Type") or ""):
                    self._answer(415, b"only application/x-protobuf is accepted")
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except Exception:  # noqa: BLE001 - protobuf's DecodeError (its module has no type stubs here)
                    self._answer(400, b"not an ExportTraceServiceRequest")
                    return
                owner._add(request)
                self._answer(200, ExportTraceServiceResponse().SerializeToString())

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # http.server API: stay quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self) -> str:
        """The traces URL to give an exporter (``--otlp-traces-endpoint`` for vLLM)."""
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def start(self) -> Self:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._changed:
            return list(self._spans)

    def wait_for(
        self,
        trace_id: str | int,
        *,
        where: Callable[[ReceivedSpan], bool] = lambda span: True,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[ReceivedSpan]:
        """The spans of ``trace_id`` (hex or int) once ``count`` of them match ``where``; [] after ``timeout``."""
        wanted = format(trace_id, "032x") if isinstance(trace_id, int) else trace_id.lower()
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [s for s in self._spans if s.trace_id == wanted]
                if sum(1 for s in found if where(s)) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(left)

    def _add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=int(span.kind),
                            attributes=_attributes(span.attributes),
                            resource=resource,
                        )
                    )
        with self._changed:
            self.requests += 1
            self._spans.extend(received)
            self._changed.notify_all()


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None
