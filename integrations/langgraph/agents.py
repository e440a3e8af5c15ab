"""Best-of-n over whole agent runs: run an agent N times in parallel, judge the N trajectories once, keep the best.

``START -> prepare -> run (xN, Send) -> select -> END``::

    from ra_agents.integrations.langgraph import best_of_n_agents

    graph = best_of_n_agents(agent, judge, n=3, principle="Use the tools for facts; fewest steps wins.")
    state = await graph.ainvoke({"messages": [HumanMessage("Weather in Paris?")]})
    state["messages"]  # the input, then the best run's messages
    state["verdict"]   # scores and ranking of the runs; verdict["best"] is the kept run

``agent`` is any compiled graph or runnable that takes the state (``messages`` and your
other input keys) and returns its final state: a ``create_react_agent``/``create_agent``
graph, a sub-graph of your own. Each run gets the same input (the graph's bookkeeping
keys ``runs``, ``verdict``, ``n``, ``principle`` left out) and ``run_index`` in its run
metadata. The ``select`` node makes ONE listwise judge call over the N trajectories: the
judge reads the input conversation once, as the prompt (:func:`ra_agents.prompt_text`, as
every adapter reads it), and each run's new steps
(:func:`ra_agents.trajectory.trajectory_request`). The winner's new messages are added to
``messages``; every run's final state stays in ``runs`` (by run index) for inspection.

The principle is resolved per run as in :mod:`ra_agents.integrations.langgraph`: the
state's ``principle``, else ``config["configurable"]["principle"]``, else the default. The
verdict (:func:`ra_agents.verdict_to_dict` of the judge's result, the runs named ``"0"``,
``"1"``... by index) is also written to the custom stream
(``{"ra_verdict": ..., "node": "select"}``). The judge is anything
:class:`ra_agents.Judging`: a local :class:`~ra_agents.Judge` or an HTTP client.

The compiled graph is itself a node: add it to a parent graph whose state has
``messages`` (``builder.add_node("best_of_3", best_of_n_agents(agent, judge, n=3))``).
To build your own graph, use :func:`make_agent_run_node` and :func:`make_select_run_node`
with :func:`ra_agents.integrations.langgraph.fan_out`.

A run that raises fails the whole step, as any LangGraph node does. A judge failure
raises too, unless ``on_judge_error`` is ``"fail_closed"`` or ``"fail_open"``: then run 0 is
kept and the failure recorded in ``verdict["error"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict, Unpack, get_type_hints

from ra_agents import Judging, MissingDependencyError, OnJudgeError, UsageError, prompt_text
from ra_agents.trajectory import TrajectoryOptions, common_prefix, is_trajectory, trajectory_request

try:
    from langchain_core.messages import AnyMessage
    from langchain_core.runnables import Runnable, RunnableConfig
    from langchain_core.runnables.config import merge_configs
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.graph.message import add_messages
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Overwrite
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langgraph", "langgraph", "The LangGraph agents integration") from exc

from .nodes import Verdict, _as_list, _AsyncNode, _on_judge_error, collect, fan_out, judge_candidates

__all__ = ["AgentRun", "AgentRunsState", "best_of_n_agents", "make_agent_run_node", "make_select_run_node"]

_BOOKKEEPING = frozenset({"runs", "verdict", "n", "principle", "candidate_index"})


class AgentRun(TypedDict):
    """One run of the agent: its index and its final state."""

    index: int
    state: dict[str, Any]


class AgentRunsState(TypedDict, total=False):
    """State of :func:`best_of_n_agents`.

    Attributes:
        messages: the conversation (input); the best run's new messages are added to it.
        principle: overrides the configured principle for this run (input).
        n: how many runs (input; the builder's default otherwise).
        runs: every run's final state, gathered from the parallel runs.
        verdict: the judge's verdict over the runs; ``verdict["best"]`` is the kept run's index.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    principle: str
    n: int
    runs: Annotated[list[AgentRun], collect]
    verdict: Verdict


def best_of_n_agents(
    agent: Runnable,
    judge: Judging,
    *,
    n: int = 3,
    principle: str | None = None,
    state_schema: type[Any] = AgentRunsState,
    on_judge_error: OnJudgeError | None = None,
    record_errors: bool | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    name: str = "best_of_n_agents",
    **options: Unpack[TrajectoryOptions],
) -> CompiledStateGraph:
    """Compile a graph that runs ``agent`` ``n`` times on the same input and keeps the best run.

    Args:
        agent: a compiled graph or runnable from the state to its final state.
        judge: the judge (one listwise call per graph run, whatever ``n``).
        n: runs per graph run (``state["n"]`` overrides it).
        principle: the default principle (``state["principle"]`` and
            ``config["configurable"]["principle"]`` override it).
        state_schema: the graph's state; it needs the keys of :class:`AgentRunsState`.
            Other keys it has are copied from the best run's final state.
        on_judge_error: ``"raise"`` (default) lets a judge failure through;
            ``"fail_closed"``/``"fail_open"`` keep run 0 and record the failure in
            ``verdict["error"]`` (with ``verdict["passed"]`` False/True).
        record_errors: deprecated; True is ``on_judge_error="fail_closed"``, False ``"raise"``.
        checkpointer: optional checkpointer.
        name: the compiled graph's name.
        **options: trajectory rendering options, see :func:`ra_agents.trajectory.render_trajectory`.
    """
    mode = _on_judge_error(on_judge_error, record_errors, "raise")
    copied = [key for key in get_type_hints(state_schema) if key not in _BOOKKEEPING and key != "messages"]
    builder = StateGraph(state_schema)
    builder.add_node("prepare", lambda state: {"runs": Overwrite([])})  # a new run on a thread starts afresh
    builder.add_node("run", make_agent_run_node(agent))
    builder.add_node(
        "select",
        make_select_run_node(judge, principle=principle, copy_keys=copied, on_judge_error=mode, **options),
    )
    builder.add_edge(START, "prepare")
    builder.add_conditional_edges("prepare", fan_out("run", "n", default_n=n), ["run"])
    builder.add_edge("run", "select")
    builder.add_edge("select", END)
    return builder.compile(checkpointer=checkpointer, name=name)


def make_agent_run_node(
    agent: Runnable, *, runs_key: str = "runs", messages_key: str = "messages", name: str = "run"
) -> Runnable[Any, dict[str, Any]]:
    """A node that runs ``agent`` once, on the state a ``fan_out`` ``Send`` carries.

    Use it with :func:`ra_agents.integrations.langgraph.fan_out`. Writes
    ``{runs_key: [{"index": i, "state": final state}]}``; ``runs_key`` needs a list reducer.
    An agent returning a message list instead of a state is read as ``{messages_key: list}``.
    """

    async def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        index = state.get("candidate_index", 0)
        agent_input = {k: v for k, v in state.items() if k not in _BOOKKEEPING}
        run_config = merge_configs(config, {"metadata": {"run_index": index}, "run_name": f"run-{index}"})
        final = await agent.ainvoke(agent_input, run_config)
        if isinstance(final, list) and is_trajectory(final):
            final = {messages_key: list(final)}
        if not isinstance(final, dict):
            raise UsageError(
                f"the agent returned {type(final).__name__}; it must return its final state (a dict with "
                f"{messages_key!r}) or a list of messages"
            )
        return {runs_key: [AgentRun(index=index, state=final)]}

    return _AsyncNode(run, name)


def make_select_run_node(
    judge: Judging,
    *,
    principle: str | None = None,
    runs_key: str = "runs",
    messages_key: str = "messages",
    verdict_key: str = "verdict",
    copy_keys: Sequence[str] = (),
    on_judge_error: OnJudgeError | None = None,
    record_errors: bool | None = None,
    name: str = "select",
    **options: Unpack[TrajectoryOptions],
) -> Runnable[Any, dict[str, Any]]:
    """A node that judges the runs' trajectories in ONE listwise call and keeps the best run.

    The judge's prompt is ``state[messages_key]`` (the input conversation, read by
    :func:`ra_agents.prompt_text`); each run is judged on the messages it added. Writes the
    best run's new messages to ``messages_key``, the
    :data:`~ra_agents.integrations.langgraph.Verdict` (``int(verdict["best"])`` is the run
    index) to ``verdict_key``, and the best run's values of ``copy_keys``.
    ``on_judge_error`` and ``record_errors`` are as for :func:`best_of_n_agents`.
    """
    mode = _on_judge_error(on_judge_error, record_errors, "raise")

    async def select(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        runs = sorted(_as_list(state.get(runs_key)), key=lambda r: r["index"])
        if not runs:
            raise UsageError(f"node {name!r} found no agent runs in state[{runs_key!r}]; run the agent first")
        task = list(state.get(messages_key) or [])
        if not task:
            raise UsageError(f"node {name!r} needs the input conversation in state[{messages_key!r}]")
        trajectories = [list(r["state"].get(messages_key) or []) for r in runs]
        _, texts = trajectory_request(task, trajectories, **options)
        verdict = await judge_candidates(
            judge,
            prompt_text(task),
            list(texts.values()),
            state=state,
            config=config,
            default_principle=principle,
            node=name,
            on_judge_error=mode,
        )
        best = int(verdict["best"])
        best_run, best_messages = runs[best], trajectories[best]
        new = best_messages[len(task) :] if common_prefix([task, best_messages]) >= len(task) else best_messages
        update: dict[str, Any] = {messages_key: new, verdict_key: verdict}
        update.update({k: best_run["state"][k] for k in copy_keys if k in best_run["state"]})
        return update

    return _AsyncNode(select, name)
