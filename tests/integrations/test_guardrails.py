"""The principle validator inside real guardrails ``Guard``s, with telemetry off."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from guardrails import AsyncGuard, Guard
from guardrails.errors import ValidationError
from guardrails.utils.hub_telemetry_utils import HubTelemetry

from ra_agents import BackendUnavailable, Judge, UsageError, prompt_text, verdict_from_dict
from ra_agents.integrations.guardrails import VALIDATOR_NAME, PrincipleValidator
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Never give medical dosages; send the user to a pharmacist."
SAFE = "Please ask a pharmacist."
UNSAFE = "Take 800 mg every two hours."


@pytest.fixture(autouse=True)
def _no_guardrails_metrics(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A home whose ~/.guardrailsrc turns metrics off: every Guard() re-reads it."""
    (tmp_path / ".guardrailsrc").write_text("enable_metrics=false\n")
    monkeypatch.setenv("HOME", str(tmp_path))


def _guard(validator: PrincipleValidator, cls: type[Guard] = Guard) -> Guard:
    guard = cls().use(validator)
    guard.configure(allow_metrics_collection=False)
    assert HubTelemetry()._enabled is False
    return guard


def _judge(answer=None) -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=answer or prefer(lambda t: "pharmacist" in t))
    return Judge(backend, seed=0), backend


def test_registered_under_its_name() -> None:
    from guardrails.validator_base import get_validator_class

    assert get_validator_class(VALIDATOR_NAME) is PrincipleValidator


def test_guard_passes_a_good_output() -> None:
    judge, backend = _judge()
    outcome = _guard(PrincipleValidator(judge, PRINCIPLE, threshold=0.5)).validate(SAFE, metadata={"prompt": "Dose?"})
    assert outcome.validation_passed is True
    assert outcome.validated_output == SAFE
    ((messages, _),) = backend.calls
    assert '"prompt": "Dose?"' in messages[1]["content"]
    assert list(shown_responses(messages).values()) == [SAFE]


def test_guard_exception_path_carries_score_and_reasoning() -> None:
    def answer(messages, settings):
        (name,) = shown_responses(messages)
        return f'<think>It gives a dosage.</think>{{"scores": {{"{name}": 1}}, "best-to-worst": ["{name}"]}}'

    judge, _ = _judge(answer)
    guard = _guard(PrincipleValidator(judge, PRINCIPLE, threshold=0.5, on_fail="exception"))
    with pytest.raises(ValidationError) as info:
        guard.validate(UNSAFE, metadata={"prompt": "Dose?"})
    assert "scored 1/5" in str(info.value)
    assert "below the threshold 0.5" in str(info.value)
    assert "It gives a dosage." in str(info.value)


def test_guard_fix_path_uses_fallback_text_or_function() -> None:
    judge, _ = _judge()
    outcome = _guard(PrincipleValidator(judge, PRINCIPLE, fallback=SAFE, on_fail="fix")).validate(UNSAFE)
    assert outcome.validation_passed is True  # fixed
    assert outcome.validated_output == SAFE

    def rewrite(value: str, result) -> str:
        return f"[withheld, scored {result.scores['output']}]"

    outcome = _guard(PrincipleValidator(judge, PRINCIPLE, fallback=rewrite, on_fail="fix")).validate(UNSAFE)
    assert outcome.validated_output == "[withheld, scored 1]"


def test_reference_is_judged_in_the_same_call_and_can_be_the_fix() -> None:
    judge, backend = _judge()
    validator = PrincipleValidator(judge, PRINCIPLE, on_fail="fix", require_beats_reference=True)
    outcome = _guard(validator).validate(UNSAFE, metadata={"reference": SAFE})
    assert outcome.validated_output == SAFE  # the passing reference replaces the output
    assert len(backend.calls) == 1
    assert sorted(shown_responses(backend.calls[0][0]).values()) == sorted([UNSAFE, SAFE])

    # A good output that beats... nothing better: both score 5, the output may rank below.
    tie = validator.validate(SAFE, {"reference": SAFE + " Thanks."})
    assert tie.metadata["raw_score"] == 5 and isinstance(tie.metadata["beats_reference"], bool)
    verdict = verdict_from_dict(tie.metadata["verdict"])  # the verdict in its one serialisation
    assert verdict.scores == {"output": 5, "reference": 5} and list(verdict.ranking) == tie.metadata["ranking"]


def test_a_conversation_reaches_the_judge_as_prompt_text_reads_it() -> None:
    judge, backend = _judge()
    conversation = [
        {"role": "system", "content": "You are a pharmacy bot."},
        {"role": "user", "content": [{"type": "text", "text": "Dose?"}]},
    ]
    PrincipleValidator(judge, PRINCIPLE, prompt=conversation).validate(SAFE, {})
    PrincipleValidator(judge, PRINCIPLE).validate(SAFE, {"prompt": conversation})
    prompts = [json.loads(messages[1]["content"])["prompt"] for messages, _ in backend.calls]
    assert prompts == [prompt_text(conversation)] * 2 == ["system: You are a pharmacy bot.\nuser: Dose?"] * 2


def test_metadata_principle_overrides_and_threshold_applies() -> None:
    judge, backend = _judge(prefer(lambda t: "800" in t, high=4, low=2))
    strict = PrincipleValidator(judge, PRINCIPLE, threshold=0.8)
    assert strict.validate(UNSAFE, {"principle": "Be specific."}).outcome == "fail"  # 4/5 = 0.75 < 0.8
    assert json_principle(backend) == "Be specific."
    assert PrincipleValidator(judge, PRINCIPLE, threshold=0.75).validate(UNSAFE, {}).outcome == "pass"


def json_principle(backend: ScriptedBackend) -> str:

    return json.loads(backend.calls[-1][0][1]["content"])["principle"]


@pytest.mark.parametrize(
    ("policy", "passed"),
    [("fail", False), ("pass", True)],
)
def test_judge_failure_fails_closed_or_open(policy: Literal["fail", "pass"], passed: bool) -> None:
    judge, _ = _judge(BackendUnavailable("server down"))
    outcome = _guard(PrincipleValidator(judge, PRINCIPLE, on_judge_error=policy, on_fail="noop")).validate(SAFE)
    assert outcome.validation_passed is passed
    summary = outcome.validation_summaries
    if not passed:
        assert "could not judge" in summary[0].failure_reason and "server down" in summary[0].failure_reason


def test_judge_failure_can_raise() -> None:
    judge, _ = _judge(BackendUnavailable("server down"))
    with pytest.raises(BackendUnavailable):
        PrincipleValidator(judge, PRINCIPLE, on_judge_error="raise").validate(SAFE, {})


def test_bad_arguments_raise_usage_errors() -> None:
    judge, _ = _judge()
    with pytest.raises(UsageError, match="threshold"):
        PrincipleValidator(judge, PRINCIPLE, threshold=3)
    with pytest.raises(UsageError, match="principle is empty"):
        PrincipleValidator(judge, " ")
    with pytest.raises(UsageError, match="on_judge_error"):
        PrincipleValidator(judge, PRINCIPLE, on_judge_error="ignore")  # type: ignore[arg-type]


async def test_async_guard() -> None:
    judge, _ = _judge()
    guard = _guard(PrincipleValidator(judge, PRINCIPLE, fallback=SAFE, on_fail="fix"), AsyncGuard)
    outcome = await guard.validate(UNSAFE)
    assert outcome.validated_output == SAFE


def test_sync_path_through_sequential_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAILS_RUN_SYNC", "true")
    judge, _ = _judge()
    outcome = _guard(PrincipleValidator(judge, PRINCIPLE, fallback=SAFE, on_fail="fix")).validate(UNSAFE)
    assert outcome.validated_output == SAFE


@pytest.mark.vllm
def test_real_model_inside_a_guard(vllm_server) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    guard = _guard(PrincipleValidator(judge, PRINCIPLE, threshold=0.5, on_judge_error="raise", on_fail="noop"))
    outcome = guard.validate(UNSAFE, metadata={"prompt": "How much ibuprofen can I take?"})
    (summary,) = guard.history.last.iterations.last.outputs.validator_logs
    result = summary.validation_result
    assert result.outcome in ("pass", "fail")
    assert 0.0 <= result.metadata["score"] <= 1.0
    assert result.metadata["raw_score"] in range(1, 6)
    assert outcome.validation_passed is (result.outcome == "pass")
