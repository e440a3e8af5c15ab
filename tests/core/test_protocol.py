"""Property tests of the listwise protocol: masking, rendering, parsing, schema, orders.

Every test here is pure: no backend, no event loop, no network.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from datetime import datetime
from itertools import permutations
from math import factorial
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ra_agents import TokenLogprob, UsageError, VerdictError
from ra_agents.protocol import (
    RANKING_KEY,
    check_candidates,
    distinct_orders,
    expected_scores,
    feedback_message,
    masked_names,
    parse_verdict,
    render_candidate,
    render_messages,
    request_orders,
    verdict_schema,
)

SCALES = [(1, 5), (0, 10), (-2, 2), (1, 100), (0, 1)]
SLOW = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Free text around a verdict: anything that cannot open a JSON object, a think tag or a fence.
_around_text = st.text(
    st.characters(exclude_characters="{<`", exclude_categories=["Cs"]),
    max_size=40,
)
# Texts of candidates and names: unicode, quotes, apostrophes, backslashes, braces, tags.
_texty = st.text(st.characters(exclude_categories=["Cs"]), max_size=30) | st.sampled_from(
    ["It's 4.", 'He said "no".', "l'été", '{"scores": {}}', "</think>", "```json", "\\n", "模型-1", "😀"]
)
_real_name = (
    st.integers(1, 80).map(lambda i: f"model-{i}")
    | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
    | st.sampled_from(["o'brien", "Zoë", "model-1 ", "MODEL-2", "model_3", "0", "ранг"])
)


# ----------------------------------------------------------------- helpers


@st.composite
def valid_verdicts(draw: Any, max_n: int = 64) -> tuple[list[str], tuple[int, int], dict[str, int], list[str]]:
    """(masked names, scale, scores, a ranking consistent with the scores)."""
    n = draw(st.integers(1, max_n))
    scale = draw(st.sampled_from(SCALES))
    names = masked_names(n)
    scores = {m: draw(st.integers(*scale)) for m in names}
    shuffled = draw(st.permutations(names))  # random tie order among equal scores
    ranking = sorted(shuffled, key=lambda m: -scores[m])
    return names, scale, scores, ranking


@st.composite
def json_style(draw: Any) -> dict[str, Any]:
    return {
        "indent": draw(st.sampled_from([None, 0, 2, 4])),
        "scores_first": draw(st.booleans()),
        "key_order_seed": draw(st.integers(0, 2**16)),
        "compact": draw(st.booleans()),
    }


def dump_verdict(scores: dict[str, Any], ranking: Any, style: dict[str, Any] | None = None) -> str:
    style = style or {"indent": None, "scores_first": True, "key_order_seed": 0, "compact": False}
    keys = list(scores)
    random.Random(style["key_order_seed"]).shuffle(keys)
    shuffled_scores = {k: scores[k] for k in keys}
    obj = (
        {"scores": shuffled_scores, RANKING_KEY: ranking}
        if style["scores_first"]
        else {RANKING_KEY: ranking, "scores": shuffled_scores}
    )
    separators = (",", ":") if style["compact"] else None
    return json.dumps(obj, indent=style["indent"], separators=separators, ensure_ascii=False)


def wrap(body: str, how: str, before: str, after: str) -> tuple[str, str | None]:
    """Dress a JSON verdict the way models do; return (text, separate reasoning field)."""
    if how == "plain":
        return body, None
    if how == "think":
        return f"<think>{before}</think>\n{body}", None
    if how == "THINK":
        return f"<THINK>\n{before}\n</THINK>{body}", None
    if how == "lone_close":
        return f"{before}</think>\n\n{body}", None
    if how == "fence":
        return f"{before}\n```json\n{body}\n```\n{after}", None
    if how == "bare_fence":
        return f"```\n{body}\n```", None
    if how == "trailing":
        return f"{body}\n\n{after}", None
    if how == "field":
        return body, before
    if how == "think_and_field":
        return f"<think>{after}</think>{body}", before
    raise AssertionError(how)


WRAPS = ["plain", "think", "THINK", "lone_close", "fence", "bare_fence", "trailing", "field", "think_and_field"]


def _lower_keeps_length(text: str) -> bool:
    return len(text.lower()) == len(text)


# -------------------------------------------------------------- masking


@given(st.integers(0, 200))
def test_masked_names(n: int) -> None:
    names = masked_names(n)
    assert names == [f"model-{i}" for i in range(1, n + 1)]
    assert len(set(names)) == n


# ------------------------------------------------------- valid round trip


@SLOW
@given(valid_verdicts(), json_style(), st.sampled_from(WRAPS), _around_text, _around_text)
def test_any_valid_verdict_parses_exactly(verdict, style, how, before, after) -> None:
    names, scale, scores, ranking = verdict
    if how == "lone_close":
        assume(_lower_keeps_length(before))  # see test_lone_close_think_with_unicode_reasoning
    text, reasoning = wrap(dump_verdict(scores, ranking, style), how, before, after)

    parsed = parse_verdict(text, names, reasoning=reasoning, scale=scale)

    assert parsed.scores == scores
    assert all(type(v) is int for v in parsed.scores.values())
    assert parsed.ranking == ranking
    assert parsed.repaired is False
    if how in ("think", "THINK", "lone_close", "field") and before.strip():
        assert before.strip() in parsed.reasoning
    if how == "think_and_field":
        if before.strip():
            assert before.strip() in parsed.reasoning
        if after.strip():
            assert after.strip() in parsed.reasoning
    if how == "trailing" and after.strip():
        assert after.strip() in parsed.reasoning
    if how == "plain":
        assert parsed.reasoning == ""


@SLOW
@given(
    data=st.data(),
    n=st.integers(1, 64),
    scale=st.sampled_from(SCALES),
    principle=_texty,
    prompt=_texty,
    seed=st.integers(0, 2**32),
    how=st.sampled_from(WRAPS),
)
def test_round_trip_through_masking_to_real_names(data, n, scale, principle, prompt, seed, how) -> None:
    """Render -> (a model reads the shown texts) -> parse -> unmask gives the intended verdict."""
    real = data.draw(st.lists(_real_name, min_size=n, max_size=n, unique=True), label="real names")
    texts = data.draw(st.lists(_texty, min_size=n, max_size=n, unique=True), label="texts")
    intended = {r: data.draw(st.integers(*scale)) for r in real}
    text_of = dict(zip(real, texts, strict=False))

    order = distinct_orders(real, 1, random.Random(seed))[0]
    assert sorted(order) == sorted(real)
    masked = masked_names(n)
    real_of = dict(zip(masked, order, strict=False))
    messages = render_messages(principle, prompt, {m: text_of[real_of[m]] for m in masked}, scale=scale)

    assert [m["role"] for m in messages] == ["system", "user"]
    shown = json.loads(messages[1]["content"])
    assert shown["principle"] == principle and shown["prompt"] == prompt
    assert list(shown["responses"]) == masked  # shown in masked order, model-1 first
    assert f"integer from {scale[0]} to {scale[1]}" in messages[0]["content"]

    # The "model": scores each shown text by what it reads, ranks consistently.
    score_of_text = {text_of[r]: intended[r] for r in real}
    masked_scores = {m: score_of_text[t] for m, t in shown["responses"].items()}
    tie_order = data.draw(st.permutations(masked), label="tie order")
    ranking = sorted(tie_order, key=lambda m: -masked_scores[m])
    answer, reasoning = wrap(dump_verdict(masked_scores, ranking), how, "I compared them.", "Done.")

    verdict = parse_verdict(answer, masked, reasoning=reasoning, scale=scale)
    unmasked_scores = {real_of[m]: s for m, s in verdict.scores.items()}
    unmasked_ranking = [real_of[m] for m in verdict.ranking]

    assert unmasked_scores == intended
    assert sorted(unmasked_ranking) == sorted(real)  # every candidate exactly once
    assert [intended[r] for r in unmasked_ranking] == sorted(intended.values(), reverse=True)


def test_render_messages_custom_system_prompt_and_braces() -> None:
    messages = render_messages(
        "Keep {low} braces {rubric}",
        "p",
        {"model-1": "a"},
        system_prompt='Score {low}..{high}.\n{rubric}\nAnswer {{"scores": {{}}}}',
        scale=(0, 3),
    )
    system = messages[0]["content"]
    assert system.startswith("Score 0..3.")
    assert '{"scores": {}}' in system
    assert "3: follows the principle perfectly" in system and "0: poor" in system
    # user content is data, never a template
    assert json.loads(messages[1]["content"])["principle"] == "Keep {low} braces {rubric}"


def test_default_system_prompt_is_fully_filled() -> None:
    system = render_messages("p", "q", {"model-1": "a"})[0]["content"]
    for placeholder in ("{low}", "{high}", "{rubric}", "{{", "}}"):
        assert placeholder not in system
    assert "5: follows the principle perfectly" in system
    assert '{"scores": {"model-1": <score>, ...}, "best-to-worst": ["model-...", ...]}' in system


# --------------------------------------------------------- ranking repair


@SLOW
@given(valid_verdicts(max_n=20), st.data())
def test_inconsistent_ranking_is_repaired_by_stable_sort(verdict, data) -> None:
    names, scale, scores, _ = verdict
    model_ranking = data.draw(st.permutations(names), label="model ranking")
    text = dump_verdict(scores, model_ranking)

    parsed = parse_verdict(text, names, scale=scale)

    expected = sorted(model_ranking, key=lambda m: -scores[m])  # Python's sort is stable
    assert parsed.ranking == expected
    assert parsed.repaired == (expected != list(model_ranking))
    assert parsed.scores == scores
    # among equal scores the model's own order survives
    for a, b in zip(parsed.ranking, parsed.ranking[1:], strict=False):
        if scores[a] == scores[b]:
            assert model_ranking.index(a) < model_ranking.index(b)


def test_repair_example() -> None:
    names = masked_names(4)
    text = dump_verdict(
        {"model-1": 3, "model-2": 5, "model-3": 3, "model-4": 1},
        ["model-3", "model-4", "model-1", "model-2"],
    )
    parsed = parse_verdict(text, names)
    assert parsed.ranking == ["model-2", "model-3", "model-1", "model-4"]
    assert parsed.repaired is True


# ------------------------------------------------------------- garbage


_BAD_SCORE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not (math.isfinite(f) and f.is_integer())),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.lists(st.integers(1, 5), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from(["5", "4/5", "five"]),
)


@st.composite
def garbage(draw: Any) -> tuple[str, list[str], tuple[int, int], str]:
    """A text that is not a usable verdict over the names, built by one mutation of a valid one."""
    names, scale, scores, ranking = draw(valid_verdicts(max_n=12))
    low, high = scale
    n = len(names)
    scores = dict(scores)
    ranking = list(ranking)
    obj: dict[str, Any] = {"scores": scores, RANKING_KEY: ranking}
    kind = draw(
        st.sampled_from(
            [
                "random_text",
                "truncated",
                "missing_score",
                "extra_score",
                "bad_score",
                "out_of_scale",
                "score_float_out_of_scale",
                "ranking_missing_one",
                "ranking_duplicate",
                "ranking_extra",
                "ranking_unknown_swap",
                "ranking_not_list",
                "ranking_non_str",
                "no_ranking",
                "no_scores",
                "scores_not_object",
                "duplicate_score_key",
                "duplicate_top_key",
                "not_json",
                "in_think_only",
            ]
        )
    )
    pick = draw(st.sampled_from(names))
    text: str | None = None
    if kind == "random_text":
        text = draw(st.text(max_size=200))
    elif kind == "truncated":
        full = dump_verdict(scores, ranking, draw(json_style()))
        text = full[: draw(st.integers(0, len(full) - 1))]
    elif kind == "missing_score":
        del scores[pick]
    elif kind == "extra_score":
        extra = draw(st.sampled_from([f"model-{n + 1}", "model-0", "Model-1", "model-01", "winner"]))
        scores[extra] = low
    elif kind == "bad_score":
        scores[pick] = draw(_BAD_SCORE)
    elif kind == "out_of_scale":
        scores[pick] = draw(st.integers(max_value=low - 1) | st.integers(min_value=high + 1))
    elif kind == "score_float_out_of_scale":
        scores[pick] = float(draw(st.sampled_from([low - 1, high + 1])))
    elif kind == "ranking_missing_one":
        ranking.remove(pick)
    elif kind == "ranking_duplicate":
        ranking.append(pick)
    elif kind == "ranking_extra":
        ranking.append(f"model-{n + 1}")
    elif kind == "ranking_unknown_swap":
        ranking[ranking.index(pick)] = draw(st.sampled_from(["model-0", f"model-{n + 1}", pick.upper(), " " + pick]))
    elif kind == "ranking_not_list":
        obj[RANKING_KEY] = draw(st.sampled_from([" ".join(ranking), {m: i for i, m in enumerate(ranking)}, 1, None]))
    elif kind == "ranking_non_str":
        ranking[ranking.index(pick)] = int(pick.split("-")[1])
    elif kind == "no_ranking":
        del obj[RANKING_KEY]
    elif kind == "no_scores":
        del obj["scores"]
        obj["score"] = scores
    elif kind == "scores_not_object":
        obj["scores"] = draw(st.sampled_from([list(scores.values()), list(scores.items()), "5", None]))
    elif kind == "duplicate_score_key":
        body = ", ".join(f'"{m}": {s}' for m, s in scores.items())
        dup_value = draw(st.sampled_from([scores[pick], low, high]))
        text = f'{{"scores": {{{body}, "{pick}": {dup_value}}}, "{RANKING_KEY}": {json.dumps(ranking)}}}'
    elif kind == "duplicate_top_key":
        key = draw(st.sampled_from(["scores", RANKING_KEY]))
        again = json.dumps(obj[key])
        text = dump_verdict(scores, ranking)[:-1] + f', "{key}": {again}}}'
    elif kind == "not_json":
        text = dump_verdict(scores, ranking).replace('"', "'")  # Python-dict style quotes
    elif kind == "in_think_only":
        text = f"<think>{dump_verdict(scores, ranking)}</think>I have answered above."
    if text is None:
        text = json.dumps(obj, ensure_ascii=False)
    return text, names, scale, kind


@SLOW
@given(garbage(), st.sampled_from([None, "", "some reasoning"]))
def test_garbage_always_raises_with_raw(case, reasoning) -> None:
    text, names, scale, _ = case
    with pytest.raises(VerdictError) as info:
        parse_verdict(text, names, reasoning=reasoning, scale=scale)
    err = info.value
    assert str(err).startswith("unusable verdict:")
    assert err.raw == (f"<think>{reasoning}</think>{text}" if reasoning else text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"scores": {"model-1": 5, "model-1": 4}, "best-to-worst": ["model-1"]}', "twice"),
        ('{"scores": {"model-1": 5}, "best-to-worst": ["model-1", "model-1"]}', "more than once"),
        ('{"scores": {"model-1": 5}}', "ranking is missing"),
        ('{"scores": {"model-1": 6}, "best-to-worst": ["model-1"]}', "outside the scale"),
        ('{"scores": {"model-1": true}, "best-to-worst": ["model-1"]}', "not an integer"),
        ('{"scores": {"model-1": 4.5}, "best-to-worst": ["model-1"]}', "not an integer"),
        ('{"scores": {"model-1": "5"}, "best-to-worst": ["model-1"]}', "not an integer"),
        ('{"scores": {"model-1": 5, "model-2": 1}, "best-to-worst": ["model-1"]}', "unknown"),
        ('{"scores": {}, "best-to-worst": ["model-1"]}', "missing"),
        ("", "no JSON object"),
    ],
)
def test_error_messages_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(VerdictError, match=fragment) as info:
        parse_verdict(text, ["model-1"])
    assert info.value.raw == text


@pytest.mark.parametrize("text", [None, b'{"scores": {"model-1": 5}, "best-to-worst": ["model-1"]}', 5, ["x"]])
def test_non_text_answer_raises_verdict_error(text: Any) -> None:
    with pytest.raises(VerdictError):
        parse_verdict(text, ["model-1"])


def test_deeply_nested_garbage_raises_verdict_error_not_recursion() -> None:
    text = '{"scores": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with pytest.raises(VerdictError) as info:
        parse_verdict(text, ["model-1"])
    assert info.value.raw == text


def test_integral_float_scores_are_accepted_as_ints() -> None:
    parsed = parse_verdict(
        '{"scores": {"model-1": 5.0, "model-2": 1}, "best-to-worst": ["model-1", "model-2"]}', masked_names(2)
    )
    assert parsed.scores == {"model-1": 5, "model-2": 1}
    assert type(parsed.scores["model-1"]) is int


# ------------------------------------------- which object is the verdict


_V12 = dump_verdict({"model-1": 5, "model-2": 1}, ["model-1", "model-2"])
_V21 = dump_verdict({"model-1": 1, "model-2": 5}, ["model-2", "model-1"])


def test_last_verdict_wins_and_drafts_are_reasoning() -> None:
    parsed = parse_verdict(f"Draft: {_V12}\nA note {{not json}}; on reflection the final one: {_V21}", masked_names(2))
    assert parsed.ranking == ["model-2", "model-1"]
    assert parsed.scores == {"model-1": 1, "model-2": 5}
    assert "Draft:" in parsed.reasoning and '"model-1": 5' in parsed.reasoning  # the draft is kept as text


@pytest.mark.parametrize(
    "template",
    [
        '{"scores": {}, "best-to-worst": []}',
        '{"scores": {"model-1": null, "model-2": null}, "best-to-worst": []}',
        '{"scores": {"model-1": "<score>", "model-2": "<score>"}, "best-to-worst": ["...", "..."]}',
        '{"scores": "<scores>"}',
    ],
)
def test_format_example_with_placeholders_is_skipped_before_or_after(template: str) -> None:
    names = masked_names(2)
    assert parse_verdict(f"The format is {template}. My verdict: {_V21}", names).ranking == ["model-2", "model-1"]
    assert parse_verdict(f"{_V21}\n(answer format: {template})", names).ranking == ["model-2", "model-1"]


def test_only_a_format_example_is_rejected_with_what_is_wrong() -> None:
    with pytest.raises(VerdictError, match="missing"):
        parse_verdict('Format: {"scores": {}, "best-to-worst": []}', masked_names(2))


def test_unusable_final_verdict_is_not_replaced_by_an_earlier_draft() -> None:
    final = '{"scores": {"model-1": 1, "model-2": 5}, "best-to-worst": ["model-2"]}'
    with pytest.raises(VerdictError, match="permutation"):
        parse_verdict(f"Draft: {_V12}. Final: {final}", masked_names(2))


def test_unrelated_object_with_a_repeated_key_before_the_verdict() -> None:
    text = 'I note {"a": 1, "a": 2}. {"scores": {"model-1": 5, "model-2": 1}, "best-to-worst": ["model-1", "model-2"]}'
    parsed = parse_verdict(text, masked_names(2))
    assert parsed.scores == {"model-1": 5, "model-2": 1}
    assert '{"a": 1, "a": 2}' in parsed.reasoning


@pytest.mark.parametrize(
    "text",
    [
        '{"scores": {"model-1": 5, "model-2": 1}, "best-to-worst": ["model-1", "model-2"], "best-to-worst": []}',
        '{"scores": {"model-1": 5, "model-2": 1, "model-2": 4}, "best-to-worst": ["model-1", "model-2"]}',
    ],
)
def test_repeated_key_inside_the_verdict_is_still_an_error(text: str) -> None:
    with pytest.raises(VerdictError, match="twice"):
        parse_verdict(text, masked_names(2))


def test_verdicts_inside_every_think_block_are_reasoning() -> None:
    text = f'<think>first {_V12}</think>{{"note": 1}}<think>second {_V12}</think>\n{_V21}'
    parsed = parse_verdict(text, masked_names(2))
    assert parsed.ranking == ["model-2", "model-1"]
    assert "first" in parsed.reasoning and "second" in parsed.reasoning


def test_a_verdict_only_in_a_later_think_block_is_not_an_answer() -> None:
    with pytest.raises(VerdictError, match="no JSON object"):
        parse_verdict(f"<think>a</think>Let me think again.<think>{_V12}</think>", masked_names(2))


def test_verdict_nested_in_a_wrapper_object_and_other_keys_first() -> None:
    names = masked_names(2)
    wrapped = (
        '{"verdict": {"best-to-worst": ["model-2", "model-1"], "meta": {"x": "{"}, '
        '"scores": {"model-1": 2, "model-2": 4}}}'
    )
    assert parse_verdict(wrapped, names).scores == {"model-1": 2, "model-2": 4}


def test_fenced_verdict_leaves_no_empty_fence_in_the_reasoning() -> None:
    parsed = parse_verdict(f"Because B is right.\n```json\n{_V21}\n```\nDone.", masked_names(2))
    assert parsed.reasoning == "Because B is right.\nDone."


# ------------------------------------------------- degenerate answers, fuzzed

# Fragments a model stuck in a repetition loop produces, and ones that stress the search.
_DEGENERATE = [
    "{",
    "}",
    "[",
    '"',
    "\\",
    '"{"',
    "{{}",
    '{"a":',
    '{"a": {"a": ',
    '"scores":',
    '{"scores": {',
    '{"scores": ',
    '{"scores": {"model-1": 5',
    '{"a": 1, "a": 2}',
    "<think>",
    "</think>",
    "<think>x",
    "```",
    "```json\n{",
    ": [",
    '{"best-to-worst": [',
    "model-1",
    " ",
    "\n",
    "İ",
    '{"scores": {}}',
]


@st.composite
def degenerate_text(draw: Any, max_bytes: int = 1 << 16) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(_DEGENERATE), st.integers(1, 4096)), min_size=1, max_size=4))
    text = "".join(fragment * count for fragment, count in parts)
    return text[:max_bytes]


@SLOW
@given(degenerate_text(), st.sampled_from([None, "field reasoning"]))
def test_degenerate_answers_are_a_valid_verdict_or_verdict_error(text: str, reasoning: str | None) -> None:
    names = masked_names(2)
    outcome: Any
    try:
        outcome = parse_verdict(text, names, reasoning=reasoning)
    except VerdictError as err:
        outcome = err
    if isinstance(outcome, VerdictError):
        assert outcome.raw == (f"<think>{reasoning}</think>{text}" if reasoning else text)
    else:  # only a complete, valid verdict may come back
        assert set(outcome.scores) == set(names) and sorted(outcome.ranking) == names


@SLOW
@given(degenerate_text(), degenerate_text(max_bytes=4096), valid_verdicts(max_n=8), json_style())
def test_a_verdict_after_degenerate_text_is_found(garbage: str, between: str, verdict, style) -> None:
    """Garbage before the final verdict, and a draft plus garbage before that, never hide it."""
    names, scale, scores, ranking = verdict
    final = dump_verdict(scores, ranking, style)
    draft = dump_verdict(dict.fromkeys(names, scale[0]), list(reversed(names)))
    for text in (garbage + final, draft + between + garbage + "\n" + final):
        parsed = parse_verdict(text, names, scale=scale)
        assert parsed.scores == scores
        assert parsed.ranking == ranking


_MIB = 1 << 20
_MIB_SHAPES = {
    "open braces": "{" * _MIB,
    "quoted braces": '"{"' * (_MIB // 3),
    "nested objects": '{"a": ' * (_MIB // 6),
    "scores keys": '{"scores": {"model-1": 5, ' * (_MIB // 26),
    "unclosed think": "<think>" * (_MIB // 7),
    "repeated key objects": '{"a": 1, "a": 2}' * (_MIB // 16),
}


@pytest.mark.parametrize("shape", sorted(_MIB_SHAPES))
def test_a_mebibyte_of_any_shape_is_parsed_in_bounded_time(shape: str) -> None:
    """A generous bound (the benchmark shows milliseconds; the old parser took minutes)."""
    text = _MIB_SHAPES[shape] + _V21
    started = time.process_time()
    try:
        parsed = parse_verdict(text, masked_names(8))
    except VerdictError:
        pass
    else:
        assert sorted(parsed.ranking) == masked_names(8)
    assert time.process_time() - started < 5.0
    # with the right names the trailing verdict is found whatever precedes it
    assert parse_verdict(text, masked_names(2)).ranking == ["model-2", "model-1"]


def test_lone_close_think_with_unicode_reasoning() -> None:
    body = dump_verdict({"model-1": 4, "model-2": 2}, ["model-1", "model-2"])
    parsed = parse_verdict(f"İstanbul İzmir</think>{body}", masked_names(2))
    assert parsed.scores == {"model-1": 4, "model-2": 2}
    assert parsed.reasoning == "İstanbul İzmir"


# ---------------------------------------------------------------- schema


@given(st.integers(1, 64), st.sampled_from(SCALES))
def test_verdict_schema_shape(n: int, scale: tuple[int, int]) -> None:
    names = masked_names(n)
    schema = verdict_schema(names, scale)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == sorted(["scores", RANKING_KEY])
    scores = schema["properties"]["scores"]
    assert scores["additionalProperties"] is False
    assert scores["required"] == names
    assert set(scores["properties"]) == set(names)
    for prop in scores["properties"].values():
        assert prop == {"type": "integer", "minimum": scale[0], "maximum": scale[1]}
    ranking = schema["properties"][RANKING_KEY]
    assert ranking["type"] == "array"
    assert ranking["minItems"] == ranking["maxItems"] == n
    assert ranking["items"] == {"type": "string", "enum": names}
    json.dumps(schema)  # serialisable as sent to a server


jsonschema = pytest.importorskip("jsonschema")


@SLOW
@given(valid_verdicts(max_n=16))
def test_valid_verdicts_validate_against_schema(verdict) -> None:
    names, scale, scores, ranking = verdict
    schema = verdict_schema(names, scale)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors({"scores": scores, RANKING_KEY: ranking})) == []


@SLOW
@given(garbage())
def test_schema_rejects_what_parser_rejects_except_duplicates(case) -> None:
    text, names, scale, kind = case
    if kind in ("duplicate_score_key", "duplicate_top_key"):
        return  # a JSON parser keeps the last duplicate key: only the verdict parser can see these
    try:
        obj = json.loads(text)
    except ValueError:
        return  # not JSON at all: nothing for a schema to say
    if not isinstance(obj, dict):
        return
    errors = list(jsonschema.Draft202012Validator(verdict_schema(names, scale)).iter_errors(obj))
    if isinstance(obj.get("scores"), dict) and any(
        isinstance(v, float) and v.is_integer() and scale[0] <= v <= scale[1] for v in obj["scores"].values()
    ):
        pass  # an integral float is an integer to JSON Schema, as to the parser
    else:
        assert errors, f"schema admitted {text!r}"


def test_schema_rejects_examples() -> None:
    names = masked_names(3)
    validator = jsonschema.Draft202012Validator(verdict_schema(names))
    good: dict[str, Any] = {
        "scores": {"model-1": 5, "model-2": 3, "model-3": 1},
        RANKING_KEY: ["model-1", "model-2", "model-3"],
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "extra": 1})
    assert not validator.is_valid({**good, "scores": {**good["scores"], "model-4": 2}})
    assert not validator.is_valid({**good, "scores": {"model-1": 5, "model-2": 3}})
    assert not validator.is_valid({**good, "scores": {**good["scores"], "model-1": 6}})
    assert not validator.is_valid({**good, "scores": {**good["scores"], "model-1": 2.5}})
    assert not validator.is_valid({**good, RANKING_KEY: ["model-1", "model-2"]})
    assert not validator.is_valid({**good, RANKING_KEY: ["model-1", "model-2", "model-3", "model-1"]})
    assert not validator.is_valid({**good, RANKING_KEY: ["model-1", "model-2", "model-9"]})
    assert not validator.is_valid({"scores": good["scores"]})
    # documented: uniqueness is left to the parser (not every grammar engine enforces it)
    assert validator.is_valid({**good, RANKING_KEY: ["model-1", "model-1", "model-3"]})


# -------------------------------------------------------- distinct orders


@given(st.integers(1, 7), st.integers(1, 60), st.integers(0, 2**32))
def test_distinct_orders_small_n(n: int, k: int, seed: int) -> None:
    names = [f"c{i}" for i in range(n)]
    state = random.getstate()
    orders = distinct_orders(names, k, random.Random(seed))
    assert random.getstate() == state
    assert len(orders) == k
    for order in orders:
        assert sorted(order) == sorted(names)
    if n >= 2 and k <= factorial(n):
        assert len({tuple(o) for o in orders}) == k
    if n >= 2 and k >= factorial(n):
        assert len({tuple(o) for o in orders}) == factorial(n)  # every order is used
    assert orders == distinct_orders(names, k, random.Random(seed))


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 64), st.integers(1, 40), st.integers(0, 2**32))
def test_distinct_orders_large_n(n: int, k: int, seed: int) -> None:
    names = [f"c{i}" for i in range(n)]
    state = random.getstate()
    orders = distinct_orders(names, k, random.Random(seed))
    assert random.getstate() == state
    assert len({tuple(o) for o in orders}) == k
    assert all(sorted(o) == sorted(names) for o in orders)
    assert orders == distinct_orders(names, k, random.Random(seed))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(1, 12), st.integers(0, 2**32))
def test_request_orders_are_the_seeded_distinct_orders(n: int, k: int, seed: int) -> None:
    """The cached positions give exactly the orders a fresh ``Random(seed)`` gives, for any names."""
    names = [f"name {i}" for i in reversed(range(n))]
    assert request_orders(names, k, seed) == distinct_orders(names, k, random.Random(seed))
    assert request_orders(names, k, seed) == request_orders(names, k, seed)  # served from the cache


def test_unseeded_request_orders_vary_and_keep_every_name() -> None:
    names = [f"c{i}" for i in range(6)]
    seen = {tuple(request_orders(names, 1, None)[0]) for _ in range(40)}
    assert len(seen) > 1 and all(sorted(order) == names for order in seen)


def test_distinct_orders_two_candidates_two_passes_are_both_orders() -> None:
    for seed in range(20):
        orders = distinct_orders(["a", "b"], 2, random.Random(seed))
        assert sorted(map(tuple, orders)) == [("a", "b"), ("b", "a")]


def test_distinct_orders_single_candidate_and_seeds_differ() -> None:
    assert distinct_orders(["only"], 3, random.Random(0)) == [["only"]] * 3
    names = [f"c{i}" for i in range(6)]
    firsts = {tuple(distinct_orders(names, 1, random.Random(s))[0]) for s in range(20)}
    assert len(firsts) > 10


def test_distinct_orders_covers_all_permutations_uniformly_enough() -> None:
    names = ["a", "b", "c"]
    seen = {tuple(distinct_orders(names, 1, random.Random(s))[0]) for s in range(200)}
    assert seen == set(permutations(names))


# -------------------------------------------------------- render_candidate


class Answer(BaseModel):
    text: str
    confidence: float
    tags: list[str] = []


@dataclasses.dataclass
class Step:
    tool: str
    args: dict[str, Any]


def test_render_string_passes_through() -> None:
    assert render_candidate('It\'s "fine" ✓\n') == 'It\'s "fine" ✓\n'


def test_render_dict_pydantic_dataclass_as_json() -> None:
    d = {"answer": "l'été", "n": [1, 2]}
    assert json.loads(render_candidate(d)) == d
    assert "l'été" in render_candidate(d)  # not ascii-escaped
    assert "\n  " in render_candidate(d)  # indented

    m = Answer(text="4", confidence=0.9, tags=["math"])
    assert json.loads(render_candidate(m)) == {"text": "4", "confidence": 0.9, "tags": ["math"]}

    s = Step(tool="search", args={"q": "x"})
    assert json.loads(render_candidate(s)) == {"tool": "search", "args": {"q": "x"}}

    assert json.loads(render_candidate([1, "two", None])) == [1, "two", None]


def test_render_unserialisable_falls_back_to_text() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert render_candidate(loop) == str(loop)
    assert json.loads(render_candidate({"when": datetime(2024, 1, 2)})) == {"when": "2024-01-02 00:00:00"}


def test_render_langchain_ai_message_with_tool_calls() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    msg = messages.AIMessage(
        content="Let me look that up.",
        tool_calls=[
            {"name": "search", "args": {"query": "weather Paris", "k": 3}, "id": "call_1"},
            {"name": "calc", "args": {}, "id": "call_2"},
        ],
    )
    assert render_candidate(msg) == (
        'Let me look that up.\nTool calls (2):\n-> search({"k": 3, "query": "weather Paris"})\n-> calc({})'
    )
    assert render_candidate(messages.AIMessage(content="Just text.")) == "Just text."
    # list-of-blocks content is kept, as JSON
    blocks = messages.AIMessage(content=[{"type": "text", "text": "hi"}])
    assert '"hi"' in render_candidate(blocks)


def test_render_openai_shaped_message() -> None:
    msg = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'}},
            {"id": "c2", "type": "function", "function": {"name": "raw", "arguments": "not json"}},
        ],
    }
    assert render_candidate(msg) == ('Tool calls (2):\n-> get_weather({"city": "Zürich"})\n-> raw("not json")')


def test_render_tool_calls_as_objects() -> None:
    call = SimpleNamespace(name="lookup", args={"id": 7})
    msg = SimpleNamespace(content="  text  ", tool_calls=[call])
    assert render_candidate(msg) == 'text\nTool calls (1):\n-> lookup({"id": 7})'
    empty = SimpleNamespace(content="", tool_calls=None)
    assert render_candidate(empty) == ""


# ---------------------------------------------------------------- check_candidates


def test_check_candidates() -> None:
    assert check_candidates({"b": "x", "a": 1}, max_candidates=5, render=str) == (["b", "a"], ["x", "1"])
    with pytest.raises(UsageError, match=r"responses\['a'\] is 1 \(int\)"):  # the default render reads no numbers
        check_candidates({"b": "x", "a": 1}, max_candidates=5, render=render_candidate)
    assert check_candidates(["x", "y"], max_candidates=5, render=render_candidate) == (["0", "1"], ["x", "y"])
    bad: Any
    for bad in ({}, [], "text", b"bytes", 5, None):
        with pytest.raises(UsageError):
            check_candidates(bad, max_candidates=5, render=render_candidate)
    with pytest.raises(UsageError, match="max_candidates=2"):
        check_candidates(["a", "b", "c"], max_candidates=2, render=render_candidate)
    with pytest.raises(UsageError, match="non-empty strings"):
        check_candidates({1: "a"}, max_candidates=5, render=render_candidate)
    with pytest.raises(UsageError, match="non-empty strings"):
        check_candidates({"": "a"}, max_candidates=5, render=render_candidate)


def test_feedback_message_names_the_error_and_the_names() -> None:
    msg = feedback_message(VerdictError("unusable verdict: the ranking is missing"), masked_names(2))
    assert msg["role"] == "user"
    assert "the ranking is missing" in msg["content"]
    assert "['model-1', 'model-2']" in msg["content"]
    assert RANKING_KEY in msg["content"]


# ---------------------------------------------------------------- expected scores


def _tokens_for(scores: dict[str, int], dists: dict[str, dict[str, float]], split_seed: int = 0) -> list[TokenLogprob]:
    """A token stream for a verdict, split at random places, each score digit its own token."""
    rng = random.Random(split_seed)
    out: list[TokenLogprob] = []

    def text_tokens(text: str) -> None:
        i = 0
        while i < len(text):
            j = min(len(text), i + rng.randint(1, 4))
            out.append(TokenLogprob(text[i:j], -0.01, {}))
            i = j

    text_tokens('{"scores": {')
    for idx, (name, score) in enumerate(scores.items()):
        text_tokens(("" if idx == 0 else ", ") + f'"{name}":' + rng.choice(["", " "]))
        top = {str(d): math.log(p) for d, p in dists[name].items()}
        top["\n"] = math.log(0.001)  # non-digit alternatives are ignored
        out.append(TokenLogprob(str(score), top.get(str(score), math.log(1e-6)), top))
    text_tokens('}, "best-to-worst": [' + ", ".join(f'"{m}"' for m in scores) + "]}")
    return out


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 9), st.integers(0, 2**16), st.data())
def test_expected_scores_weight_the_digit_alternatives(n: int, seed: int, data) -> None:
    names = masked_names(n)
    scores = {m: data.draw(st.integers(1, 5)) for m in names}
    dists: dict[str, dict[str, float]] = {}
    for m in names:
        weights = data.draw(st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5))
        total = sum(weights)
        dists[m] = {str(d): w / total for d, w in zip(range(1, 6), weights, strict=False)}
    tokens = _tokens_for(scores, dists, seed)
    assert parse_verdict("".join(t.token for t in tokens), names).scores == scores  # the stream is a verdict

    got = expected_scores(tokens, names, (1, 5))

    assert got is not None and set(got) == set(names)
    for m in names:
        want = sum(int(d) * p for d, p in dists[m].items())
        assert got[m] == pytest.approx(want, rel=1e-9)
        assert 1.0 <= got[m] <= 5.0


def test_expected_scores_renormalises_over_the_scale() -> None:
    top = {"4": math.log(0.6), "5": math.log(0.2), "9": math.log(0.1), "x": math.log(0.1)}
    tokens = [
        TokenLogprob('{"scores": {"model-1": ', -0.1),
        TokenLogprob("4", math.log(0.6), top),
        TokenLogprob("}}", 0.0),
    ]
    got = expected_scores(tokens, ["model-1"], (1, 5))
    assert got == {"model-1": pytest.approx((4 * 0.6 + 5 * 0.2) / 0.8)}


def test_expected_scores_none_when_a_score_cannot_be_found() -> None:
    names = masked_names(2)
    only_first = [
        TokenLogprob('{"scores": {"model-1": ', 0.0),
        TokenLogprob("4", 0.0, {"4": 0.0}),
        TokenLogprob(', "model-2": 45}', 0.0),
    ]  # a two-digit token is not a score token
    assert expected_scores(only_first, names) is None
    assert expected_scores([], names) is None
    tokens = _tokens_for({"model-1": 3}, {"model-1": {"3": 1.0}})
    assert expected_scores(tokens, ["model-1"], (1, 10)) is None  # multi-digit scale
    assert expected_scores(tokens, ["model-1"], (-1, 5)) is None


def test_expected_scores_ignore_unknown_names_and_keep_first_occurrence() -> None:
    tokens = [
        TokenLogprob('{"scores": {"model-7": ', 0.0),
        TokenLogprob("1", 0.0, {"1": 0.0}),
        TokenLogprob(', "model-1": ', 0.0),
        TokenLogprob("2", 0.0, {"2": 0.0}),
        TokenLogprob('}} again {"model-1": ', 0.0),
        TokenLogprob("5", 0.0, {"5": 0.0}),
    ]
    assert expected_scores(tokens, ["model-1"]) == {"model-1": 2.0}


def test_expected_scores_sampled_token_missing_from_top_is_added() -> None:
    tokens = [TokenLogprob('"model-1": ', 0.0), TokenLogprob(" 2", math.log(0.5), {"3": math.log(0.5)})]
    assert expected_scores(tokens, ["model-1"]) == {"model-1": pytest.approx(2.5)}


def test_expected_scores_merge_surface_variants_of_a_digit() -> None:
    top = {"5": math.log(0.5), "1": math.log(0.49), " 5": math.log(0.01)}
    tokens = [TokenLogprob('"model-1": ', 0.0), TokenLogprob("5", math.log(0.5), top)]
    got = expected_scores(tokens, ["model-1"])
    assert got == {"model-1": pytest.approx(5 * 0.51 + 1 * 0.49)}
