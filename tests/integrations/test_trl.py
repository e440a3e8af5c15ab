"""GRPO group rewards in TRL's reward-function shape (trl itself is not needed)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math

import pytest

from ra_agents import BackendUnavailable, Completion, Judge, TokenLogprob, UsageError, prompt_text
from ra_agents.integrations.trl import agrpo_reward, agrpo_rewards, grpo_reward, grpo_rewards
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Correct first, then short."


def _judge(answer=None, **kwargs) -> tuple[Judge, ScriptedBackend]:
    backend = ScriptedBackend(default=answer or prefer(lambda t: "4" in t))
    return Judge(backend, seed=0, **kwargs), backend


def _sent(backend: ScriptedBackend) -> list[tuple[str, list[str]]]:
    """(prompt, candidate texts) of every judge call, sorted for order-free comparison."""
    out = []
    for messages, _ in backend.calls:
        body = json.loads(messages[1]["content"])
        out.append((body["prompt"], sorted(shown_responses(messages).values())))
    return sorted(out)


def _judged(rewards: list[float | None]) -> list[float]:
    """The rewards, every one of them judged (none the ``None`` fallback)."""
    assert None not in rewards, rewards
    return [r for r in rewards if r is not None]


def test_one_listwise_call_per_group_and_rewards_in_input_order() -> None:
    judge, backend = _judge()
    reward = grpo_reward(judge, PRINCIPLE)
    prompts = ["2+2?"] * 3 + ["3+1?"] * 3
    completions = ["5", "4", "22", "4", "three", "4!"]

    rewards = reward(prompts=prompts, completions=completions, completion_ids=[[1]] * 6, trainer_state=None)

    assert rewards == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert _sent(backend) == [("2+2?", ["22", "4", "5"]), ("3+1?", ["4", "4!", "three"])]
    assert reward.__name__ == "ra_principle"
    assert (reward.stats.calls, reward.stats.groups, reward.stats.failed_groups) == (1, 2, 0)


def test_conversational_prompts_and_completions() -> None:
    judge, backend = _judge()
    reward = grpo_reward(judge, PRINCIPLE, name="judge")
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    completions = [
        [{"role": "assistant", "content": "4"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "five"}]}],
        [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "calc", "arguments": '{"x": "2+2"}'}}],
            }
        ],
    ]
    rewards = reward(prompts=[prompt] * 3, completions=completions)
    assert rewards[:2] == [1.0, 0.0]
    ((sent_prompt, texts),) = _sent(backend)
    assert sent_prompt == prompt_text(prompt) == "system: Be brief.\nuser: 2+2?"
    assert "five" in texts and "4" in texts
    assert any("calc" in t for t in texts)  # the tool call is rendered for the judge
    assert reward.__name__ == "judge"


def test_num_generations_splits_repeated_prompts() -> None:
    judge, backend = _judge()
    reward = grpo_reward(judge, PRINCIPLE, num_generations=2)
    rewards = reward(prompts=["2+2?"] * 4, completions=["4", "5", "6", "4"])
    assert rewards == [1.0, 0.0, 0.0, 1.0]
    assert len(backend.calls) == 2


def test_a_failed_group_gets_the_fallback_and_spares_the_others(caplog: pytest.LogCaptureFixture) -> None:
    def answer(messages, settings):
        if json.loads(messages[1]["content"])["prompt"] == "bad":
            return "I refuse to give a verdict."
        return prefer(lambda t: "4" in t)(messages, settings)

    judge, _ = _judge(answer, max_retries=1)
    prompts = ["2+2?", "2+2?", "bad", "bad", "3+1?", "3+1?"]
    completions = ["4", "5", "x", "y", "0", "4"]
    with caplog.at_level(logging.WARNING, logger="ra_agents.integrations.trl"):
        rewards = grpo_reward(judge, PRINCIPLE)(prompts=prompts, completions=completions)
        zeroed = grpo_reward(judge, PRINCIPLE, fallback=0.0)
        assert zeroed(prompts=prompts, completions=completions) == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert rewards == [1.0, 0.0, None, None, 0.0, 1.0]
    assert zeroed.stats.failed_groups == 1
    assert zeroed.stats.last_error is not None and "VerdictError" in zeroed.stats.last_error
    assert "(items 2-3) got the fallback None" in caplog.text


def test_backend_failure_is_isolated_too() -> None:
    calls = iter([BackendUnavailable("down"), None])

    def answer(messages, settings):
        failure = next(calls)
        if failure is not None:
            raise failure
        return prefer(lambda t: "4" in t)(messages, settings)

    judge, _ = _judge(answer, concurrency=1)  # one at a time: the first group meets the outage
    rewards = grpo_reward(judge, PRINCIPLE)(prompts=["a", "a", "b", "b"], completions=["1", "2", "4", "5"])
    assert rewards == [None, None, 1.0, 0.0]


def test_principle_column_and_raw_scores() -> None:
    judge, backend = _judge(prefer(lambda t: "4" in t, high=4, low=2))
    reward = grpo_reward(judge, PRINCIPLE, principle_column="rule", score="raw")
    rewards = reward(
        prompts=["q", "q", "q", "q"], completions=["4", "5", "4", "5"], rule=["Be kind.", "Be kind.", "", ""]
    )
    assert rewards == [4.0, 2.0, 4.0, 2.0]
    principles = sorted(json.loads(m[1]["content"])["principle"] for m, _ in backend.calls)
    assert principles == sorted([PRINCIPLE, "Be kind."])  # a new principle starts a new group


def test_expected_scores_give_continuous_rewards() -> None:
    def answer(messages, settings):
        a, b = shown_responses(messages)
        head = f'{{"scores": {{"{a}": '
        middle = f', "{b}": '
        tail = f'}}, "best-to-worst": ["{a}", "{b}"]}}'
        tokens = [
            TokenLogprob(head, 0.0),
            TokenLogprob("5", -0.1, {"5": -0.1, "4": -2.4}),
            TokenLogprob(middle, 0.0),
            TokenLogprob("1", -0.1, {"1": -0.1, "2": -2.4}),
            TokenLogprob(tail, 0.0),
        ]
        return Completion(text=f"{head}5{middle}1{tail}", logprobs=tokens)

    judge = Judge(ScriptedBackend(default=answer, supports_logprobs=True), seed=0)
    auto = _judged(grpo_reward(judge, PRINCIPLE)(prompts=["q", "q"], completions=["x", "y"]))
    plain = _judged(grpo_reward(judge, PRINCIPLE, score="normalized")(prompts=["q", "q"], completions=["x", "y"]))
    assert sorted(plain) == [0.0, 1.0]
    assert all(0.0 < r < 1.0 for r in auto)  # between the integer scores
    assert sorted(auto)[0] < 0.1 and sorted(auto)[1] > 0.9


def test_bad_arguments_raise() -> None:
    judge, _ = _judge(max_candidates=2)
    with pytest.raises(UsageError, match="principle is empty"):
        grpo_reward(judge, "")
    with pytest.raises(UsageError, match="num_generations"):
        grpo_reward(judge, PRINCIPLE, num_generations=0)
    with pytest.raises(UsageError, match="score"):
        grpo_reward(judge, PRINCIPLE, score="best")  # type: ignore[arg-type]
    reward = grpo_reward(judge, PRINCIPLE)
    with pytest.raises(UsageError, match="pair up"):
        reward(prompts=["q"], completions=["a", "b"])
    with pytest.raises(UsageError, match="max_candidates"):
        reward(prompts=["q"] * 3, completions=["a", "b", "c"])
    with pytest.raises(UsageError, match="not among the columns"):
        grpo_reward(judge, PRINCIPLE, principle_column="rule")(prompts=["q"], completions=["a"], task=["x"])


def test_async_form_matches_sync() -> None:
    prompts, completions = ["2+2?"] * 3, ["5", "4", "22"]
    sync = grpo_reward(_judge()[0], PRINCIPLE)(prompts=prompts, completions=completions)
    areward = agrpo_reward(_judge()[0], PRINCIPLE)
    assert inspect.iscoroutinefunction(areward)  # what TRL checks to run it on its async loop
    assert asyncio.run(areward(prompts=prompts, completions=completions)) == sync
    assert areward.stats.groups == 1


def test_sync_form_inside_a_running_loop_says_what_to_do() -> None:
    reward = grpo_reward(_judge()[0], PRINCIPLE)

    async def inside() -> None:
        reward(prompts=["q"], completions=["a"])

    with pytest.raises(UsageError, match="running event loop"):
        asyncio.run(inside())


@pytest.mark.vllm
def test_real_model_rewards_two_groups(vllm_server) -> None:
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    reward = grpo_reward(judge, PRINCIPLE)
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2 + ["Capital of France?"] * 2
    completions = [[{"role": "assistant", "content": "4"}], [{"role": "assistant", "content": "5"}], "Paris.", "Lyon."]
    rewards = reward(prompts=prompts, completions=completions)
    assert len(rewards) == 4
    assert reward.stats.groups == 2
    # A weak stand-in model may fail a group; that group then gets None, never a wrong shape.
    for pair in (rewards[:2], rewards[2:]):
        assert all(r is None for r in pair) or all(isinstance(r, float) and 0.0 <= r <= 1.0 for r in pair)
    assert reward.stats.failed_groups == sum(r is None for r in rewards) // 2
    assert reward.stats.failed_groups < 2, reward.stats.errors
    assert not any(isinstance(r, float) and math.isnan(r) for r in rewards)


def test_one_reward_function_per_principle_for_trl_reward_weights() -> None:
    correct, short = "Correct first.", "Shorter is better."

    def answer(messages, settings):
        principle = json.loads(messages[1]["content"])["principle"]
        shown = shown_responses(messages)
        if principle == correct:
            scores = {m: 5 if "4" in t else 1 for m, t in shown.items()}
        else:
            scores = {m: 5 if len(t) <= 1 else 1 for m, t in shown.items()}
        return json.dumps({"scores": scores, "best-to-worst": sorted(shown, key=lambda m: (-scores[m], m))})

    judge, backend = _judge(answer)
    funcs = grpo_rewards(judge, {"correct": correct, "short": short})
    assert [f.__name__ for f in funcs] == ["ra_correct", "ra_short"]  # TRL logs rewards/<name>
    prompts, completions = ["2+2?"] * 3, ["4", "it is 4", "5"]
    # As GRPOTrainer does: call every function with the batch, then weigh with reward_weights and nansum.
    per_func = [_judged(f(prompts=prompts, completions=completions, completion_ids=[[1]] * 3)) for f in funcs]
    assert per_func == [[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    weights = [2.0, 1.0]
    totals = [math.fsum(w * r[i] for w, r in zip(weights, per_func, strict=True)) for i in range(3)]
    assert totals == [3.0, 2.0, 1.0]
    assert len(backend.calls) == 2  # one listwise call per principle for the group

    afuncs = agrpo_rewards(judge, {"correct": correct, "short": short}, name="p_")
    assert [f.__name__ for f in afuncs] == ["p_correct", "p_short"]
    assert [_judged(asyncio.run(f(prompts=prompts, completions=completions))) for f in afuncs] == per_func
    with pytest.raises(UsageError, match="no principles"):
        grpo_rewards(judge, {})
