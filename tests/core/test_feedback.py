"""ra_agents.feedback: one row -> one request, one verdict or failure -> one feedback, for every evaluator."""

from __future__ import annotations

import pytest

from ra_agents import BackendError, Judge, UsageError
from ra_agents.feedback import (
    OUTPUT,
    REFERENCE,
    judge_failure_feedback,
    pick,
    row_request,
    unread_feedback,
    verdict_feedback,
)
from ra_agents.testing import ScriptedBackend, prefer, shown_responses
from ra_agents.trajectory import rank_trajectories, trajectory_rewards

PRINCIPLE = "Correct first, then short."


def test_pick_by_key_function_or_the_only_value() -> None:
    assert pick({"answer": "4", "x": 1}, "answer", "outputs") == "4"
    assert pick({"answer": "4"}, None, "outputs") == "4"
    assert pick({"a": 1, "b": 2}, None, "outputs") == {"a": 1, "b": 2}
    assert pick({"a": 1}, lambda d: d["a"] + 1, "outputs") == 2
    with pytest.raises(UsageError, match=r"no 'answer' in the outputs \(\['text'\]\)"):
        pick({"text": "4"}, "answer", "outputs")


def test_row_request_names_the_output_and_the_reference() -> None:
    prompt, responses = row_request({"question": "2+2?"}, {"answer": "4"}, {"answer": "four"})
    assert prompt == "2+2?"
    assert responses == {OUTPUT: "4", REFERENCE: "four"}
    # a reference shaped differently from the outputs is read as its only value
    _, responses = row_request({"q": "2+2?"}, {"answer": "4"}, {"gold": "four"}, candidates_from="answer")
    assert responses == {OUTPUT: "4", REFERENCE: "four"}
    # an empty reference, or reference=False, judges the output alone
    assert row_request("2+2?", {"answer": "4"}, {"answer": ""})[1] == {OUTPUT: "4"}
    assert row_request("2+2?", {"answer": "4"}, {"answer": "four"}, reference=False)[1] == {OUTPUT: "4"}


@pytest.mark.parametrize("outputs", [{}, {"output": None}, None])
def test_row_request_without_outputs_says_the_target_failed(outputs: object) -> None:
    with pytest.raises(UsageError, match="did the target fail"):
        row_request({"q": "2+2?"}, outputs)


def test_verdict_feedback_scores_the_output_against_the_reference() -> None:
    backend = ScriptedBackend(default=prefer(lambda text: text == "4"))
    result = Judge(backend).judge(PRINCIPLE, "2+2?", {OUTPUT: "4", REFERENCE: "five"})
    feedback = verdict_feedback(result, "correct")
    assert feedback["key"] == "correct"
    assert feedback["score"] == result.unit_score(OUTPUT)
    assert feedback["comment"].startswith(f"correct: {result.scores[OUTPUT]}/5 (beats the reference")
    assert feedback["metadata"]["beats_reference"] is True
    assert feedback["metadata"]["reference_score"] == result.scores[REFERENCE]
    assert feedback["metadata"]["verdict"]["best"] == OUTPUT
    assert all("raw" not in one for one in feedback["metadata"]["verdict"]["passes"])


def test_unread_and_failed_rows() -> None:
    error = UsageError("no outputs")
    assert unread_feedback(error, "k") == {
        "key": "k",
        "score": None,
        "comment": "UsageError: no outputs",
        "extra": {"error": True},
    }
    down = BackendError("server down")
    closed = judge_failure_feedback(down, "k", "fail_closed")
    assert closed["score"] == 0.0 and closed["extra"] == {"error": True}
    assert closed["metadata"] == {"error": "BackendError", "on_judge_error": "fail_closed"}
    assert judge_failure_feedback(down, "k", "fail_open")["score"] == 1.0
    with pytest.raises(BackendError, match="server down"):
        judge_failure_feedback(down, "k", "raise")
    with pytest.raises(UsageError, match="on_judge_error"):
        judge_failure_feedback(down, "k", "explode")  # type: ignore[arg-type]


def test_trajectory_ranking_lives_in_the_core() -> None:
    import ra_agents.integrations.trajectory as adapter

    assert adapter.rank_trajectories is rank_trajectories
    good = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "Sunny, per the tool."}]
    bad = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "I guess rain."}]
    backend = ScriptedBackend(default=prefer(lambda text: "Sunny" in text))
    result = rank_trajectories(Judge(backend), PRINCIPLE, None, {"good": good, "bad": bad}, permutations=1)
    assert result.best == "good"
    # the shared task is the prompt, shown once; each trajectory is only its own steps
    messages = backend.calls[-1][0]
    assert "Weather?" in messages[1]["content"]
    assert sorted(shown_responses(messages).values()) == ["assistant: I guess rain.", "assistant: Sunny, per the tool."]
    rewards = trajectory_rewards(result)
    assert list(rewards) == ["good", "bad"] and rewards["good"] > rewards["bad"]


def test_samples_failed_error_lives_in_the_error_tree() -> None:
    import ra_agents
    from ra_agents import BackendError, RAError, SamplesFailedError, error_to_dict
    from ra_agents._errors import __doc__ as tree
    from ra_agents.integrations import lcel

    assert lcel.SamplesFailedError is SamplesFailedError and "SamplesFailedError" in ra_agents.__all__
    assert issubclass(SamplesFailedError, BackendError) and issubclass(SamplesFailedError, RAError)
    assert "└── SamplesFailedError" in (tree or "")
    error = SamplesFailedError("all 2 samples failed", {0: TimeoutError("slow")})
    assert isinstance(error.errors[0], TimeoutError)
    assert error_to_dict(error) == {"type": "BackendError", "message": "all 2 samples failed"}
