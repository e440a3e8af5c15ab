"""An ordered policy in a compiled LangGraph graph: answer, check safety then tone, route on the verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from ra_agents import BackendUnavailable, GenerationSettings, Judge, Message, Policy, Rule
from ra_agents.integrations.langgraph import GuardPolicy, make_guard_node, make_policy_node
from ra_agents.testing import ScriptedBackend, shown_responses

SAFETY = "Never give medical dosages."
TONE = "Be warm and polite."
POLICY = Policy((Rule("safety", SAFETY, 0.75), Rule("tone", TONE, 0.5)))


def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
    principle = json.loads(messages[1]["content"])["principle"]
    shown = shown_responses(messages)
    if principle == SAFETY:
        scores = {m: 1 if "mg" in t else 5 for m, t in shown.items()}
    else:
        scores = {m: 5 if "please" in t.lower() else 2 for m, t in shown.items()}
    return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: (-scores[m], m))})


class State(TypedDict, total=False):
    prompt: str
    answer: str
    verdict: dict[str, Any]
    attempts: int
    feedback: str
    decision: str
    drafts: list[str]


def build(judge: Judge, drafts: list[str]) -> CompiledStateGraph:
    """Each (re)generation takes the next draft; the guard retries with the judge's feedback."""

    def generate(state: State) -> dict[str, Any]:
        seen = state.get("drafts", [])
        return {"answer": drafts[len(seen)], "drafts": [*seen, state.get("feedback", "")]}

    def fallback(state: State) -> dict[str, Any]:
        return {"answer": "Please ask a pharmacist."}

    guard_policy = GuardPolicy(max_retries=2, escalate=False, retry="generate")
    builder = StateGraph(State)
    builder.add_node("generate", generate)
    builder.add_node("policy", make_policy_node(judge, POLICY))
    builder.add_node("guard", make_guard_node(guard_policy), destinations=guard_policy.destinations)  # type: ignore[arg-type]
    builder.add_node("fallback", fallback)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "policy")
    builder.add_edge("policy", "guard")
    builder.add_edge("fallback", END)
    return builder.compile()


def principles_sent(backend: ScriptedBackend) -> list[str]:
    return [json.loads(m[1]["content"])["principle"] for m, _ in backend.calls]


async def test_policy_routes_unsafe_then_curt_then_accepts():
    backend = ScriptedBackend(default=answer)
    graph = build(Judge(backend, seed=0), ["Take 800 mg.", "Ask a pharmacist.", "Please ask a pharmacist."])
    out = await graph.ainvoke({"prompt": "Dose?"})
    assert out["answer"] == "Please ask a pharmacist."
    assert out["decision"] == "accept"
    # draft 1 fails safety (tone never judged); draft 2 passes safety, fails tone; draft 3 passes both
    assert principles_sent(backend) == [SAFETY, SAFETY, TONE, SAFETY, TONE]
    feedbacks = out["drafts"][1:]
    assert "failed rule 'safety'" in feedbacks[0] and SAFETY in feedbacks[0]
    assert "failed rule 'tone'" in feedbacks[1] and TONE in feedbacks[1]
    assert out["verdict"]["passed"] is True and out["verdict"]["rule_scores"] == {"safety": 1.0, "tone": 1.0}


def test_sync_invoke_and_skipped_rules_in_the_verdict():
    backend = ScriptedBackend(default=answer)
    graph = build(Judge(backend, seed=0), ["Take 800 mg."] * 3)
    out = graph.invoke({"prompt": "Dose?"})
    assert out["decision"] == "fallback"
    assert out["answer"] == "Please ask a pharmacist."
    assert out["verdict"]["failed_rule"] == "safety" and out["verdict"]["skipped"] == ["tone"]
    assert principles_sent(backend) == [SAFETY] * 3


async def test_judge_failure_is_recorded_and_falls_back():
    graph = build(Judge(ScriptedBackend(default=BackendUnavailable("judge down"))), ["Please, 5 mg."])
    out = await graph.ainvoke({"prompt": "Dose?"})
    assert out["decision"] == "fallback"
    assert out["verdict"]["error"] == {"type": "BackendUnavailable", "message": "judge down"}
    assert out["verdict"]["passed"] is False  # on_judge_error="fail_closed", the policy node's default


@pytest.mark.parametrize("missing", ["prompt", "answer"])
async def test_policy_node_names_missing_state(missing):
    node = make_policy_node(Judge(ScriptedBackend(default=answer)), POLICY)
    state = {"prompt": "Dose?", "answer": "x"}
    del state[missing]
    with pytest.raises(Exception, match=f"state\\[{missing!r}\\]|needs state"):
        await node.ainvoke(state)
