"""Contract drivers for the gates and rewards: the guardrails validators, the LiteLLM proxy
guardrail, the TRL rewards and Ray Data.

Each runs its host's real entry point: a guardrails ``AsyncGuard``, the proxy guardrail's
post-call hook with a response and request shaped as the LiteLLM proxy passes them, TRL's
reward-function call with conversational prompts and completions.

Ray Data: the drivers run :func:`ra_agents.integrations.ray.ajudge_table`, the function each
actor of ``judge_dataset`` runs on its batch, on an Arrow table in this process. A local Ray
cluster takes ~10 s to start and a judge is built inside each actor (from a function, as a
judge instance is never sent to the actors), so the given judge cannot be handed to
``judge_dataset`` itself; ``tests/integrations/test_ray.py`` runs ``judge_dataset`` on a real
cluster with a local judge and with the HTTP client of a real ``ra-agents serve``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ra_agents import Judging
from ra_agents.acceptance import check_on_judge_error
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver

# ------------------------------------------------------------------ guardrails


def _guard(validator: Any) -> Any:
    from guardrails import AsyncGuard

    guard = AsyncGuard().use(validator)
    guard.configure(allow_metrics_collection=False)  # no usage telemetry to guardrails' endpoint
    return guard


def _validator_log(guard: Any) -> Any:
    (log,) = guard.history.last.iterations.last.outputs.validator_logs
    return log.validation_result


async def _validator_prompt(judge: Judging) -> None:
    from ra_agents.integrations.guardrails import PrincipleValidator

    guard = _guard(PrincipleValidator(judge, PRINCIPLE, on_fail="noop"))
    await guard.validate(GOOD, metadata={"prompt": CONVERSATION, "reference": BAD})


async def _validator_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    from ra_agents.integrations.guardrails import PrincipleValidator

    validator = PrincipleValidator(
        judge,
        PRINCIPLE,
        threshold=threshold,
        prompt=CONVERSATION,
        on_judge_error=check_on_judge_error(on_judge_error),
        on_fail="noop",
    )
    outcome = await _guard(validator).validate(GOOD)
    return bool(outcome.validation_passed)


async def _validator_remote(judge: Judging) -> Any:
    from ra_agents.integrations.guardrails import PrincipleValidator

    guard = _guard(PrincipleValidator(judge, PRINCIPLE, threshold=0.75, fallback=GOOD, on_fail="fix"))
    outcome = await guard.validate(BAD, metadata={"prompt": CONVERSATION, "reference": GOOD})
    result = _validator_log(guard)
    keys = ("score", "raw_score", "ranking", "beats_reference", "reference_score")
    return {
        "outcome": result.outcome,
        "output": outcome.validated_output,
        "metadata": {k: result.metadata[k] for k in keys},
    }


def _policy(threshold: float = 0.5) -> Any:
    from ra_agents import Policy, Rule

    return Policy((Rule("main", PRINCIPLE, threshold),))


async def _policy_prompt(judge: Judging) -> None:
    from ra_agents.integrations.guardrails import PolicyValidator

    guard = _guard(PolicyValidator(judge, _policy(), on_fail="noop"))
    await guard.validate(GOOD, metadata={"prompt": CONVERSATION, "reference": BAD})


async def _policy_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    from ra_agents.integrations.guardrails import PolicyValidator

    validator = PolicyValidator(
        judge,
        _policy(threshold),
        prompt=CONVERSATION,
        on_judge_error=check_on_judge_error(on_judge_error),
        on_fail="noop",
    )
    outcome = await _guard(validator).validate(GOOD)
    return bool(outcome.validation_passed)


async def _policy_remote(judge: Judging) -> Any:
    from ra_agents.integrations.guardrails import PolicyValidator

    guard = _guard(PolicyValidator(judge, _policy(0.75), fallback=GOOD, on_fail="fix"))
    outcome = await guard.validate(BAD, metadata={"prompt": CONVERSATION, "reference": GOOD})
    return {"output": outcome.validated_output, "metadata": _validator_log(guard).metadata}


# ------------------------------------------------------ the LiteLLM proxy guardrail


def _proxy_guardrail(judge: Judging, **settings: Any) -> Any:
    from ra_agents.integrations.litellm_guardrail import PrincipleGuardrail

    return PrincipleGuardrail(
        judge=judge, principle=PRINCIPLE, guardrail_name="ra-contract", event_hook="post_call", **settings
    )


async def _post_call(guardrail: Any, *texts: str) -> Any:
    """The hook as the proxy calls it: the request body (its messages) and the model's response."""
    from litellm.types.utils import Choices, Message, ModelResponse

    response = ModelResponse(
        model="assistant",
        choices=[
            Choices(index=i, message=Message(role="assistant", content=t), finish_reason="stop")
            for i, t in enumerate(texts)
        ],
    )
    data = {"model": "assistant", "messages": json.loads(json.dumps(CONVERSATION))}
    return await guardrail.async_post_call_success_hook(data=data, user_api_key_dict=None, response=response)


async def _proxy_prompt(judge: Judging) -> None:
    await _post_call(_proxy_guardrail(judge, on_fail="log"), GOOD, BAD)


async def _proxy_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    from fastapi import HTTPException

    guardrail = _proxy_guardrail(judge, threshold=threshold, on_fail="block", on_judge_error=on_judge_error)
    try:
        await _post_call(guardrail, GOOD)
    except HTTPException as exc:  # 400: blocked; 503: withheld, the judge failed closed
        if exc.status_code not in (400, 503):
            raise
        return False
    return True


async def _proxy_remote(judge: Judging) -> Any:
    out = await _post_call(_proxy_guardrail(judge, threshold=0.75, on_fail="block"), BAD, GOOD)
    headers = dict(out._hidden_params["additional_headers"])
    return {"choices": [c.message.content for c in out.choices], "headers": headers}


# ------------------------------------------------------------------------ TRL

_PROMPTS = [CONVERSATION, CONVERSATION]
_COMPLETIONS = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]]


async def _reward_prompt(judge: Judging) -> None:
    from ra_agents.integrations.trl import grpo_reward

    reward = grpo_reward(judge, PRINCIPLE)
    await asyncio.to_thread(reward, prompts=_PROMPTS, completions=_COMPLETIONS)  # TRL calls it from sync code


async def _reward_remote(judge: Judging) -> Any:
    from ra_agents.integrations.trl import grpo_reward

    reward = grpo_reward(judge, PRINCIPLE)
    values = await asyncio.to_thread(reward, prompts=_PROMPTS * 2, completions=[*_COMPLETIONS, *_COMPLETIONS[::-1]])
    return {"rewards": values, "groups": reward.stats.groups, "failed": reward.stats.failed_groups}


async def _multi_reward_prompt(judge: Judging) -> None:
    from ra_agents.integrations.trl import agrpo_rewards

    for reward in agrpo_rewards(judge, {"main": PRINCIPLE}):
        await reward(prompts=_PROMPTS, completions=_COMPLETIONS)


async def _multi_reward_remote(judge: Judging) -> Any:
    from ra_agents.integrations.trl import agrpo_rewards

    rewards = agrpo_rewards(judge, {"a": PRINCIPLE, "b": PRINCIPLE}, score="raw")
    return {r.__name__: await r(prompts=_PROMPTS, completions=_COMPLETIONS) for r in rewards}


# --------------------------------------------------------------------- Ray Data


async def _ray_table(judge: Judging, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    import pyarrow as pa  # type: ignore[import-untyped]

    from ra_agents.integrations.ray import ajudge_table

    rows = [{"id": i, "request": json.dumps(r)} for i, r in enumerate(requests)]
    out = await ajudge_table(judge, pa.Table.from_pylist(rows))
    return list(out.to_pylist())


async def _ray_prompt(judge: Judging) -> None:
    [row] = await _ray_table(judge, {"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": [GOOD, BAD]})
    assert row["ok"], row


async def _ray_remote(judge: Judging) -> Any:
    from ra_agents.integrations.ray import row_error, row_verdict

    rows = await _ray_table(
        judge,
        {"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": {"bad": BAD, "good": GOOD}},
        {"principle": PRINCIPLE, "prompt": CONVERSATION, "responses": []},
    )
    out: list[Any] = []
    for row in rows:
        verdict = row_verdict(row)
        if verdict is None:
            out.append(type(row_error(row)).__name__)
        else:
            out.append([row["names"], row["unit_scores"], row["best"], dict(verdict.scores), list(verdict.ranking)])
    return out


DRIVERS = [
    Driver("guardrails.validator", prompt=_validator_prompt, decide=_validator_decide, remote=_validator_remote),
    Driver("guardrails.policy_validator", prompt=_policy_prompt, decide=_policy_decide, remote=_policy_remote),
    Driver("litellm.guardrail", prompt=_proxy_prompt, decide=_proxy_decide, remote=_proxy_remote),
    Driver("trl.reward", prompt=_reward_prompt, remote=_reward_remote),
    Driver("trl.multi_reward", prompt=_multi_reward_prompt, remote=_multi_reward_remote),
    Driver("ray.judge_dataset", prompt=_ray_prompt, remote=_ray_remote),
]
