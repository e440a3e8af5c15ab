"""Trace continuity across the wire: the real vLLM server's spans join the judge's trace.

The session's vLLM server (``tests/conftest.py``) exports its spans over OTLP/HTTP to an
in-process receiver; a judge call through the LiteLLM backend sends ``traceparent``,
and vLLM's request span must come back carrying the judge span's trace id and parent.
"""

from __future__ import annotations

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OTLPSpan

from ra_agents import Judge

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."
PROMPT = "What is 2 + 2?"


@pytest.mark.vllm
async def test_vllm_request_span_continues_the_judge_trace(vllm_server, otlp_receiver, spans) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base, seed=0, logprobs=False)
    result = await judge.ajudge(PRINCIPLE, PROMPT, {"right": "4", "wrong": "5"})

    ours = spans.get_finished_spans()
    (judge_span,) = ours  # LiteLLM adds no span of its own: the header carries the judge span
    trace_id = format(judge_span.context.trace_id, "032x")
    calls = 1 + result.retries  # one generation request per attempt, each one vLLM request span

    def served(span) -> bool:
        return span.kind == OTLPSpan.SPAN_KIND_SERVER

    received = otlp_receiver.wait_for(trace_id, where=served, count=calls, timeout=60)
    assert received, (
        f"no vLLM span of trace {trace_id} reached {otlp_receiver.endpoint} within 60 s "
        f"({len(otlp_receiver.spans())} spans of other traces arrived)"
    )
    requests = [s for s in received if served(s)]
    for span in requests:
        print(f"vLLM span {span.name!r} (service {span.resource.get('service.name')!r}) in trace {span.trace_id}")
    assert len(requests) == calls
    request = requests[-1]
    assert request.name == "llm_request"
    assert request.trace_id == trace_id
    assert request.parent_span_id in {format(s.context.span_id, "016x") for s in ours}
    assert request.parent_span_id == format(judge_span.context.span_id, "016x")
    assert request.resource["service.name"] == "vllm"
    # the same request as the judge's: vLLM counted the tokens the judge was billed
    assert sum(s.attributes["gen_ai.usage.prompt_tokens"] for s in requests) == result.usage.prompt_tokens
    assert sum(s.attributes["gen_ai.usage.completion_tokens"] for s in requests) == result.usage.completion_tokens
    # and the verdict's evaluation events sit on the span vLLM's request hangs from
    assert [e.attributes["ra_agents.candidate"] for e in judge_span.events] == list(result.ranking)
