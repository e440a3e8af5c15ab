"""The LCEL judge runnable and best-of-n, run as real LangChain chains.

Outcomes are driven exactly by a scripted judge backend; the ``vllm`` tests run both on
the real served model, as generator and as judge.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig, RunnableLambda

from ra_agents import Judge, JudgeResult, Principle, UsageError, prompt_text
from ra_agents.integrations.chat_litellm import BackendChatModel
from ra_agents.integrations.lcel import (
    JUDGE_RUN_NAME,
    BestOfN,
    JudgeRunnable,
    SamplesFailedError,
    best_of_n,
)
from ra_agents.testing import ScriptedBackend, prefer, shown_responses

PRINCIPLE = "Prefer answers marked good."


def scripted_judge() -> tuple[Judge, ScriptedBackend]:
    """A judge scoring texts containing "good" 5 and others 1, whatever order it sees them in."""
    backend = ScriptedBackend(default=prefer(lambda text: "good" in text))
    return Judge(backend, seed=0), backend


def sent(messages: Sequence[Any]) -> dict[str, Any]:
    """The principle, prompt and masked responses of one judge call."""
    return json.loads(messages[1]["content"])


def request_for(question: str) -> dict[str, Any]:
    return {"prompt": question, "responses": {"a": "a bad answer", "b": "a good answer", "c": "bad again"}}


class Runs(BaseCallbackHandler):
    """Records every chain and chat model run's name, id and parent."""

    def __init__(self) -> None:
        self.started: list[tuple[str, UUID, UUID | None]] = []
        self.ended: list[tuple[UUID, Any]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kw):
        self.started.append((kw.get("name") or "", run_id, parent_run_id))

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kw: Any
    ) -> None:
        self.started.append((kw.get("name") or "", run_id, parent_run_id))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self.ended.append((run_id, outputs))

    def named(self, name: str) -> list[tuple[str, UUID, UUID | None]]:
        return [r for r in self.started if r[0] == name]

    def children(self, run_id: UUID) -> list[str]:
        return [name for name, _, parent in self.started if parent == run_id]


# ------------------------------------------------------------------ judge runnable


def _chain(judge_runnable: JudgeRunnable) -> Any:
    build = RunnableLambda(request_for, name="build")
    return build | judge_runnable | RunnableLambda(lambda r: (r.best, dict(r.scores)), name="pick")


async def test_judge_runnable_in_a_chain_sync_and_async_agree() -> None:
    judge, backend = scripted_judge()
    chain = _chain(JudgeRunnable(judge, principle=PRINCIPLE))

    expected = ("b", {"a": 1, "b": 5, "c": 1})
    assert await chain.ainvoke("2+2?") == expected
    sync = await _in_thread(chain.invoke, "2+2?")
    assert sync == expected
    assert len(backend.calls) == 2  # one listwise call per invocation
    assert sent(backend.calls[0][0])["principle"] == PRINCIPLE
    assert sent(backend.calls[0][0])["prompt"] == "2+2?"


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Call a sync entry point the way sync code would: off the event loop."""
    import asyncio

    return await asyncio.to_thread(fn, *args)


def test_invoke_returns_the_judge_result() -> None:
    judge, _ = scripted_judge()
    result = JudgeRunnable(judge, principle=Principle("Prefer answers marked good.")).invoke(request_for("q"))
    assert isinstance(result, JudgeResult)
    assert result.ranking[0] == "b" and result.principle == PRINCIPLE


def test_principle_from_configurable_input_and_default() -> None:
    judge, backend = scripted_judge()
    chain = _chain(JudgeRunnable(judge))  # no default principle

    chain.invoke("q", {"configurable": {"principle": "Configured principle."}})
    assert sent(backend.calls[-1][0])["principle"] == "Configured principle."

    with pytest.raises(UsageError, match=r"no principle: .*config\['configurable'\]\['principle'\]"):
        chain.invoke("q")

    # the input's principle wins over the configured one, which wins over the default
    defaulted = JudgeRunnable(judge, principle="Default principle.")
    defaulted.invoke(request_for("q"))
    assert sent(backend.calls[-1][0])["principle"] == "Default principle."
    defaulted.invoke(request_for("q"), {"configurable": {"principle": "Configured principle."}})
    assert sent(backend.calls[-1][0])["principle"] == "Configured principle."
    defaulted.invoke({**request_for("q"), "principle": "Input principle."}, {"configurable": {"principle": "no"}})
    assert sent(backend.calls[-1][0])["principle"] == "Input principle."

    # with_config binds the principle once for a whole chain
    bound = defaulted.with_config(configurable={"principle": "Bound principle."})
    assert bound.invoke(request_for("q")).principle == "Bound principle."


CONVERSATION: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "2+2?"}, {"type": "text", "text": "One word."}]},
]


def test_the_prompt_may_be_messages_or_a_prompt_value() -> None:
    judge, backend = scripted_judge()
    runnable = JudgeRunnable(judge, principle=PRINCIPLE)
    value = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "2+2?\nOne word.")]).invoke({})
    for prompt in (CONVERSATION, convert_to_messages(CONVERSATION), value, {"messages": CONVERSATION}):
        runnable.invoke({"prompt": prompt, "responses": ["good", "bad"]})
    prompts = {sent(messages)["prompt"] for messages, _ in backend.calls}
    assert prompts == {prompt_text(CONVERSATION)} == {"system: Be brief.\nuser: 2+2?\n  One word."}


async def test_best_of_n_sends_the_prompt_every_entry_point_sends() -> None:
    judge, backend = scripted_judge()
    pick = best_of_n(RunnableLambda(lambda _: "good"), judge, n=2, principle=PRINCIPLE)
    await pick.ainvoke(convert_to_messages(CONVERSATION))
    await pick.ainvoke({"question": CONVERSATION})
    picked = best_of_n(RunnableLambda(lambda _: "good"), judge, n=1, principle=PRINCIPLE, prompt_from=lambda x: x["q"])
    await picked.ainvoke({"q": CONVERSATION, "lang": "en"})
    assert [sent(m)["prompt"] for m, _ in backend.calls] == [prompt_text(CONVERSATION)] * 3


def test_bad_input_and_blank_default_are_usage_errors() -> None:
    judge, backend = scripted_judge()
    with pytest.raises(UsageError, match="principle is empty"):
        JudgeRunnable(judge, principle="  ")
    runnable = JudgeRunnable(judge, principle=PRINCIPLE)
    misnamed: Any = {"prompt": "q", "candidates": ["x"]}
    with pytest.raises(UsageError, match=r"a dict with 'prompt' and 'responses'.*\['candidates', 'prompt'\]"):
        runnable.invoke(misnamed)
    text: Any = "just text"
    with pytest.raises(UsageError, match="got str"):
        runnable.invoke(text)
    assert backend.calls == []


async def test_batch_and_abatch_keep_input_order() -> None:
    judge, _ = scripted_judge()
    runnable = JudgeRunnable(judge, principle=PRINCIPLE)
    winners = ["x", "y", "x", "y", "y"]
    inputs: list[Any] = [
        {"prompt": f"q{i}", "responses": {"x": "good" if w == "x" else "bad", "y": "good" if w == "y" else "bad"}}
        for i, w in enumerate(winners)
    ]

    sync = await _in_thread(lambda: runnable.batch(inputs, {"max_concurrency": 2}))
    assert [r.best for r in sync] == winners
    results = await runnable.abatch(inputs, {"max_concurrency": 3})
    assert [r.best for r in results] == winners

    inputs[2] = {"prompt": "broken"}
    mixed = await runnable.abatch(inputs, return_exceptions=True)
    assert isinstance(mixed[2], UsageError)
    assert [r.best for i, r in enumerate(mixed) if i != 2] == [w for i, w in enumerate(winners) if i != 2]


def test_one_child_run_visible_to_a_callback_handler() -> None:
    judge, _ = scripted_judge()
    chain = _chain(JudgeRunnable(judge, principle=PRINCIPLE))
    runs = Runs()

    chain.invoke("q", {"callbacks": [runs]})

    [(_, root, _)] = [r for r in runs.started if r[2] is None]
    assert runs.children(root) == ["build", JUDGE_RUN_NAME, "pick"]
    [(_, judge_run, parent)] = runs.named(JUDGE_RUN_NAME)
    assert parent == root
    assert runs.children(judge_run) == []  # the judge call is one run, nothing under it
    [output] = [out for run_id, out in runs.ended if run_id == judge_run]
    assert isinstance(output, JudgeResult) and output.best == "b"


async def test_one_run_in_astream_events() -> None:
    judge, _ = scripted_judge()
    chain = _chain(JudgeRunnable(judge, principle=PRINCIPLE))

    events = [e async for e in chain.astream_events("q", version="v2")]

    mine = [e for e in events if e["name"] == JUDGE_RUN_NAME]
    assert [e["event"] for e in mine if e["event"] != "on_chain_stream"] == ["on_chain_start", "on_chain_end"]
    assert len({e["run_id"] for e in mine}) == 1
    end = mine[-1]["data"]["output"]
    assert isinstance(end, JudgeResult) and end.best == "b"
    assert events[-1]["event"] == "on_chain_end" and events[-1]["data"]["output"][0] == "b"


async def test_sync_invoke_inside_an_event_loop_says_to_await() -> None:
    judge, _ = scripted_judge()
    with pytest.raises(UsageError, match=r"await ainvoke\(\.\.\.\)"):
        JudgeRunnable(judge, principle=PRINCIPLE).invoke(request_for("q"))


# ------------------------------------------------------------------------ best of n


def indexed(answer: Any) -> RunnableLambda:
    """A generator answering ``answer(index)`` for the sample index in its config."""

    def generate(prompt: Any, config: RunnableConfig) -> Any:
        return answer(config["metadata"]["candidate_index"])

    return RunnableLambda(generate, name="generate")


async def test_best_of_n_keeps_the_best_in_one_judge_call() -> None:
    judge, backend = scripted_judge()
    pick = best_of_n(indexed(lambda i: f"answer {i}" + (" (good)" if i == 2 else "")), judge, n=4, principle=PRINCIPLE)

    result = await pick.ainvoke("Which one?")

    assert isinstance(result, BestOfN)
    assert result.output == "answer 2 (good)"
    assert result.candidates == ("answer 0", "answer 1", "answer 2 (good)", "answer 3")
    assert result.verdict.best == "2" and result.verdict.score_list() == [1, 1, 5, 1]
    assert result.failures == {}
    assert len(backend.calls) == 1  # ONE judge call for all four samples
    request = sent(backend.calls[0][0])
    assert request["prompt"] == "Which one?" and request["principle"] == PRINCIPLE
    assert sorted(request["responses"].values()) == sorted(result.candidates)

    sync = await _in_thread(pick.invoke, "Which one?")
    assert (sync.output, sync.candidates, sync.verdict.ranking) == (
        result.output,
        result.candidates,
        result.verdict.ranking,
    )
    assert len(backend.calls) == 2


async def test_failed_samples_are_left_out_but_reported() -> None:
    judge, backend = scripted_judge()

    def answer(i: int) -> str:
        if i in (0, 3):
            raise RuntimeError(f"sample {i} broke")
        return "good" if i == 2 else "meh"

    result = await best_of_n(indexed(answer), judge, n=4, principle=PRINCIPLE).ainvoke("q")

    assert result.candidates == ("meh", "good")
    assert result.output == "good" and result.verdict.best == "1"  # named by position in candidates
    assert sorted(result.failures) == [0, 3]
    assert str(result.failures[3]) == "sample 3 broke"
    assert sorted(shown_responses(backend.calls[0][0]).values()) == ["good", "meh"]
    assert result.to_dict()["failures"] == {"0": "RuntimeError: sample 0 broke", "3": "RuntimeError: sample 3 broke"}


async def test_all_samples_failing_raises_without_judging() -> None:
    judge, backend = scripted_judge()

    def answer(i: int) -> str:
        raise TimeoutError(f"slow {i}")

    with pytest.raises(SamplesFailedError, match=r"all 3 samples failed.*sample 1: TimeoutError: slow 1") as info:
        await best_of_n(indexed(answer), judge, n=3, principle=PRINCIPLE).ainvoke("q")
    assert sorted(info.value.errors) == [0, 1, 2]
    assert isinstance(info.value.__cause__, TimeoutError)
    assert backend.calls == []


async def test_best_of_n_runs_as_one_run_with_its_samples_and_judge_under_it() -> None:
    judge, backend = scripted_judge()
    chain = (
        ChatPromptTemplate.from_messages([("human", "{question}")])
        | best_of_n(indexed(lambda i: "good" if i == 1 else "bad"), judge, n=3)
        | (lambda r: r.output)
    )
    runs = Runs()
    config: RunnableConfig = {"callbacks": [runs], "configurable": {"principle": "Configured."}}

    assert await chain.ainvoke({"question": "Why?"}, config) == "good"

    [(_, bon, _)] = runs.named("best_of_n")
    assert sorted(runs.children(bon)) == ["candidate-0", "candidate-1", "candidate-2", JUDGE_RUN_NAME]
    request = sent(backend.calls[0][0])
    assert request["principle"] == "Configured." and request["prompt"] == "Why?"  # prompt_text of the prompt value

    events = [e async for e in chain.astream_events({"question": "Why?"}, config, version="v2")]
    starts = [e["name"] for e in events if e["event"] == "on_chain_start"]
    assert starts.count(JUDGE_RUN_NAME) == 1 and starts.count("best_of_n") == 1
    assert len(backend.calls) == 2


def test_best_of_n_arguments_are_checked() -> None:
    judge, _ = scripted_judge()
    with pytest.raises(UsageError, match="n must be a positive integer"):
        best_of_n(indexed(str), judge, n=0)
    with pytest.raises(UsageError, match="temperature= applies to a chat model"):
        best_of_n(indexed(str), judge, temperature=0.7)
    with pytest.raises(UsageError, match="principle is empty"):
        best_of_n(indexed(str), judge, principle="")


class SeededModel(BaseChatModel):
    """A chat model that answers with its own sampling settings."""

    seed: int | None = None
    temperature: float = 0.7

    @property
    def _llm_type(self) -> str:
        return "seeded"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        text = f"seed={self.seed} t={self.temperature} stop={stop}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class NoKnobsModel(BaseChatModel):
    """A chat model with neither a seed nor a temperature field."""

    @property
    def _llm_type(self) -> str:
        return "plain"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="same"))])


async def test_chat_model_samples_get_their_own_seed_and_the_given_temperature() -> None:
    judge, _ = scripted_judge()

    seeded = await best_of_n(SeededModel(seed=10), judge, n=3, temperature=0.9, principle=PRINCIPLE).ainvoke("q")
    assert [m.content for m in seeded.candidates] == [f"seed={s} t=0.9 stop=None" for s in (10, 11, 12)]
    assert isinstance(seeded.output, AIMessage)

    bound = SeededModel(seed=5).bind(stop=["END"])  # a bound model keeps its binding
    result = await best_of_n(bound, judge, n=2, principle=PRINCIPLE).ainvoke("q")
    assert [m.content for m in result.candidates] == ["seed=5 t=0.7 stop=['END']", "seed=6 t=0.7 stop=['END']"]

    free = await best_of_n(SeededModel(), judge, n=2, principle=PRINCIPLE).ainvoke("q")
    assert [m.content for m in free.candidates] == ["seed=None t=0.7 stop=None"] * 2  # unseeded: left to sample


def test_chat_model_without_the_knobs() -> None:
    judge, _ = scripted_judge()
    with pytest.raises(UsageError, match="NoKnobsModel has no temperature field"):
        best_of_n(NoKnobsModel(), judge, temperature=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best_of_n(NoKnobsModel(), judge, n=2)  # nothing to vary, nothing to warn about
    with pytest.warns(UserWarning, match="the 3 samples will be identical"):
        best_of_n(SeededModel(temperature=0), judge, n=3)


def test_best_of_n_accepts_a_judge_runnable() -> None:
    judge, backend = scripted_judge()
    configured = JudgeRunnable(judge, principle="From the runnable.", name="my_judge")
    runs = Runs()
    result = best_of_n(indexed(lambda i: "good" if i else "bad"), configured, n=2).invoke("q", {"callbacks": [runs]})
    assert result.output == "good"
    assert sent(backend.calls[-1][0])["principle"] == "From the runnable."
    assert len(runs.named("my_judge")) == 1
    best_of_n(indexed(str), configured, n=1, principle="Overridden.").invoke("q")
    assert sent(backend.calls[-1][0])["principle"] == "Overridden."


# ------------------------------------------------------------------------ real path


@pytest.fixture
def served(vllm_server) -> tuple[BackendChatModel, Judge]:
    """The served model as generator (short, sampled answers) and as judge."""
    model = BackendChatModel.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base, max_tokens=16)
    judge = Judge.from_litellm(vllm_server.litellm_model, api_base=vllm_server.api_base)
    return model, judge


def _check_real_verdict(result: JudgeResult, names: set[str]) -> None:
    assert set(result.names) == names and set(result.ranking) == names
    assert all(1 <= s <= 5 for s in result.scores.values())
    assert result.scores[result.best] == max(result.scores.values())
    assert result.model


@pytest.mark.vllm
async def test_real_judge_runnable_in_a_chain(served) -> None:
    _, judge = served

    def request(question: str) -> dict[str, Any]:
        return {"prompt": question, "responses": {"a": "Paris.", "b": "I like turtles."}}

    chain = (
        RunnableLambda(request) | JudgeRunnable(judge, principle="Correct answers first.") | RunnableLambda(lambda r: r)
    )
    question = "What is the capital of France?"
    _check_real_verdict(await chain.ainvoke(question), {"a", "b"})
    _check_real_verdict(await _in_thread(chain.invoke, question), {"a", "b"})


@pytest.mark.vllm
async def test_real_best_of_n_around_the_served_chat_model(served) -> None:
    model, judge = served
    pick = best_of_n(model, judge, n=2, principle="Correctness first, then brevity.")
    prompt = "Name a primary colour."

    for run in (pick.ainvoke, lambda p, c: _in_thread(pick.invoke, p, c)):
        runs = Runs()
        result = await run(prompt, {"callbacks": [runs]})
        assert len(result.candidates) == 2 and result.failures == {}
        assert all(isinstance(c, AIMessage) for c in result.candidates)
        assert result.output is result.candidates[int(result.verdict.best)]
        _check_real_verdict(result.verdict, {"0", "1"})
        assert json.loads(json.dumps(result.to_dict()))["verdict"]["best"] == result.verdict.best
        [(_, bon, _)] = runs.named("best_of_n")
        assert sorted(runs.children(bon)) == ["candidate-0", "candidate-1", JUDGE_RUN_NAME]  # one judge call
