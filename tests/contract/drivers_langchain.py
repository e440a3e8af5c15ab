"""Contract drivers for the LangChain family: the LangSmith and openevals evaluators, the
trajectory evaluator and group ranking, the LCEL judge runnable and ``best_of_n``.

Each adapter is driven as its host drives it: the LangSmith evaluators through LangSmith's
own ``DynamicRunEvaluator``/``DynamicComparisonRunEvaluator`` (a ``Run`` and an
``Example`` whose ``inputs`` hold the conversation as ``{"messages": ...}``), the openevals
and trajectory evaluators by keyword as ``langsmith.evaluate`` calls them, the LCEL
runnables with LangChain messages and a chat prompt value. Sync entry points run in a
worker thread, as LangSmith runs them. Every adapter here takes a remote judge.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.messages import convert_to_messages
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langsmith.evaluation.evaluator import DynamicComparisonRunEvaluator, DynamicRunEvaluator
from langsmith.run_helpers import tracing_context
from langsmith.schemas import Example, Run

from ra_agents import Judging
from ra_agents.integrations.langsmith import (
    create_async_run_evaluator,
    create_comparative_evaluator,
    create_principles_evaluator,
    create_run_evaluator,
)
from ra_agents.integrations.lcel import JudgeRunnable, best_of_n
from ra_agents.integrations.openevals import create_async_principle_evaluator, create_principle_evaluator
from ra_agents.integrations.trajectory import (
    arank_trajectories,
    create_trajectory_principle_evaluator,
    trajectory_rewards,
)
from ra_agents.judging import PrincipleSet
from tests.contract.drivers import BAD, CONVERSATION, GOOD, PRINCIPLE, Driver

INPUTS = {"messages": CONVERSATION}
"""The example's inputs, as a LangSmith dataset of chat examples holds them."""


def _run(answer: str) -> Run:
    return Run(
        id=uuid.uuid4(),
        name="app",
        start_time="2024-01-01T00:00:00",
        run_type="chain",
        inputs=INPUTS,
        outputs={"answer": answer},
        trace_id=uuid.uuid4(),
    )


def _example(reference: str | None = None) -> Example:
    outputs = {"answer": reference} if reference is not None else {}
    return Example(id=uuid.uuid4(), dataset_id=uuid.uuid4(), inputs=INPUTS, outputs=outputs)


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A sync entry point, called as LangSmith calls it: off the event loop, tracing off."""

    def call() -> Any:
        with tracing_context(enabled=False):
            return fn(*args, **kwargs)

    return await asyncio.to_thread(call)


def _feedback(result: Any) -> dict[str, Any]:
    """What a LangSmith evaluation result says, without the verdict's wall time."""
    metadata = result.metadata or {}
    verdict = metadata.get("verdict") or {}
    return {
        "key": result.key,
        "score": result.score,
        "comment": result.comment,
        "beats_reference": metadata.get("beats_reference"),
        "ranking": verdict.get("ranking"),
    }


# ------------------------------------------------------------------ LangSmith


async def _langsmith_run(judge: Judging) -> Any:
    # LangSmith types evaluators as (run, example); it calls these by their parameter names
    evaluator = DynamicRunEvaluator(create_run_evaluator(judge, PRINCIPLE, key="contract"))  # type: ignore[arg-type]
    return await _in_thread(evaluator.evaluate_run, _run(GOOD), _example(BAD))


async def _langsmith_prompt(judge: Judging) -> None:
    await _langsmith_run(judge)


async def _langsmith_remote(judge: Judging) -> Any:
    return _feedback(await _langsmith_run(judge))


async def _alangsmith_run(judge: Judging) -> Any:
    evaluator = DynamicRunEvaluator(create_async_run_evaluator(judge, PRINCIPLE, key="contract"))  # type: ignore[arg-type]
    with tracing_context(enabled=False):
        return await evaluator.aevaluate_run(_run(GOOD), _example(BAD))


async def _alangsmith_prompt(judge: Judging) -> None:
    await _alangsmith_run(judge)


async def _alangsmith_remote(judge: Judging) -> Any:
    return _feedback(await _alangsmith_run(judge))


async def _multi_run(judge: Judging) -> Any:
    principles: PrincipleSet = {"first": PRINCIPLE, "second": (PRINCIPLE, 3.0)}
    evaluator = DynamicRunEvaluator(create_principles_evaluator(judge, principles, combined_key="overall"))  # type: ignore[arg-type]
    return await _in_thread(evaluator.evaluate_run, _run(GOOD), _example(BAD))


async def _multi_prompt(judge: Judging) -> None:
    await _multi_run(judge)


async def _multi_remote(judge: Judging) -> Any:
    results = (await _multi_run(judge))["results"]
    return [
        {"key": r.key, "score": r.score, "beats_reference": (r.metadata or {}).get("beats_reference")} for r in results
    ]


async def _comparative_run(judge: Judging) -> tuple[list[Run], Any]:
    runs = [_run(GOOD), _run(BAD)]
    evaluator = DynamicComparisonRunEvaluator(create_comparative_evaluator(judge, PRINCIPLE))
    return runs, await _in_thread(evaluator.compare_runs, runs, _example())


async def _comparative_prompt(judge: Judging) -> None:
    await _comparative_run(judge)


async def _comparative_remote(judge: Judging) -> Any:
    runs, result = await _comparative_run(judge)
    return {"key": result.key, "scores": [result.scores[run.id] for run in runs]}


# ------------------------------------------------------------------ openevals

ROW = {"inputs": INPUTS, "outputs": {"answer": GOOD}, "reference_outputs": {"answer": BAD}}


async def _openevals_prompt(judge: Judging) -> None:
    await _in_thread(create_principle_evaluator(principle=PRINCIPLE, judge=judge), **ROW)


async def _openevals_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    evaluator = create_principle_evaluator(
        principle=PRINCIPLE,
        judge=judge,
        threshold=threshold,
        on_judge_error=on_judge_error,  # type: ignore[arg-type]
    )
    result = await _in_thread(evaluator, inputs=INPUTS, outputs={"answer": GOOD})
    return bool(result["score"])


async def _openevals_remote(judge: Judging) -> Any:
    result = await _in_thread(create_principle_evaluator(principle=PRINCIPLE, judge=judge, continuous=True), **ROW)
    return {"key": result["key"], "score": result["score"], "comment": result["comment"]}


async def _aopenevals_prompt(judge: Judging) -> None:
    await create_async_principle_evaluator(principle=PRINCIPLE, judge=judge)(**ROW)


async def _aopenevals_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    evaluator = create_async_principle_evaluator(
        principle=PRINCIPLE,
        judge=judge,
        threshold=threshold,
        on_judge_error=on_judge_error,  # type: ignore[arg-type]
    )
    return bool((await evaluator(inputs=INPUTS, outputs={"answer": GOOD}))["score"])


async def _aopenevals_remote(judge: Judging) -> Any:
    result = await create_async_principle_evaluator(principle=PRINCIPLE, judge=judge, choices=[1, 2, 3, 4, 5])(**ROW)
    return {"key": result["key"], "score": result["score"], "unit": result["metadata"]["unit_score"]}


# ----------------------------------------------------------------- trajectory


def _agent_state(answer: str) -> dict[str, Any]:
    """What a LangGraph agent returns: the conversation, then its answer."""
    return {"messages": [*CONVERSATION, {"role": "assistant", "content": answer}]}


async def _trajectory_prompt(judge: Judging) -> None:
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)
    await _in_thread(evaluator, inputs=INPUTS, outputs=_agent_state(GOOD), reference_outputs=_agent_state(BAD))


async def _trajectory_decide(judge: Judging, threshold: float, on_judge_error: str) -> bool:
    evaluator = create_trajectory_principle_evaluator(
        principle=PRINCIPLE,
        judge=judge,
        continuous=False,
        threshold=threshold,
        on_judge_error=on_judge_error,  # type: ignore[arg-type]
    )
    return bool((await _in_thread(evaluator, inputs=INPUTS, outputs=_agent_state(GOOD)))["score"])


async def _trajectory_remote(judge: Judging) -> Any:
    evaluator = create_trajectory_principle_evaluator(principle=PRINCIPLE, judge=judge)
    result = await _in_thread(evaluator, inputs=INPUTS, outputs=_agent_state(GOOD), reference_outputs=_agent_state(BAD))
    return {"key": result["key"], "score": result["score"], "comment": result["comment"]}


async def _rank_prompt(judge: Judging) -> None:
    await arank_trajectories(judge, PRINCIPLE, CONVERSATION, [_agent_state(GOOD), _agent_state(BAD)])


async def _rank_remote(judge: Judging) -> Any:
    result = await arank_trajectories(judge, PRINCIPLE, None, {"good": _agent_state(GOOD), "bad": _agent_state(BAD)})
    return {"ranking": list(result.ranking), "rewards": trajectory_rewards(result)}


# ----------------------------------------------------------------------- LCEL


async def _runnable_prompt(judge: Judging) -> None:
    await JudgeRunnable(judge, principle=PRINCIPLE).ainvoke(
        {"prompt": convert_to_messages(CONVERSATION), "responses": [GOOD, BAD]}
    )


async def _runnable_remote(judge: Judging) -> Any:
    result = await JudgeRunnable(judge, principle=PRINCIPLE).ainvoke(
        {"prompt": convert_to_messages(CONVERSATION), "responses": {"bad": BAD, "good": GOOD}}
    )
    return {"scores": dict(result.scores), "ranking": list(result.ranking), "reasoning": result.reasoning}


def _good_then_bad(prompt: Any, config: RunnableConfig) -> str:
    """A generator whose first sample is GOOD and every later one BAD."""
    return GOOD if config["metadata"]["candidate_index"] == 0 else BAD


async def _best_of_n_run(judge: Judging) -> Any:
    pick = best_of_n(RunnableLambda(_good_then_bad), judge, n=2, principle=PRINCIPLE)
    return await pick.ainvoke(ChatPromptValue(messages=convert_to_messages(CONVERSATION)))


async def _best_of_n_prompt(judge: Judging) -> None:
    await _best_of_n_run(judge)


async def _best_of_n_remote(judge: Judging) -> Any:
    result = await _best_of_n_run(judge)
    return {"choice": result.output, "scores": result.verdict.score_list(), "candidates": list(result.candidates)}


DRIVERS = [
    Driver("langsmith.evaluator", prompt=_langsmith_prompt, remote=_langsmith_remote),
    Driver("langsmith.aevaluator", prompt=_alangsmith_prompt, remote=_alangsmith_remote),
    Driver("langsmith.multi", prompt=_multi_prompt, remote=_multi_remote),
    Driver("langsmith.comparative", prompt=_comparative_prompt, remote=_comparative_remote),
    Driver("openevals.evaluator", prompt=_openevals_prompt, decide=_openevals_decide, remote=_openevals_remote),
    Driver("openevals.aevaluator", prompt=_aopenevals_prompt, decide=_aopenevals_decide, remote=_aopenevals_remote),
    Driver("trajectory.evaluator", prompt=_trajectory_prompt, decide=_trajectory_decide, remote=_trajectory_remote),
    Driver("trajectory.rank", prompt=_rank_prompt, remote=_rank_remote),
    Driver("lcel.runnable", prompt=_runnable_prompt, remote=_runnable_remote),
    Driver("lcel.best_of_n", prompt=_best_of_n_prompt, remote=_best_of_n_remote),
]
