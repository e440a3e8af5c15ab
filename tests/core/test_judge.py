"""The Judge driven by the scripted backend: masking, retries, permutations, batches, errors.

The scripted backend proves what the judge does with an answer, never that a model
gives it (the real model is exercised in tests/backends/).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ra_agents import (
    BackendError,
    BackendUnavailable,
    Completion,
    GenerationSettings,
    Judge,
    JudgeRequest,
    JudgeResult,
    Message,
    TokenLogprob,
    Usage,
    UsageError,
    VerdictError,
)
from ra_agents._aggregate import aggregate, normalize
from ra_agents._types import PassVerdict
from ra_agents.protocol import masked_names, verdict_schema
from ra_agents.testing import ScriptedBackend, shown_responses

PRINCIPLE = "Correctness first; among correct answers prefer the shortest."
PROMPT = "What is 2 + 2?"


def verdict_text(scores: dict[str, int], ranking: Sequence[str] | None = None) -> str:
    ranking = list(ranking) if ranking is not None else sorted(scores, key=lambda m: -scores[m])
    return json.dumps({"scores": scores, "best-to-worst": ranking})


def by_text(score_of: Callable[[str], int]) -> Callable[..., str]:
    """An answer that scores each shown text with ``score_of`` (content-based, order-blind)."""

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        return verdict_text({m: score_of(t) for m, t in shown.items()})

    return answer


def position_biased(messages: Sequence[Message], settings: GenerationSettings) -> str:
    """A judge that always prefers whatever is shown first."""
    shown = list(shown_responses(messages))
    scores = {m: (5 if i == 0 else 1) for i, m in enumerate(shown)}
    return verdict_text(scores, shown)


def comparable(result: object) -> JudgeResult:
    assert isinstance(result, JudgeResult), result
    return dataclasses.replace(result, latency_s=0.0)


# ------------------------------------------------------------------ masking


async def test_real_names_never_reach_the_backend_and_come_back() -> None:
    responses = {"secret-alpha": "The answer is 4.", "secret-beta": "5", "secret-gamma": "It's four."}
    backend = ScriptedBackend(default=by_text(lambda t: 5 if "4" in t else (3 if "four" in t else 1)))
    result = await Judge(backend, seed=11).ajudge(PRINCIPLE, PROMPT, responses)

    assert len(backend.calls) == 1
    sent = json.dumps(backend.calls[0][0])
    for name in responses:
        assert name not in sent
    shown = shown_responses(backend.calls[0][0])
    assert list(shown) == masked_names(3)
    assert sorted(shown.values()) == sorted(responses.values())

    assert result.names == tuple(responses)
    assert result.scores == {"secret-alpha": 5, "secret-beta": 1, "secret-gamma": 3}
    assert result.ranking == ("secret-alpha", "secret-gamma", "secret-beta")
    assert result.best == "secret-alpha" and result.worst == "secret-beta"
    assert result.normalized == {"secret-alpha": 1.0, "secret-beta": 0.0, "secret-gamma": 0.5}
    assert result.score_list() == [5, 1, 3]
    assert result.agreement is None and result.pairwise_agreement is None
    assert result.retries == 0 and result.ranking_repaired is False
    assert result.usage == Usage(10, 5)
    assert result.model == "scripted"
    (only,) = result.passes
    assert sorted(only.order) == sorted(responses)
    assert [only.order[int(m.split("-")[1]) - 1] for m in shown] == list(only.order)
    assert {only.order[i]: shown[f"model-{i + 1}"] for i in range(3)} == responses


_name = (
    st.integers(1, 40).map(lambda i: f"model-{i}")
    | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10)
    | st.sampled_from(["o'brien", "Zoë", "model-1 ", "Model-2"])
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(1, 12), st.integers(0, 2**32), st.integers(1, 3))
def test_any_names_round_trip_through_the_judge(data, n, seed, k) -> None:
    """Names that look masked, unicode, apostrophes: results land on the right real names."""
    names = data.draw(st.lists(_name, min_size=n, max_size=n, unique=True), label="names")
    intended = {name: data.draw(st.integers(1, 5)) for name in names}
    responses = {name: f"text #{i}: it's {name!r}" for i, name in enumerate(names)}
    score_of_text = {responses[name]: intended[name] for name in names}
    backend = ScriptedBackend(default=by_text(score_of_text.__getitem__))

    result = Judge(backend, seed=seed).judge(PRINCIPLE, PROMPT, responses, permutations=k)

    assert result.names == tuple(names)
    assert {name: float(s) for name, s in result.scores.items()} == {name: float(s) for name, s in intended.items()}
    assert sorted(result.ranking) == sorted(names)  # every candidate exactly once
    assert [intended[r] for r in result.ranking] == sorted(intended.values(), reverse=True)
    assert len(result.passes) == k == len(backend.calls)
    for p in result.passes:
        assert sorted(p.ranking) == sorted(names) and dict(p.scores) == intended


def test_list_responses_are_named_by_index() -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 5 if t == "4" else 2))
    result = Judge(backend, seed=1).judge(PRINCIPLE, PROMPT, ["5", "4", "22"])
    assert result.names == ("0", "1", "2")
    assert result.best == "1"
    assert result.score_list() == [2, 5, 2]


def test_structured_candidates_are_rendered_for_the_judge() -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    call = {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
    Judge(backend, seed=0).judge(PRINCIPLE, PROMPT, {"a": {"x": 1}, "b": call})
    assert sorted(shown_responses(backend.calls[0][0]).values()) == sorted(
        ['{\n  "x": 1\n}', "Tool calls (1):\n-> f({})"]
    )


# -------------------------------------------------------------------- seeds


async def test_seed_reproduces_order_and_different_seeds_differ() -> None:
    names = {f"c{i}": f"text {i}" for i in range(6)}
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    judge = Judge(backend, seed=7)
    first = await judge.ajudge(PRINCIPLE, PROMPT, names)
    again = await judge.ajudge(PRINCIPLE, PROMPT, names)
    assert first.passes[0].order == again.passes[0].order
    assert backend.calls[0][0] == backend.calls[1][0]

    orders = {(await judge.ajudge(PRINCIPLE, PROMPT, names, seed=s)).passes[0].order for s in range(12)}
    assert len(orders) > 6
    # Orders never come from the global generator (which OpenTelemetry's span ids draw on,
    # so its state is not a usable witness here): reseeding it changes nothing seeded,
    # and does not freeze the fresh orders of seed=None.
    random.seed(0)
    seeded_a = (await judge.ajudge(PRINCIPLE, PROMPT, names)).passes[0].order
    random.seed(1)
    seeded_b = (await judge.ajudge(PRINCIPLE, PROMPT, names)).passes[0].order
    assert seeded_a == seeded_b == first.passes[0].order
    fresh = set()
    for _ in range(12):
        random.seed(0)
        fresh.add((await Judge(backend).ajudge(PRINCIPLE, PROMPT, names)).passes[0].order)
    assert len(fresh) > 6


# ------------------------------------------------------------------ retries


async def test_unusable_answer_is_reasked_with_feedback() -> None:
    bad = '{"scores": {"model-1": 5}, "best-to-worst": ["model-1", "model-2"]}'
    backend = ScriptedBackend([bad], default=by_text(lambda t: 4 if t == "4" else 1))
    result = await Judge(backend, seed=3, max_retries=2).ajudge(PRINCIPLE, PROMPT, {"good": "4", "bad": "5"})

    assert len(backend.calls) == 2
    first, _ = backend.calls[0]
    second, settings = backend.calls[1]
    assert second[:2] == first
    assert second[2] == {"role": "assistant", "content": bad}
    assert second[3]["role"] == "user"
    assert "could not be used" in second[3]["content"]
    assert "missing for ['model-2']" in second[3]["content"]
    assert "['model-1', 'model-2']" in second[3]["content"]
    assert "good" not in json.dumps(second) and "bad" not in json.dumps(second[:2])
    assert settings == backend.calls[0][1]

    assert result.best == "good"
    assert result.retries == 1 and result.passes[0].attempts == 2
    assert result.usage == Usage(20, 10)  # both calls counted


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_gives_up_after_max_retries_with_raw_and_attempts(max_retries: int) -> None:
    answers = [f"no verdict here ({i})" for i in range(max_retries + 1)]
    backend = ScriptedBackend(answers)
    judge = Judge(backend, max_retries=max_retries)
    with pytest.raises(VerdictError) as info:
        await judge.ajudge(PRINCIPLE, PROMPT, {"a": "x", "b": "y"})
    err = info.value
    assert len(backend.calls) == max_retries + 1
    assert err.attempts == max_retries + 1
    assert err.raw == answers[-1]
    assert f"after {max_retries + 1} attempt" in str(err)
    assert err.finish_reason == "stop"
    assert "max_tokens" not in str(err)
    # each re-ask carries only the latest bad answer
    for i in range(1, max_retries + 1):
        assert backend.calls[i][0][2]["content"] == answers[i - 1]


async def test_cut_off_answer_says_to_raise_max_tokens() -> None:
    cut = Completion(text="<think>Let me compare model-1 and model-2 caref", finish_reason="length", usage=Usage(9, 40))
    backend = ScriptedBackend([cut, cut])
    with pytest.raises(VerdictError) as info:
        await Judge(backend, max_retries=1, max_tokens=40).ajudge(PRINCIPLE, PROMPT, {"a": "x", "b": "y"})
    err = info.value
    assert err.finish_reason == "length"
    assert "raise max_tokens" in str(err)
    assert "max_tokens=40" in str(err)
    assert err.raw == cut.text
    assert err.attempts == 2


async def test_reasoning_field_and_repair_are_reported() -> None:
    answer = Completion(
        text=verdict_text({"model-1": 2, "model-2": 5}, ["model-1", "model-2"]),
        reasoning="model-2 is right.",
        usage=Usage(3, 4),
        model="served-name",
    )
    backend = ScriptedBackend([answer])
    result = await Judge(backend, seed=0).ajudge(PRINCIPLE, PROMPT, {"a": "x", "b": "y"})
    assert result.ranking_repaired and result.passes[0].repaired
    assert result.scores[result.ranking[0]] == 5
    assert result.reasoning == f"{result.ranking[0]} is right."  # masked names read as real names
    assert result.passes[0].raw.startswith("<think>model-2 is right.</think>")  # the raw answer, for audit
    assert result.model == "served-name"
    assert result.usage == Usage(3, 4)


async def test_backend_error_propagates_unchanged() -> None:
    boom = BackendUnavailable("server down", status=503, body="down")
    with pytest.raises(BackendUnavailable) as info:
        await Judge(ScriptedBackend([boom])).ajudge(PRINCIPLE, PROMPT, {"a": "x"})
    assert info.value is boom


# ------------------------------------------------------------- permutations


async def test_permutations_make_k_calls_over_distinct_orders() -> None:
    responses = {f"c{i}": f"text {i}" for i in range(4)}
    backend = ScriptedBackend(default=by_text(lambda t: int(t[-1]) + 1))
    result = await Judge(backend, seed=5).ajudge(PRINCIPLE, PROMPT, responses, permutations=5)

    assert len(backend.calls) == 5
    shown_orders = [tuple(shown_responses(m).values()) for m, _ in backend.calls]
    assert len(set(shown_orders)) == 5
    assert len({p.order for p in result.passes}) == 5
    # a content-based judge agrees with itself whatever the order
    assert result.agreement == 1.0 and result.pairwise_agreement == 1.0
    assert result.ranking == ("c3", "c2", "c1", "c0")
    assert result.scores == {"c0": 1.0, "c1": 2.0, "c2": 3.0, "c3": 4.0}
    assert result.usage == Usage(50, 25)


async def test_position_biased_judge_is_exposed_by_two_orders() -> None:
    backend = ScriptedBackend(default=position_biased)
    result = await Judge(backend, seed=1).ajudge(PRINCIPLE, PROMPT, {"a": "same", "b": "same too"}, permutations=2)

    first, second = result.passes
    assert {first.order, second.order} == {("a", "b"), ("b", "a")}
    for p in result.passes:
        assert p.ranking == p.order  # it picked by position
    assert second.ranking == tuple(reversed(first.ranking))  # the flip is visible
    assert result.agreement == 0.5
    assert result.pairwise_agreement == 0.0
    assert result.scores == {"a": 3.0, "b": 3.0}
    assert result.ranking == ("a", "b")  # Borda tie, equal means: request order


async def test_position_bias_over_all_orders_of_three() -> None:
    backend = ScriptedBackend(default=position_biased)
    result = await Judge(backend, seed=2).ajudge(PRINCIPLE, PROMPT, {"x": "1", "y": "2", "z": "3"}, permutations=6)
    assert len({p.order for p in result.passes}) == 6
    assert result.agreement == pytest.approx(2 / 6)
    # each candidate pair is ordered one way in 3 of the 6 orders: C(3,2)*2 = 6 of the 15 pass pairs agree
    assert result.pairwise_agreement == pytest.approx(6 / 15)
    assert result.ranking == ("x", "y", "z")  # Borda and means all tie: request order
    assert list(result.scores.values()) == pytest.approx([7 / 3] * 3)


def _pass(order: str, scores: dict[str, int], expected: dict[str, float] | None = None) -> PassVerdict:
    ranking = tuple(sorted(order, key=lambda m: -scores[m]))
    return PassVerdict(order=tuple(order), scores=scores, ranking=ranking, expected_scores=expected)


def test_aggregate_borda_not_mean() -> None:
    # a wins two passes narrowly, c wins one by far: Borda says a, the mean says c
    passes = [
        _pass("acb", {"a": 5, "c": 4, "b": 1}),
        _pass("acb", {"a": 5, "c": 4, "b": 1}),
        _pass("cab", {"c": 5, "a": 1, "b": 1}),
    ]
    scores, ranking, agreement, pairwise, expected = aggregate(["a", "b", "c"], passes)
    assert ranking[0] == "a"
    assert scores["c"] > scores["a"]
    assert scores == {"a": pytest.approx(11 / 3), "b": 1.0, "c": pytest.approx(13 / 3)}
    assert agreement == pytest.approx(2 / 3)
    # pass pairs: (1,2) agree on all 3 pairs, (1,3) and (2,3) on 2 of 3
    assert pairwise == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert expected is None


def test_aggregate_ties_go_to_mean_then_request_order() -> None:
    passes = [_pass("ab", {"a": 5, "b": 4}), _pass("ba", {"b": 5, "a": 1})]
    _, ranking, *_ = aggregate(["a", "b"], passes)
    assert ranking == ("b", "a")  # Borda tie, b has the higher mean
    passes = [_pass("ab", {"a": 5, "b": 1}), _pass("ba", {"b": 5, "a": 1})]
    _, ranking, *_ = aggregate(["b", "a"], passes)
    assert ranking == ("b", "a")  # full tie: request order


def test_aggregate_expected_scores_only_when_every_pass_has_them() -> None:
    passes = [_pass("ab", {"a": 5, "b": 1}, {"a": 4.5, "b": 1.5}), _pass("ba", {"a": 5, "b": 1}, {"a": 3.5, "b": 2.5})]
    *_, expected = aggregate(["a", "b"], passes)
    assert expected == {"a": 4.0, "b": 2.0}
    *_, expected = aggregate(["a", "b"], [passes[0], _pass("ba", {"a": 5, "b": 1})])
    assert expected is None


def test_normalize() -> None:
    assert normalize(1, (1, 5)) == 0.0 and normalize(5, (1, 5)) == 1.0 and normalize(3, (1, 5)) == 0.5
    assert normalize(0, (-2, 2)) == 0.5


async def test_expected_scores_are_unmasked() -> None:
    def with_logprobs(messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        shown = shown_responses(messages)
        assert settings["top_logprobs"] == 5
        m1, m2 = list(shown)
        tokens = [
            TokenLogprob(f'{{"scores": {{"{m1}": ', 0.0),
            TokenLogprob("5", -0.1, {"5": -0.1, "4": -2.4}),
            TokenLogprob(f', "{m2}": ', 0.0),
            TokenLogprob("1", 0.0, {"1": 0.0}),
            TokenLogprob(f'}}, "best-to-worst": ["{m1}", "{m2}"]}}', 0.0),
        ]
        return Completion(text="".join(t.token for t in tokens), logprobs=tokens)

    backend = ScriptedBackend(default=with_logprobs, supports_logprobs=True)
    result = await Judge(backend, seed=4).ajudge(PRINCIPLE, PROMPT, {"a": "x", "b": "y"})
    first = result.passes[0].order[0]
    other = result.passes[0].order[1]
    expected = result.expected_scores
    assert expected is not None
    assert expected[other] == 1.0
    assert 4.0 < expected[first] < 5.0
    # logprobs=False or a backend without them: not asked
    backend2 = ScriptedBackend(default=by_text(lambda t: 3), supports_logprobs=True)
    await Judge(backend2, logprobs=False).ajudge(PRINCIPLE, PROMPT, {"a": "x"})
    assert "top_logprobs" not in backend2.calls[0][1]
    backend3 = ScriptedBackend(default=by_text(lambda t: 3))
    assert (await Judge(backend3).ajudge(PRINCIPLE, PROMPT, {"a": "x"})).expected_scores is None
    assert "top_logprobs" not in backend3.calls[0][1]


# ------------------------------------------------------------ structured output


@pytest.mark.parametrize("supports", [True, False])
async def test_json_schema_is_sent_exactly_when_supported(supports: bool) -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3), supports_json_schema=supports)
    await Judge(backend, seed=0, temperature=0.3).ajudge(
        PRINCIPLE, PROMPT, {"a": "x", "b": "y", "c": "z"}, permutations=2
    )
    for _, sent in backend.calls:
        assert ("json_schema" in sent) is supports
        if supports:
            assert sent["json_schema"] == verdict_schema(masked_names(3), (1, 5))
        assert sent["temperature"] == 0.3
        assert sent["max_tokens"] > 0


async def test_structured_override_and_custom_scale_in_schema() -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 7), supports_json_schema=True)
    result = await Judge(backend, structured=False, scale=(0, 10), max_tokens=99).ajudge(PRINCIPLE, PROMPT, {"a": "x"})
    assert "json_schema" not in backend.calls[0][1]
    assert backend.calls[0][1]["max_tokens"] == 99
    assert "integer from 0 to 10" in backend.calls[0][0][0]["content"]
    assert result.scores == {"a": 7} and result.normalized == {"a": 0.7}


# -------------------------------------------------------------------- batch


class _DelayedBackend(ScriptedBackend):
    """Sleeps per request (by prompt) and tracks concurrency."""

    def __init__(self, delays: dict[str, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delays = delays
        self.in_flight = 0
        self.peak = 0

    async def generate(self, messages, settings):
        prompt = json.loads(messages[1]["content"])["prompt"]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delays.get(prompt, 0.0))
            return await super().generate(messages, settings)
        finally:
            self.in_flight -= 1


async def test_batch_keeps_request_order_when_later_requests_finish_first() -> None:
    delays = {f"q{i}": 0.05 * (4 - i) for i in range(5)}
    backend = _DelayedBackend(delays, default=by_text(lambda t: 4 if t.startswith("good") else 2))
    finished: list[int] = []
    requests = [
        {"principle": PRINCIPLE, "prompt": f"q{i}", "responses": {f"good{i}": f"good {i}", f"meh{i}": f"meh {i}"}}
        for i in range(5)
    ]
    results = await Judge(backend, seed=0).ajudge_batch(requests, on_result=lambda i, r: finished.append(i))

    assert finished == [4, 3, 2, 1, 0]
    assert all(isinstance(r, JudgeResult) for r in results)
    for i, r in enumerate(results):
        assert isinstance(r, JudgeResult)
        assert r.names == (f"good{i}", f"meh{i}")
        assert r.best == f"good{i}"


async def test_batch_respects_concurrency() -> None:
    backend = _DelayedBackend({f"q{i}": 0.02 for i in range(6)}, default=by_text(lambda t: 3))
    requests = [JudgeRequest(principle=PRINCIPLE, prompt=f"q{i}", responses=["a", "b"]) for i in range(6)]
    results = await Judge(backend, concurrency=4).ajudge_batch(requests, concurrency=2)
    assert backend.peak == 2
    assert len(results) == 6 and all(isinstance(r, JudgeResult) for r in results)


async def test_batch_errors_stay_in_place() -> None:
    down = BackendUnavailable("connection refused", status=None)
    content_judge = by_text(lambda t: 5 if t == "4" else 1)

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> Any:
        prompt = json.loads(messages[1]["content"])["prompt"]
        scripted = {"explode": RuntimeError("kaboom"), "down": down, "garbled": "not a verdict"}.get(prompt)
        return scripted or content_judge(messages, settings)

    backend = ScriptedBackend(default=answer)
    ok = {"principle": PRINCIPLE, "prompt": PROMPT, "responses": {"right": "4", "wrong": "5"}}
    requests: list[dict[str, Any]] = [
        ok,
        {"principle": PRINCIPLE, "responses": ["x"]},  # no prompt
        {**ok, "prompt": "explode"},
        ok,
        {**ok, "prompt": "down"},
        {**ok, "responses": {}},  # empty
        {**ok, "prompt": "garbled"},
        {**ok, "principle": "   "},
        {**ok, "surprise": 1},
        ok,
    ]
    results = await Judge(backend, max_retries=1).ajudge_batch(requests)

    assert len(results) == len(requests)
    for i in (0, 3, 9):
        result = results[i]
        assert isinstance(result, JudgeResult) and result.best == "right"
    assert (
        isinstance(results[1], UsageError)
        and "request 1 is malformed" in str(results[1])
        and "prompt" in str(results[1])
    )
    assert isinstance(results[2], BackendError) and "kaboom" in str(results[2])
    assert isinstance(results[2].__cause__, RuntimeError)
    assert results[4] is down
    assert isinstance(results[5], UsageError) and "empty" in str(results[5])
    assert isinstance(results[6], VerdictError) and results[6].raw == "not a verdict" and results[6].attempts == 2
    assert isinstance(results[7], UsageError) and "request 7 is malformed" in str(results[7])
    assert isinstance(results[8], UsageError) and "surprise" in str(results[8])


def test_sync_batch_matches_async_batch() -> None:
    requests = [
        {"principle": PRINCIPLE, "prompt": f"q{i}", "responses": {"a": "4", "b": f"{i}"}, "seed": i} for i in range(4)
    ]
    requests.append({"principle": PRINCIPLE})
    judge = Judge(ScriptedBackend(default=by_text(lambda t: 5 if t == "4" else 2)))
    sync = judge.judge_batch(requests)
    asyn = asyncio.run(judge.ajudge_batch(requests))
    assert [comparable(r) for r in sync[:4]] == [comparable(r) for r in asyn[:4]]
    assert type(sync[4]) is type(asyn[4]) is UsageError and str(sync[4]) == str(asyn[4])


# -------------------------------------------------------------- sync / async


def test_sync_and_async_give_equal_results() -> None:
    responses = {"x": "4", "y": "four", "z": "5"}

    def make() -> Judge:
        return Judge(ScriptedBackend(default=by_text(lambda t: {"4": 5, "four": 4}.get(t, 1))), seed=42)

    sync = make().judge(PRINCIPLE, PROMPT, responses, permutations=3)
    asyn = asyncio.run(make().ajudge(PRINCIPLE, PROMPT, responses, permutations=3))
    assert comparable(sync) == comparable(asyn)
    assert sync.ranking == ("x", "y", "z")
    assert len(sync.passes) == 3


async def test_sync_call_inside_running_loop_names_the_async_method() -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    judge = Judge(backend)
    with pytest.raises(UsageError, match=r"await judge\.ajudge\("):
        judge.judge(PRINCIPLE, PROMPT, {"a": "x"})
    with pytest.raises(UsageError, match=r"await judge\.ajudge_batch\("):
        judge.judge_batch([])
    assert backend.calls == []  # nothing ran


# -------------------------------------------------------------- usage errors


@pytest.mark.parametrize("principle", ["", "   \n", None, 5])
async def test_empty_principle(principle: Any) -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    with pytest.raises(UsageError, match="principle"):
        await Judge(backend).ajudge(principle, PROMPT, {"a": "x"})
    assert backend.calls == []


@pytest.mark.parametrize(
    ("responses", "fragment"),
    [
        ({}, "empty"),
        ([], "empty"),
        ("just a string", "mapping"),
        (None, "mapping"),
        ({1: "x"}, "non-empty strings"),
        ({"a": "x", None: "y"}, "non-empty strings"),
        ({"": "x"}, "non-empty strings"),
        ({f"c{i}": "x" for i in range(4)}, "max_candidates=3"),
    ],
)
async def test_bad_candidates(responses: Any, fragment: str) -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    with pytest.raises(UsageError, match=fragment):
        await Judge(backend, max_candidates=3).ajudge(PRINCIPLE, PROMPT, responses)
    assert backend.calls == []


async def test_default_max_candidates_is_64() -> None:
    backend = ScriptedBackend(default=by_text(lambda t: 3))
    result = await Judge(backend).ajudge(PRINCIPLE, PROMPT, [f"t{i}" for i in range(64)])
    assert len(result.ranking) == 64
    with pytest.raises(UsageError, match="max_candidates=64"):
        await Judge(backend).ajudge(PRINCIPLE, PROMPT, [f"t{i}" for i in range(65)])


async def test_bad_prompt_and_permutations() -> None:
    judge = Judge(ScriptedBackend(default=by_text(lambda t: 3)))
    with pytest.raises(UsageError, match="prompt"):
        await judge.ajudge(PRINCIPLE, None, {"a": "x"})
    with pytest.raises(UsageError, match="permutations"):
        await judge.ajudge(PRINCIPLE, PROMPT, {"a": "x"}, permutations=0)


@pytest.mark.parametrize("scale", [(5, 1), (3, 3), (1.0, 5), ("1", "5"), (1, 5.5)])
def test_bad_scale(scale: Any) -> None:
    with pytest.raises(UsageError, match="scale"):
        Judge(ScriptedBackend(), scale=scale)


@pytest.mark.parametrize("scale", [(1, 2, 3), 5])
def test_bad_scale_shape(scale: Any) -> None:
    with pytest.raises(UsageError, match="scale"):
        Judge(ScriptedBackend(), scale=scale)


@pytest.mark.parametrize("kwargs", [{"permutations": 0}, {"max_retries": -1}, {"concurrency": 0}])
def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=next(iter(kwargs))):
        Judge(ScriptedBackend(), **kwargs)


def test_unit_score_prefers_the_expected_score_and_stays_in_range() -> None:
    from ra_agents import JudgeResult

    result = JudgeResult(
        names=("a", "b", "c"),
        scores={"a": 5, "b": 3, "c": 1},
        ranking=("a", "b", "c"),
        normalized={"a": 1.0, "b": 0.5, "c": 0.0},
        reasoning="",
        passes=(),
        expected_scores={"a": 4.6, "b": 0.2},  # "b" below the scale is clamped; "c" has none
    )
    assert result.unit_score("a") == pytest.approx(0.9)
    assert result.unit_score("b") == 0.0
    assert result.unit_score("c") == 0.0  # falls back to the normalized integer score
    plain = JudgeResult(("a",), {"a": 4}, ("a",), {"a": 0.75}, "", ())
    assert plain.unit_score("a") == 0.75


async def test_reasoning_speaks_in_real_names_per_pass() -> None:
    """Each pass's masked names map back through that pass's own order; raw texts stay masked."""
    names = [f"c{i}" for i in range(11)]  # eleven candidates: model-1 and model-10 both exist

    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        ranking = sorted(shown, key=lambda m: int(shown[m][1:]))  # by the real index in the text
        scores = {m: 5 if i == 0 else 1 for i, m in enumerate(ranking)}
        return (
            "<think>" + " > ".join(ranking) + "; model-10 and model-1 differ.</think>" + verdict_text(scores, ranking)
        )

    result = await Judge(ScriptedBackend(default=answer), seed=3, permutations=2).ajudge(
        PRINCIPLE, PROMPT, {n: n for n in names}
    )
    first, second = result.passes
    assert first.order != second.order
    for one in result.passes:
        real_of = {f"model-{i}": n for i, n in enumerate(one.order, start=1)}
        assert one.reasoning.startswith(" > ".join(names))
        assert one.reasoning.endswith(f"; {real_of['model-10']} and {real_of['model-1']} differ.")
        assert "model-" not in one.reasoning and "model-" in one.raw


async def test_a_real_name_that_looks_masked_is_never_remapped() -> None:
    def answer(messages: Sequence[Message], settings: GenerationSettings) -> str:
        shown = shown_responses(messages)
        best = next(m for m, t in shown.items() if t == "right")
        other = next(m for m in shown if m != best)
        return f"<think>{best} beats {other}.</think>" + verdict_text({best: 5, other: 1}, [best, other])

    for seed in range(4):  # both shuffled orders
        result = await Judge(ScriptedBackend(default=answer), seed=seed).ajudge(
            PRINCIPLE, PROMPT, {"model-2": "right", "model-1": "wrong"}
        )
        assert result.reasoning == "model-2 beats model-1."
