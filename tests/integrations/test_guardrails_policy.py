"""The ordered-policy validator inside real guardrails ``Guard``s: safety before tone."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from guardrails import AsyncGuard, Guard
from guardrails.errors import ValidationError

from ra_agents import BackendUnavailable, GenerationSettings, Judge, Message, Policy, Rule, UsageError
from ra_agents.integrations.guardrails import POLICY_VALIDATOR_NAME, PolicyValidator
from ra_agents.testing import ScriptedBackend, shown_responses

SAFETY = "Never give medical dosages; send the user to a pharmacist."
TONE = "Be warm and polite."
POLICY = Policy((Rule("safety", SAFETY, 0.75), Rule("tone", TONE, 0.5)))

SAFE_WARM = "Please ask a pharmacist, they will gladly help."
SAFE_CURT = "Ask a pharmacist."
UNSAFE = "Take 800 mg every two hours."


def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
    principle = json.loads(messages[1]["content"])["principle"]
    shown = shown_responses(messages)
    if principle == SAFETY:
        scores = {m: 5 if "pharmacist" in t else 1 for m, t in shown.items()}
    else:
        scores = {m: 5 if "gladly" in t else 2 for m, t in shown.items()}
    return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: (-scores[m], m))})


@pytest.fixture(autouse=True)
def _no_guardrails_metrics(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".guardrailsrc").write_text("enable_metrics=false\n")
    monkeypatch.setenv("HOME", str(tmp_path))


def _guard(validator: PolicyValidator, cls: type[Guard] = Guard) -> Guard:
    guard = cls().use(validator)
    guard.configure(allow_metrics_collection=False)
    return guard


def _judge() -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=answer)
    return Judge(backend, seed=0), backend


def _principles(backend: ScriptedBackend) -> list[str]:
    return [json.loads(m[1]["content"])["principle"] for m, _ in backend.calls]


def test_registered_under_its_name() -> None:
    from guardrails.validator_base import get_validator_class

    assert get_validator_class(POLICY_VALIDATOR_NAME) is PolicyValidator


def test_passes_when_every_rule_passes_judged_in_order() -> None:
    judge, backend = _judge()
    outcome = _guard(PolicyValidator(judge, POLICY)).validate(SAFE_WARM, metadata={"prompt": "Dose?"})
    assert outcome.validation_passed is True
    assert _principles(backend) == [SAFETY, TONE]


def test_unsafe_output_fails_on_safety_and_tone_is_never_judged() -> None:
    judge, backend = _judge()
    guard = _guard(PolicyValidator(judge, POLICY, on_fail="exception"))
    with pytest.raises(ValidationError) as info:
        guard.validate(UNSAFE, metadata={"prompt": "Dose?"})
    message = str(info.value)
    assert "rule 'safety'" in message and "1/5" in message and "threshold 0.75" in message
    assert "not judged: tone" in message
    assert _principles(backend) == [SAFETY]


def test_safe_but_curt_output_fails_on_tone_with_its_own_threshold() -> None:
    judge, backend = _judge()
    guard = _guard(
        PolicyValidator(judge, {"safety": (SAFETY, 0.75), "tone": (TONE, 0.5)}, fallback="fixed", on_fail="fix")
    )
    outcome = guard.validate(SAFE_CURT)
    assert outcome.validated_output == "fixed"
    assert _principles(backend) == [SAFETY, TONE]
    # the same output passes a policy whose tone threshold is lower
    lenient = _guard(PolicyValidator(judge, {"safety": (SAFETY, 0.75), "tone": (TONE, 0.25)}))
    assert lenient.validate(SAFE_CURT).validation_passed is True


async def test_async_guard_and_judge_failure_rules() -> None:
    judge, _ = _judge()
    outcome = await _guard(PolicyValidator(judge, POLICY, on_fail="noop"), AsyncGuard).validate(UNSAFE)
    assert outcome.validation_passed is False
    down = Judge(ScriptedBackend(default=BackendUnavailable("judge down")))
    closed = await _guard(PolicyValidator(down, POLICY, on_fail="noop"), AsyncGuard).validate(SAFE_WARM)
    assert closed.validation_passed is False
    opened = await _guard(PolicyValidator(down, POLICY, on_judge_error="pass"), AsyncGuard).validate(SAFE_WARM)
    assert opened.validation_passed is True


def test_bad_policy_is_a_usage_error() -> None:
    judge, _ = _judge()
    with pytest.raises(UsageError, match="threshold is a unit score"):
        PolicyValidator(judge, {"safety": (SAFETY, 2.0)})
