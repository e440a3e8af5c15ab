"""LangGraph nodes that put the judge inside a graph.

Building blocks (each a plain function or node factory, composable in any ``StateGraph``):

- :func:`fan_out` + :func:`make_generate_node` + :func:`collect`: generate N candidates in
  parallel with ``Send``, gathered by a reducer.
- :func:`make_rank_node`: ONE listwise ``judge.ajudge`` call ranks all N candidates, keeps
  the best (``answer``) and writes the verdict to state (a :data:`Verdict`).
- :func:`make_plan_rank_node`: the same for alternative tool plans (``AIMessage`` with
  ``tool_calls``); only the winner is appended to ``messages``, so only it reaches a
  ``ToolNode``.
- :func:`make_policy_node`: checks ``state["answer"]`` against an ordered
  :class:`ra_agents.Policy` (each rule a principle with its own threshold, judged in
  order, stopping at the first failure) and writes a verdict the guard routes on.
- :func:`make_guard_node` with a :class:`GuardPolicy`: routes on the verdict with
  ``Command(goto=...)``: accept, regenerate with the judge's reasoning as feedback
  (bounded retries), escalate to a human with ``interrupt`` (resume with
  ``Command(resume=...)``), or fall back. :func:`decide` is the pure decision, usable in
  a conditional edge. A winner is accepted by the library's one rule,
  :func:`ra_agents.accepts` (its unit score against the threshold, 0.5 by default).

The contract every node keeps (the same as every other ra-agents adapter):

- the judge is anything :class:`ra_agents.Judging` (a local :class:`~ra_agents.Judge`, or the
  HTTP :class:`~ra_agents.Client`/:class:`~ra_agents.AsyncClient`); only its methods are used;
- the prompt is ``state[prompt_key]`` (text, or chat messages) or else the conversation in
  ``state[messages_key]``, read by :func:`ra_agents.prompt_text`;
- the verdict in state is :func:`ra_agents.verdict_to_dict` of the judge's result (read it
  back with :func:`ra_agents.verdict_from_dict`); the candidates are named by their index,
  ``"0"``, ``"1"``..., so ``int(verdict["best"])`` is the winner's index;
- a judge failure (:class:`~ra_agents.BackendError`, :class:`~ra_agents.VerdictError`) is
  handled as the node's ``on_judge_error`` says: ``"raise"`` lets it through;
  ``"fail_closed"``/``"fail_open"`` record it in the verdict (``verdict["error"]``, as
  :func:`ra_agents.error_to_dict` writes it, with ``verdict["passed"]`` False/True), and
  the guard then falls back or accepts.

The principle is resolved per run (:func:`resolve_principle`): the state's ``principle``,
else ``config["configurable"]["principle"]``, else the node's default, so one compiled
graph serves many principles. Every verdict is also written to the custom stream
(``graph.astream(..., stream_mode="custom")`` yields ``{"ra_verdict": verdict, "node": ...}``).
The judge call is a child run of its node (named :data:`JUDGE_RUN_NAME`, visible in
LangSmith and ``astream_events``), and its OpenTelemetry span nests under the caller's.

Nodes are async (the judge's async path) and also run under ``graph.invoke``.

Judge calls: one per rank node run, whatever N; each makes the judge's ``permutations``
backend calls, plus a re-ask per unusable answer (at most its ``max_retries``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypedDict

from ra_agents import (
    DEFAULT_THRESHOLD,
    BackendError,
    Judging,
    MissingDependencyError,
    OnJudgeError,
    Policy,
    PolicyOutcome,
    PrincipleLike,
    PromptLike,
    UsageError,
    VerdictError,
    accepts,
    error_to_dict,
    prompt_text,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.acceptance import check_on_judge_error, check_threshold, resolve_on_judge_error
from ra_agents.feedback import JUDGE_RUN_NAME
from ra_agents.policy import acheck_policy
from ra_agents.principles import principle_text
from ra_agents.protocol import render_candidate
from ra_agents.sync import run_sync

try:
    from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
    from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
    from langchain_core.runnables.config import ensure_config, merge_configs
    from langgraph.config import get_stream_writer
    from langgraph.graph import END
    from langgraph.graph.message import add_messages
    from langgraph.types import Command, Overwrite, Send, interrupt
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("langgraph", "langgraph", "The LangGraph integration") from exc

__all__ = [
    "Verdict",
    "BestOfNState",
    "PlanState",
    "Decision",
    "GuardPolicy",
    "FEEDBACK_TEMPLATE",
    "JUDGE_RUN_NAME",
    "collect",
    "resolve_principle",
    "judge_candidates",
    "fan_out",
    "make_generate_node",
    "make_rank_node",
    "make_plan_rank_node",
    "make_policy_node",
    "verdict_from_policy",
    "decide",
    "feedback_of",
    "make_guard_node",
]

Decision = Literal["accept", "retry", "escalate", "fallback"]

FEEDBACK_TEMPLATE = "A reviewer rejected your previous answers. Improve on this feedback and answer again:\n{feedback}"
"""How the judge's feedback is shown to the generator on a retry."""


Verdict: TypeAlias = dict[str, Any]
"""The judge's verdict as plain, checkpointable state.

It is :func:`ra_agents.verdict_to_dict` of the judge's :class:`~ra_agents.JudgeResult`
(read it back with :func:`ra_agents.verdict_from_dict`): ``names``, ``scores``,
``ranking``, ``best``, ``normalized``, ``expected_scores``, ``reasoning`` (in the
candidates' names), ``passes``, ``model``, ``scale``, ``principle`` ... The candidates are
named by index (``"0"``, ``"1"``...), so ``int(verdict["best"])`` is the winner's index.
Some nodes add keys of their own:

- ``error``: the judge failed and ``on_judge_error`` recorded it
  (:func:`ra_agents.error_to_dict`: ``type``, ``message`` and the error's fields); the
  verdict then has no scores, only ``principle``, ``best`` (the kept candidate) and
  ``passed``;
- ``passed``: the node's own decision (policy verdicts, recorded failures); the guard
  routes on it;
- ``failed_rule``, ``rule_scores``, ``skipped``: (policy verdicts) the first failing rule
  (the verdict's fields are then that rule's), the answer's unit score under each judged
  rule, and the rules not judged because an earlier one failed.
"""


def collect(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer for candidate lists: appends parallel writes; writing ``None`` clears the list.

    The nodes here clear lists with LangGraph's ``Overwrite([])`` instead, which bypasses
    whatever reducer the key has, so ``operator.add`` or a reducer of your own works too.
    """
    if right is None:
        return []
    return [*(left or []), *right]


class BestOfNState(TypedDict, total=False):
    """State of the best-of-n and guarded-answer graphs.

    Attributes:
        prompt: the user's prompt (input): text, or chat messages.
        messages: the conversation (input), read when there is no ``prompt``; the graphs
            here never write it, so it has no reducer (and is absent unless given).
        principle: overrides the configured principle for this run (input).
        n: number of candidates (input; the builder's default otherwise).
        candidates: the generated candidates, in generation order.
        answer: the chosen candidate (or the fallback / a human's edit).
        verdict: the judge's last verdict.
        attempts: regenerations so far.
        feedback: the judge's feedback given to the last regeneration.
        decision: the guard's last decision.
    """

    prompt: PromptLike
    messages: list[AnyMessage]
    principle: str
    n: int
    candidates: Annotated[list[str], collect]
    answer: str
    verdict: Verdict
    attempts: int
    feedback: str
    decision: str


class PlanState(TypedDict, total=False):
    """State of the plan-then-act graph: a conversation plus the plans under judgement."""

    messages: Annotated[list[AnyMessage], add_messages]
    principle: str
    n: int
    plans: Annotated[list[AIMessage], collect]
    verdict: Verdict


# ------------------------------------------------------------------------ judging

_JUDGE_FAILURES = (BackendError, VerdictError)
"""What ``on_judge_error`` covers: the judge's backend failed, or it gave no usable verdict.
A caller's mistake (:class:`~ra_agents.UsageError`: no principle, no candidates) always raises."""


def resolve_principle(
    state: Mapping[str, Any], config: RunnableConfig | None, default: PrincipleLike | None, *, key: str = "principle"
) -> PrincipleLike:
    """The principle for this run: ``state[key]``, else ``config["configurable"][key]``, else ``default``.

    Raises:
        UsageError: none of the three is set.
    """
    configurable = (config or {}).get("configurable") or {}
    principle = state.get(key) or configurable.get(key) or default
    if not principle:
        raise UsageError(
            f"no principle: put {key!r} in the graph state, in config['configurable'][{key!r}], "
            "or give the node a default principle="
        )
    return principle


def _state_prompt(state: Mapping[str, Any], prompt_key: str | None, messages_key: str, node: str) -> str:
    """The prompt the node's candidates answer: ``state[prompt_key]``, else ``state[messages_key]``.

    Either may hold text or chat messages; :func:`ra_agents.prompt_text` reads it.

    Raises:
        UsageError: the state holds neither.
    """
    if prompt_key is not None and state.get(prompt_key) is not None:
        return prompt_text(state[prompt_key])
    if state.get(messages_key):
        return prompt_text(state[messages_key])
    where = f"state[{prompt_key!r}] or the conversation in " if prompt_key is not None else ""
    raise UsageError(f"node {node!r} needs the prompt the candidates answer in {where}state[{messages_key!r}]")


def _on_judge_error(
    on_judge_error: OnJudgeError | None, record_errors: bool | None, default: OnJudgeError
) -> OnJudgeError:
    """The node's ``on_judge_error``, reading the deprecated ``record_errors`` (True: "fail_closed", False: "raise")."""
    old = None if record_errors is None else ("fail_closed" if record_errors else "raise")
    return resolve_on_judge_error(on_judge_error, default=default, old_name="record_errors", old_value=old)


def _failure_verdict(
    exc: BackendError | VerdictError, principle: PrincipleLike, on_judge_error: OnJudgeError, best: str
) -> Verdict:
    """The verdict recording a judge failure: the error, the principle, the kept candidate, and the decision."""
    return {
        "principle": principle_text(principle),
        "error": error_to_dict(exc),
        "best": best,
        "passed": on_judge_error == "fail_open",
    }


async def judge_candidates(
    judge: Judging,
    prompt: PromptLike,
    candidates: Sequence[Any],
    *,
    state: Mapping[str, Any],
    config: RunnableConfig | None,
    default_principle: PrincipleLike | None,
    node: str,
    on_judge_error: OnJudgeError | None = None,
    record_errors: bool | None = None,
) -> Verdict:
    """Resolve the principle, judge all ``candidates`` in one listwise call, stream the verdict.

    Args:
        judge: the judge (anything :class:`ra_agents.Judging`).
        prompt: what the candidates answer (text, or anything :func:`ra_agents.prompt_text` reads).
        candidates: the candidates (strings or messages), named ``"0"``, ``"1"``... in the verdict.
        state: the graph state (for the principle).
        config: the node's config (for ``configurable.principle``).
        default_principle: the node's default principle.
        node: the node name reported in the stream.
        on_judge_error: ``"raise"`` (default) lets a judge failure through; ``"fail_closed"``
            / ``"fail_open"`` return a verdict recording it (candidate ``"0"`` kept, ``passed``
            False / True).
        record_errors: deprecated; True is ``on_judge_error="fail_closed"``, False ``"raise"``.
    """
    mode = _on_judge_error(on_judge_error, record_errors, "raise")
    principle = resolve_principle(state, config, default_principle)
    if not candidates:
        raise UsageError(f"node {node!r} found no candidates to judge; generate some before ranking")

    async def call(request: dict[str, Any]) -> Verdict:
        result = await judge.ajudge(request["principle"], request["prompt"], request["candidates"])
        return verdict_to_dict(result)

    # A child run of the node, so LangSmith traces and astream_events show the judge call.
    judge_run = RunnableLambda(call, name=JUDGE_RUN_NAME)
    try:
        request = {"principle": principle, "prompt": prompt_text(prompt), "candidates": list(candidates)}
        verdict = await judge_run.ainvoke(request, config)
    except _JUDGE_FAILURES as exc:
        if mode == "raise":
            raise
        verdict = _failure_verdict(exc, principle, mode, best="0")
    _write_stream({"ra_verdict": verdict, "node": node})
    return verdict


def _write_stream(chunk: dict[str, Any]) -> None:
    """Send ``chunk`` to the custom stream (a no-op outside a graph run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer(chunk)


# ------------------------------------------------------------------------ nodes


class _AsyncNode(Runnable[Any, dict[str, Any]]):
    """A node written once, async, that also runs under ``graph.invoke``.

    The sync path runs the coroutine on ra-agents' event-loop thread; the hand-over
    carries the caller's context along, so LangGraph's config, its stream writer and the
    current OpenTelemetry span are still there. Unlike ``RunnableLambda`` it adds no run
    of its own: traces show the graph's node, then the judge or model under it.
    """

    def __init__(
        self, afunc: Callable[[dict[str, Any], RunnableConfig], Coroutine[Any, Any, dict[str, Any]]], name: str
    ):
        self.afunc = afunc
        self.name = name

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self.afunc(input, ensure_config(config))

    def invoke(self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return run_sync(self.afunc(input, ensure_config(config)), async_name="graph.ainvoke")


# --------------------------------------------------------------------- generation


def fan_out(node: str, n: int | str = "n", *, default_n: int = 3) -> Callable[[Mapping[str, Any]], list[Send]]:
    """A conditional-edge function that sends the state to ``node`` ``n`` times in parallel.

    Args:
        node: the generator node (see :func:`make_generate_node`).
        n: how many candidates: a number, or a state key holding one.
        default_n: used when the state key is missing.
    """

    def send(state: Mapping[str, Any]) -> list[Send]:
        count = state.get(n, default_n) if isinstance(n, str) else n
        if not isinstance(count, int) or count < 1:
            raise UsageError(f"the number of candidates must be a positive integer, got {count!r}")
        return [Send(node, {**state, "candidate_index": i}) for i in range(count)]

    return send


def make_generate_node(
    model: Runnable,
    *,
    output_key: str = "candidates",
    prompt_key: str = "prompt",
    messages_key: str = "messages",
    keep_message: bool = False,
    name: str = "generate",
) -> Runnable[Any, dict[str, Any]]:
    """A node that generates ONE candidate from the state a :func:`fan_out` ``Send`` carries.

    The model sees ``state[messages_key]`` when present, else ``state[prompt_key]`` as a
    human message; on a retry, the state's ``feedback`` is added as a last human message.
    The candidate's index is in the model's run metadata (``candidate_index``).

    Args:
        model: a chat model or any runnable from messages to a message or text.
        output_key: the state key (with the :func:`collect` reducer) receiving the candidate.
        prompt_key: the state key of the prompt.
        messages_key: the state key of the conversation.
        keep_message: keep the whole message (tool plans) instead of its text.
        name: the node's run name.
    """

    async def generate(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        index = state.get("candidate_index", 0)
        run_config = merge_configs(config, {"metadata": {"candidate_index": index}, "run_name": f"candidate-{index}"})
        output = await model.ainvoke(_generator_input(state, prompt_key, messages_key), run_config)
        if not keep_message:
            output = _text(output)
        elif isinstance(output, str):
            output = AIMessage(content=output)
        return {output_key: [output]}

    return _AsyncNode(generate, name)


def _generator_input(state: Mapping[str, Any], prompt_key: str, messages_key: str) -> list[BaseMessage]:
    messages = list(state.get(messages_key) or [])
    if not messages:
        if prompt_key not in state:
            raise UsageError(f"the state has neither {messages_key!r} nor {prompt_key!r} to generate from")
        messages = [HumanMessage(content=state[prompt_key])]
    if state.get("feedback"):
        messages.append(HumanMessage(content=FEEDBACK_TEMPLATE.format(feedback=state["feedback"])))
    return messages


def _text(output: Any) -> str:
    content = getattr(output, "content", output)
    return content if isinstance(content, str) else render_candidate(content)


# ------------------------------------------------------------------------ ranking


def make_rank_node(
    judge: Judging,
    *,
    principle: PrincipleLike | None = None,
    candidates_key: str = "candidates",
    prompt_key: str = "prompt",
    messages_key: str = "messages",
    answer_key: str = "answer",
    verdict_key: str = "verdict",
    on_judge_error: OnJudgeError | None = None,
    record_errors: bool | None = None,
    name: str = "rank",
) -> Runnable[Any, dict[str, Any]]:
    """A best-of-n node: one listwise judge call over ``state[candidates_key]``, keep the best.

    The prompt is ``state[prompt_key]`` (text or chat messages), else the conversation in
    ``state[messages_key]``. Writes ``{answer_key: best candidate, verdict_key: verdict}``
    (a :data:`Verdict`).

    Args:
        judge: the judge (a :class:`~ra_agents.Judge`, or an HTTP client).
        principle: the default principle (state and config override it).
        candidates_key: the state key of the candidates.
        prompt_key: the state key of the prompt.
        messages_key: the state key of the conversation, read when there is no prompt.
        answer_key: the state key receiving the best candidate.
        verdict_key: the state key receiving the verdict.
        on_judge_error: ``"raise"`` (default) lets a judge failure through; ``"fail_closed"``
            records it (``verdict["error"]``, the first candidate kept) for a guard to fall
            back on; ``"fail_open"`` records it too, and a guard accepts the first candidate.
        record_errors: deprecated; True is ``on_judge_error="fail_closed"``, False ``"raise"``.
        name: the node's run name.
    """
    mode = _on_judge_error(on_judge_error, record_errors, "raise")

    async def rank(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        candidates = _as_list(state.get(candidates_key))
        prompt = _state_prompt(state, prompt_key, messages_key, name)
        verdict = await judge_candidates(
            judge,
            prompt,
            candidates,
            state=state,
            config=config,
            default_principle=principle,
            node=name,
            on_judge_error=mode,
        )
        return {answer_key: candidates[int(verdict["best"])], verdict_key: verdict}

    return _AsyncNode(rank, name)


def make_plan_rank_node(
    judge: Judging,
    *,
    principle: PrincipleLike | None = None,
    plans_key: str = "plans",
    messages_key: str = "messages",
    verdict_key: str = "verdict",
    on_judge_error: OnJudgeError = "raise",
    name: str = "rank_plans",
) -> Runnable[Any, dict[str, Any]]:
    """Rank alternative next steps (``AIMessage`` s, usually with ``tool_calls``) before any tool runs.

    The judge reads the conversation so far (``state[messages_key]``, through
    :func:`ra_agents.prompt_text`) as the prompt and each plan rendered with its tool
    calls. Only the winner is appended to ``state[messages_key]``; the plans are cleared
    with ``Overwrite([])``, which bypasses the key's reducer, so the plans key may use any
    list reducer (``operator.add``, :func:`collect`, one of your own) for the parallel
    writes of the plan generators. ``on_judge_error`` is as for :func:`make_rank_node`
    (a recorded failure keeps the first plan).
    """
    mode = check_on_judge_error(on_judge_error)

    async def rank_plans(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        plans = _as_list(state.get(plans_key))
        verdict = await judge_candidates(
            judge,
            _state_prompt(state, None, messages_key, name),
            plans,
            state=state,
            config=config,
            default_principle=principle,
            node=name,
            on_judge_error=mode,
        )
        return {messages_key: [plans[int(verdict["best"])]], verdict_key: verdict, plans_key: Overwrite([])}

    return _AsyncNode(rank_plans, name)


def verdict_from_policy(outcome: PolicyOutcome, policy: Policy) -> Verdict:
    """The :data:`Verdict` for one answer checked against an ordered policy.

    It is the deciding rule's verdict (the first failing rule, else the last rule judged)
    as :func:`ra_agents.verdict_to_dict` writes it, plus ``passed``, ``failed_rule``
    (``""`` when every rule passed), ``rule_scores`` and ``skipped``.
    """
    deciding = outcome.failed or policy.rules[-1].name
    return {
        **verdict_to_dict(outcome.verdicts[deciding]),
        "passed": outcome.passed,
        "failed_rule": outcome.failed or "",
        "rule_scores": dict(outcome.scores),
        "skipped": list(outcome.skipped),
    }


def make_policy_node(
    judge: Judging,
    policy: Policy | Mapping[str, Any],
    *,
    prompt_key: str = "prompt",
    messages_key: str = "messages",
    answer_key: str = "answer",
    verdict_key: str = "verdict",
    on_judge_error: OnJudgeError | None = None,
    record_errors: bool | None = None,
    name: str = "policy",
) -> Runnable[Any, dict[str, Any]]:
    """A node that checks ``state[answer_key]`` against an ordered policy, rule by rule.

    Rules are judged in order (one listwise call each, as a child run named
    :data:`JUDGE_RUN_NAME`) and judging stops at the first failing rule, so, e.g., safety
    must pass before tone is even judged. Each rule accepts by its own threshold, with
    :func:`ra_agents.accepts`' rule (the answer's unit score). Writes ``{verdict_key:
    verdict}`` (:func:`verdict_from_policy`) with ``passed`` set, which :func:`decide` and
    :func:`make_guard_node` route on; a retry's feedback names the failing rule's principle
    and reasoning. The prompt is ``state[prompt_key]``, else ``state[messages_key]``.

    Args:
        on_judge_error: ``"fail_closed"`` (default) records a judge failure as
            ``verdict["error"]`` with ``passed`` False (the guard falls back);
            ``"fail_open"`` records it with ``passed`` True (the guard accepts);
            ``"raise"`` lets it through.
        record_errors: deprecated; True is ``on_judge_error="fail_closed"``, False ``"raise"``.
    """
    checked = Policy.of(policy)
    mode = _on_judge_error(on_judge_error, record_errors, "fail_closed")

    async def check(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if answer_key not in state:
            raise UsageError(f"node {name!r} needs the answer to check in state[{answer_key!r}]")
        prompt = _state_prompt(state, prompt_key, messages_key, name)

        async def call(request: dict[str, Any]) -> PolicyOutcome:
            return await acheck_policy(judge, checked, request["prompt"], request["answer"])

        judge_run = RunnableLambda(call, name=JUDGE_RUN_NAME)
        try:
            outcome = await judge_run.ainvoke({"prompt": prompt, "answer": state[answer_key]}, config)
            verdict = verdict_from_policy(outcome, checked)
        except _JUDGE_FAILURES as exc:
            if mode == "raise":
                raise
            verdict = _failure_verdict(exc, checked.rules[0].principle, mode, best="output")
        _write_stream({"ra_verdict": verdict, "node": name})
        return {verdict_key: verdict}

    return _AsyncNode(check, name)


def _as_list(value: Any) -> list[Any]:
    """A state list; an ``Overwrite`` read back from a key without a reducer is unwrapped."""
    if isinstance(value, Overwrite):
        value = value.value
    return list(value or [])


# ------------------------------------------------------------------------ routing


@dataclass(frozen=True)
class GuardPolicy:
    """How :func:`make_guard_node` routes on a verdict.

    Attributes:
        threshold: accept when the winner's unit score reaches this
            (:func:`ra_agents.accepts`: the logprob expected score in [0, 1] when the judge
            gave logprobs, else the normalised integer score). Defaults to
            :data:`ra_agents.DEFAULT_THRESHOLD` (0.5: a 3 on the 1-5 scale).
        min_score: accept when the winner's RAW score (on the judge's scale, e.g. 1-5)
            reaches this; replaces ``threshold`` (and the unit score) when set.
        max_retries: regenerations allowed before escalating or falling back.
        escalate: ask a human (``interrupt``) once retries are spent; else fall back.
        accept: node to go to on acceptance (``END`` by default).
        retry: node that starts a regeneration.
        fallback: node for the fallback answer.
        verdict_key: the state key of the verdict.
        answer_key: the state key of the chosen answer (a human may edit it).

    Policy verdicts (:func:`make_policy_node`) and recorded judge failures carry their own
    ``passed``, which the guard follows; what a judge failure means is the judging node's
    ``on_judge_error``.
    """

    threshold: float = DEFAULT_THRESHOLD
    min_score: float | None = None
    max_retries: int = 1
    escalate: bool = True
    accept: str = END
    retry: str = "regenerate"
    fallback: str = "fallback"
    verdict_key: str = "verdict"
    answer_key: str = "answer"

    def __post_init__(self) -> None:
        check_threshold(self.threshold, "GuardPolicy threshold")
        if self.max_retries < 0:
            raise UsageError(f"max_retries must be 0 or more, got {self.max_retries}")

    @property
    def destinations(self) -> tuple[str, ...]:
        """The nodes the guard may go to (for ``add_node(..., destinations=...)``)."""
        return (self.accept, self.retry, self.fallback)


def decide(verdict: Mapping[str, Any], attempts: int, policy: GuardPolicy) -> Decision:
    """The routing decision for a verdict after ``attempts`` regenerations (pure).

    A recorded judge failure is accepted when its node failed open and falls back
    otherwise (never retried); a verdict with ``passed`` (a policy's) follows it; any other
    accepts its winner by :func:`ra_agents.accepts` (or by ``min_score``, on raw scores).
    """
    if verdict.get("error"):
        return "accept" if verdict.get("passed") else "fallback"
    if "passed" in verdict:  # a policy verdict: every rule had its own threshold
        passed = bool(verdict["passed"])
    else:
        result = verdict_from_dict(verdict)
        if policy.min_score is not None:
            passed = result.scores[result.best] >= policy.min_score
        else:
            passed = accepts(result, result.best, policy.threshold)
    if passed:
        return "accept"
    if attempts < policy.max_retries:
        return "retry"
    return "escalate" if policy.escalate else "fallback"


def feedback_of(verdict: Mapping[str, Any]) -> str:
    """The feedback a regeneration gets: the winner's score, the principle and the judge's reasoning."""
    result = verdict_from_dict(verdict)
    score, high = result.scores[result.best], result.scale[1]
    if verdict.get("failed_rule"):
        head = f"The answer failed rule {verdict['failed_rule']!r}, scoring {score:g} of {high}"
    else:
        head = f"The best answer scored {score:g} of {high}"
    head += f" under the principle: {result.principle}"
    reasoning = result.reasoning.strip()
    return f"{head}\n{reasoning}" if reasoning else head


def make_guard_node(policy: GuardPolicy = GuardPolicy()) -> Callable[[Any], Command]:
    """A node that routes on ``state[policy.verdict_key]`` with ``Command(goto=...)``.

    Counts regenerations in ``state["attempts"]``, puts the judge's feedback in
    ``state["feedback"]`` and records ``state["decision"]``. Escalation calls
    ``interrupt({"verdict", "answer", "question"})``: run the graph with a checkpointer
    and resume with ``Command(resume=...)``: ``"accept"``/``True`` keeps the answer,
    ``{"answer": "..."}`` (or any other text) replaces it, ``"reject"``/``False`` falls back.
    """

    def guard(state: dict[str, Any]) -> Command:
        verdict = state[policy.verdict_key]
        attempts = state.get("attempts", 0)
        decision = decide(verdict, attempts, policy)
        if decision == "accept":
            return Command(goto=policy.accept, update={"decision": "accept"})
        if decision == "retry":
            update = {"decision": "retry", "attempts": attempts + 1, "feedback": feedback_of(verdict)}
            return Command(goto=policy.retry, update=update)
        if decision == "fallback":
            return Command(goto=policy.fallback, update={"decision": "fallback"})
        reply = interrupt(
            {
                "question": "The judge did not accept any answer. Accept, edit or reject it?",
                "answer": state.get(policy.answer_key),
                "verdict": verdict,
            }
        )
        return _human_command(reply, policy)

    return guard


def _human_command(reply: Any, policy: GuardPolicy) -> Command:
    """Route on a human's resume value."""
    action = reply.get("action", "edit") if isinstance(reply, Mapping) else reply
    if action in (True, "accept"):
        return Command(goto=policy.accept, update={"decision": "human_accept"})
    if action in (False, None, "reject"):
        return Command(goto=policy.fallback, update={"decision": "human_reject"})
    answer = reply.get("answer") if isinstance(reply, Mapping) else reply
    if not isinstance(answer, str) or not answer.strip():
        raise UsageError(
            f"cannot resume with {reply!r}: resume with 'accept', 'reject', or the answer to use "
            "(a text or {'answer': '...'})"
        )
    return Command(goto=policy.accept, update={"decision": "human_edit", policy.answer_key: answer})
