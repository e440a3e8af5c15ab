"""Shared fixtures.

Real-path fixtures:
- ``local_backend``: the bundled model in-process, loaded once per session.
- ``vllm_server``: a real vLLM server on loopback, started once per session when any
  collected test needs it (the start overlaps with the fast tests), or the running
  one named by ``RA_AGENTS_TEST_VLLM_URL`` (with ``RA_AGENTS_TEST_VLLM_MODEL``, the
  served name, default ``smollm2``). Never skipped: if it cannot start, its tests fail.
- ``otlp_receiver``: the in-process OTLP/HTTP receiver (``tests/otlp_receiver.py``) that
  the session's own vLLM server exports its spans to. With ``RA_AGENTS_TEST_VLLM_URL``
  the server is someone else's and its exporter is out of reach: tests that use this
  fixture are skipped in that mode only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

if TYPE_CHECKING:
    from tests.otlp_receiver import OTLPReceiver

# A suite started in the background of a script (`cmd &`) inherits SIGINT ignored, and so would
# every process it starts. The signal tests send SIGINT as a terminal's Ctrl-C does, so the
# processes they start must receive it with its default meaning (a handled signal is reset to
# its default in a child, an ignored one is not).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_provider)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Finished spans of this test, read with ``spans.get_finished_spans()``."""
    _EXPORTER.clear()
    return _EXPORTER


@dataclass
class ServedModel:
    api_base: str
    served_name: str

    @property
    def litellm_model(self) -> str:
        return f"hosted_vllm/{self.served_name}"


_SERVER = None
_RECEIVER: OTLPReceiver | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the vLLM server early (non-blocking) when any collected test needs it.

    It exports its spans to an in-process OTLP receiver started first, so that trace
    tests use this one server rather than starting their own.
    """
    global _SERVER, _RECEIVER
    if os.environ.get("RA_AGENTS_TEST_VLLM_URL"):
        return
    if any(item.get_closest_marker("vllm") for item in session.items):
        from ra_agents.local.vllm_server import VLLMServer
        from tests.otlp_receiver import OTLPReceiver

        _RECEIVER = OTLPReceiver().start()
        _SERVER = VLLMServer.bundled(
            extra_args=["--otlp-traces-endpoint", _RECEIVER.endpoint],
            env={
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",  # vLLM's default is gRPC
                "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within 0.2 s rather than 5 s
                "OTEL_SERVICE_NAME": "vllm",
            },
        ).start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SERVER is not None:
        _SERVER.stop()
    if _RECEIVER is not None:
        _RECEIVER.stop()


@pytest.fixture(scope="session")
def vllm_server() -> ServedModel:
    url = os.environ.get("RA_AGENTS_TEST_VLLM_URL")
    if url:
        return ServedModel(url.rstrip("/"), os.environ.get("RA_AGENTS_TEST_VLLM_MODEL", "smollm2"))
    assert _SERVER is not None, "the vLLM server was not started at collection; mark the test with @pytest.mark.vllm"
    _SERVER.wait()
    return ServedModel(_SERVER.api_base, _SERVER.served_name)


@pytest.fixture(scope="session")
def otlp_receiver(vllm_server: ServedModel) -> OTLPReceiver:
    """The OTLP/HTTP receiver the session's vLLM server sends its spans to."""
    if os.environ.get("RA_AGENTS_TEST_VLLM_URL"):
        pytest.skip(
            "needs the suite's own vLLM server, whose spans go to this receiver; "
            "RA_AGENTS_TEST_VLLM_URL names an external server: unset it to run this test"
        )
    assert _RECEIVER is not None, "the OTLP receiver starts with the vLLM server; mark the test with @pytest.mark.vllm"
    return _RECEIVER


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """One local Ray cluster for the session (2 CPUs, a small object store), started on first use."""
    from ra_agents.integrations.ray import ray_session

    with ray_session(
        "local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False
    ) as ray:
        yield ray


@pytest.fixture(scope="session")
def local_backend():
    from ra_agents.backends.transformers import TransformersBackend

    backend = TransformersBackend()
    backend.load()
    return backend
