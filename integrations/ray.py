"""Distributed batch judging on Ray Data: many workers, many vLLM replicas.

For offline evaluation or RL data filtering over millions of rows, :func:`judge_dataset`
spreads the judge over a pool of Ray actors (one judge per actor, built once) that reach
the model servers through the LiteLLM backend; several server URLs become replicas behind
LiteLLM's Router::

    import ray
    from ra_agents.integrations.ray import judge_dataset

    ds = ray.data.read_json("requests/")  # rows: id, principle, prompt, responses
    verdicts = judge_dataset(
        ds,
        model="hosted_vllm/rewardanything",
        api_base=["http://gpu-a:8000/v1", "http://gpu-b:8000/v1"],  # replicas
        concurrency=4,                      # actors
        judge_options={"concurrency": 32},  # requests in flight per actor
    )
    verdicts.write_parquet("verdicts/")

Any other judge works too: ``judge=`` takes a function that builds a
:class:`ra_agents.Judging` in each actor, e.g. ``judge=functools.partial(ra_agents.Client,
"http://judge:8080")`` to judge through an ``ra-agents serve`` server (the function is
pickled to the actors; the judge it builds never is).

From the command line, ``ra-agents judge -i in.jsonl -o out.jsonl --ray [ADDRESS]`` does
the same for a JSONL file and writes the rows the non-Ray command writes.

Rows in, rows out
    Every input row gives exactly one output row with the input's ``id`` (``id_column``):
    either the verdict (``ok`` true) or the error that row met (``ok`` false, ``error``
    the error type, ``message`` what went wrong). A malformed row (no prompt, bad
    responses, a request that is not JSON) is an error row, never a dropped one; a
    backend failure is an error row too. Rows come out in the order Ray Data emits them,
    which is input order only with ``DataContext.get_current().execution_options.preserve_order
    = True``; the ids map them back in any case (the command line writes input order).

Input columns
    A request is read from a ``request`` column (``request_column``) when the dataset has
    one: a JSON text or a mapping, in the JSONL request format. Otherwise from the columns
    ``principle``, ``prompt``, ``responses``, ``permutations``, ``seed``; other columns are
    ignored (or copied through with ``keep_columns``). A prompt may be text or chat
    messages: it is read by :func:`ra_agents.prompt_text`, as every entry point reads it
    (messages whose contents differ in type, text here and blocks there, fit Arrow only
    inside a JSON ``request``). Arrow stores a column of mappings as
    one struct type whose fields are the union of every row's keys, so a ``responses``
    mapping gets ``null`` for the names of other rows: null candidates are dropped (and
    the nulls of a ``principle`` mapping). Columns of one type per row are safest: keep
    candidates as lists or ``responses`` as JSON text, or the whole request as JSON text,
    when rows differ in shape (Arrow cannot hold a mapping in one row and a list in another).

Output columns (:data:`VERDICT_COLUMNS`)
    ``ok``; ``verdict``, the whole verdict as JSON text in its one serialisation
    (:func:`ra_agents.verdict_to_dict`, raw answer texts included), or ``error``, the
    error as JSON text (:func:`ra_agents.error_to_dict`: its type, message and fields);
    and, to filter on without parsing, ``names`` (candidates in request order),
    ``unit_scores`` (aligned with ``names``: what :func:`ra_agents.accepts` compares to a
    threshold) and ``best``. :func:`row_verdict` and :func:`row_error` read a row back
    as the :class:`~ra_agents.JudgeResult` or the error, of the same type.

Inside an actor
    ``__call__`` gets a batch of ``batch_size`` rows and runs ``judge.ajudge_batch`` for
    the whole batch on the actor's one event loop (:func:`ajudge_table`, which runs
    without Ray too), with ``judge_options["concurrency"]``
    requests in flight (the judge's default, 8, otherwise). Actors mostly wait on the
    servers, so each reserves half a CPU by default (``num_cpus``).

Pointing it at a real cluster
    - One machine: nothing to do; ``ray.init()`` (or the first use of Ray Data) starts a
      local cluster. ``--ray`` without an address does that, or attaches to the cluster a
      ``ray start`` on this machine started.
    - Several machines: ``ray start --head`` on one, ``ray start --address=HEAD:6379`` on
      the others. A driver on a cluster node attaches with ``ray.init("auto")`` (``--ray
      auto``); a driver elsewhere goes through Ray Client, ``ray.init("ray://HEAD:10001")``
      (``--ray ray://HEAD:10001``).
    - Every node needs the same ``ra-agents[ray]`` installed (the actors import this
      module), or pass ``runtime_env={"pip": ["ra-agents[ray]"]}`` to ``ray.init``.
    - Several vLLM replicas: ``api_base=[url, url, ...]`` (``--api-base url,url`` with
      ``--ray``). Every actor's judge spreads its requests over all of them through
      LiteLLM's Router; a failed request is retried, on another replica when one is up.
      Requests in flight across the replicas are actors x ``judge_options["concurrency"]``:
      size that to what the replicas batch (vLLM's ``--max-num-seqs`` each).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ra_agents import (
    BackendError,
    BatchItem,
    Completion,
    GenerationSettings,
    Judge,
    JudgeRequest,
    JudgeResult,
    Judging,
    Message,
    MissingDependencyError,
    RAError,
    UsageError,
    error_from_dict,
    error_to_dict,
    prompt_text,
    verdict_from_dict,
    verdict_to_dict,
)
from ra_agents.sync import run_sync

if TYPE_CHECKING:
    from ray.data import Dataset

_Table = Any
"""A ``pyarrow.Table`` (pyarrow ships no type information, so it is typed loosely here)."""

__all__ = [
    "judge_dataset",
    "ajudge_table",
    "row_verdict",
    "row_error",
    "ray_session",
    "judge_requests_on_ray",
    "VERDICT_COLUMNS",
]

VERDICT_COLUMNS: tuple[str, ...] = ("ok", "names", "unit_scores", "best", "verdict", "error")
"""The columns :func:`judge_dataset` adds after the id, in order."""

JudgeFactory = Callable[[], Judging]
"""Builds the judge inside each actor (pickled to the actors, so a function, not a judge)."""

_REQUEST_FIELDS = ("principle", "prompt", "responses", "permutations", "seed")
_OPTIONAL_FIELDS = ("permutations", "seed")
_SPEC_ARGUMENTS = {"self", "cls", "model", "api_base", "api_bases", "api_key", "router", "kwargs"}


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError("ray[data]", "ray", "Distributed judging on Ray Data") from exc
    return ray


# ------------------------------------------------------------------ the actor


@dataclass(frozen=True)
class _JudgeSpec:
    """What every actor builds its judge from (pickled to the actors)."""

    model: str
    api_base: str | tuple[str, ...] | None
    api_key: str | None
    judge_options: Mapping[str, Any] = field(default_factory=dict)
    backend_options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Judge:
        from ra_agents.settings import resolve_backend

        bases = list(self.api_base) if isinstance(self.api_base, tuple) else self.api_base
        backend = resolve_backend(self.model, bases, self.api_key, **dict(self.backend_options))
        return Judge(backend, **dict(self.judge_options))


class _JudgeActor:
    """A Ray Data callable class: one judge per actor, one ``ajudge_batch`` per batch."""

    def __init__(
        self, make_judge: JudgeFactory, id_column: str, request_column: str | None, keep_columns: Sequence[str]
    ) -> None:
        self.judge = make_judge()
        self.id_column = id_column
        self.request_column = request_column
        self.keep_columns = tuple(keep_columns)

    def __call__(self, batch: _Table) -> _Table:
        return run_sync(
            ajudge_table(
                self.judge,
                batch,
                id_column=self.id_column,
                request_column=self.request_column,
                keep_columns=self.keep_columns,
            ),
            async_name="ajudge_table",
        )


async def ajudge_table(
    judge: Judging,
    batch: _Table,
    *,
    id_column: str = "id",
    request_column: str | None = "request",
    keep_columns: Sequence[str] = (),
) -> _Table:
    """Judge the rows of one Arrow table in one ``ajudge_batch``: what every actor of :func:`judge_dataset` runs.

    Args:
        judge: any :class:`ra_agents.Judging`.
        batch: a ``pyarrow.Table`` of requests (see the module docs for the columns).
        id_column, request_column, keep_columns: as for :func:`judge_dataset`.

    Returns:
        The output table: ``id_column``, :data:`VERDICT_COLUMNS`, ``keep_columns``; one
        row per input row, in input order.

    Raises:
        UsageError: the table lacks ``id_column`` or one of ``keep_columns``.
    """
    missing = [c for c in (id_column, *keep_columns) if c not in batch.column_names]
    if missing:
        raise UsageError(f"the dataset has no column {missing[0]!r}; its columns are {batch.column_names}")
    rows = batch.to_pylist()
    outcomes: list[BatchItem | None] = [None] * len(rows)
    pending: list[tuple[int, JudgeRequest]] = []
    for i, row in enumerate(rows):
        try:
            pending.append((i, _request_of(row, request_column, row.get(id_column))))
        except RAError as exc:
            outcomes[i] = exc
        except Exception as exc:  # noqa: BLE001 - an odd value sinks its row, never the batch
            outcomes[i] = UsageError(f"request {row.get(id_column)!r} is unreadable: {exc}")
    if pending:
        try:
            done = await judge.ajudge_batch([req for _, req in pending])
        except Exception as exc:  # noqa: BLE001 - rows must come out, as errors
            done = [BackendError(f"the batch failed unexpectedly: {type(exc).__name__}: {exc}")] * len(pending)
        for (i, _), item in zip(pending, done, strict=True):
            outcomes[i] = item
    return _output_table(batch, id_column, keep_columns, outcomes)


def _request_of(row: Mapping[str, Any], request_column: str | None, rid: Any) -> JudgeRequest:
    """The request a row holds; :class:`UsageError` naming the row when it is malformed."""
    if request_column is not None and request_column in row:
        raw = row[request_column]
        if isinstance(raw, str | bytes):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"request {rid!r} is not valid JSON: {exc}") from None
        elif isinstance(raw, Mapping):
            raw = _without_nulls(raw)
        if not isinstance(raw, Mapping):
            raise UsageError(f"request {rid!r} must be a JSON object, got {type(raw).__name__}")
        data = dict(raw)
    else:
        data = _without_nulls({k: row[k] for k in _REQUEST_FIELDS if k in row})
    if data.get("prompt") is not None and not isinstance(data["prompt"], str):
        try:
            data["prompt"] = prompt_text(_compact(data["prompt"]))
        except UsageError as exc:
            raise UsageError(f"request {rid!r} has an unreadable prompt: {exc}") from None
    return JudgeRequest.read(data, name=repr(rid))


def _without_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    """A request from Arrow columns: nulls Arrow filled in (struct fields, optional columns) dropped."""
    out = {}
    for key, value in data.items():
        if key in _OPTIONAL_FIELDS and (value is None or (isinstance(value, float) and math.isnan(value))):
            continue
        if key == "responses" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if v is not None}
        if key == "principle" and isinstance(value, Mapping):
            value = _compact(value)  # its criteria are structs too
        if key == "responses" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)  # candidates kept as JSON text
        out[key] = value
    return out


def _compact(value: Any) -> Any:
    """``value`` without the nulls of mappings, at any depth."""
    if isinstance(value, Mapping):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _pyarrow() -> Any:
    return importlib.import_module("pyarrow")  # comes with ray[data]


def _verdict_schema() -> Any:
    pa = _pyarrow()
    types = {"ok": pa.bool_(), "names": pa.list_(pa.string()), "unit_scores": pa.list_(pa.float64())}
    return pa.schema([(name, types.get(name, pa.string())) for name in VERDICT_COLUMNS])


def _columns_of(item: BatchItem | None) -> dict[str, Any]:
    if isinstance(item, JudgeResult):
        return {
            "ok": True,
            "names": list(item.names),
            "unit_scores": [item.unit_score(n) for n in item.names],
            "best": item.best,
            "verdict": json.dumps(verdict_to_dict(item), ensure_ascii=False),
        }
    error = item if item is not None else BackendError("no outcome was recorded for this row")
    return {"ok": False, "error": json.dumps(error_to_dict(error), ensure_ascii=False, default=str)}


def _output_table(
    batch: _Table, id_column: str, keep_columns: Sequence[str], outcomes: Sequence[BatchItem | None]
) -> _Table:
    table = _pyarrow().Table.from_pylist([_columns_of(item) for item in outcomes], schema=_verdict_schema())
    table = table.add_column(0, id_column, batch.column(id_column))
    for name in keep_columns:
        table = table.append_column(name, batch.column(name))
    return table


def row_verdict(row: Mapping[str, Any]) -> JudgeResult | None:
    """An output row's verdict (:func:`ra_agents.verdict_from_dict` of its ``verdict``); ``None`` for an error row."""
    if not row.get("ok"):
        return None
    return verdict_from_dict(json.loads(row["verdict"]))


def row_error(row: Mapping[str, Any]) -> RAError | None:
    """An error row's error, as the same type with the same fields (:func:`ra_agents.error_from_dict`)."""
    if row.get("ok"):
        return None
    return error_from_dict(json.loads(row["error"]))


# --------------------------------------------------------------- the public API


def judge_dataset(
    ds: Dataset,
    *,
    model: str | None = None,
    judge: JudgeFactory | None = None,
    api_base: str | Sequence[str] | None = None,
    api_key: str | None = None,
    concurrency: int | tuple[int, int] = 1,
    batch_size: int = 64,
    judge_options: Mapping[str, Any] | None = None,
    backend_options: Mapping[str, Any] | None = None,
    id_column: str = "id",
    request_column: str | None = "request",
    keep_columns: Sequence[str] = (),
    num_cpus: float = 0.5,
) -> Dataset:
    """Judge every row of a Ray dataset; one output row per input row (see the module docs).

    Lazy, like every Ray Data transform: nothing runs until the result is consumed.

    Args:
        ds: rows holding requests, each with an id.
        model: a LiteLLM model string, e.g. ``"hosted_vllm/rewardanything"``; or, instead,
        judge: a function that builds the judge in each actor, any
            :class:`ra_agents.Judging` (``functools.partial(Client, url)`` for a judge
            server); ``api_base``, ``api_key``, ``judge_options`` and ``backend_options``
            then do not apply.
        api_base: the server's URL; a list (or comma-separated URLs) makes replicas
            behind LiteLLM's Router.
        api_key: the servers' key, if they want one.
        concurrency: actors, each with its own judge: a fixed number, or ``(min, max)``
            for an autoscaling pool.
        batch_size: rows per actor call (one ``ajudge_batch``); keep it well above the
            judge's concurrency so that a batch's slowest request is not idle time.
        judge_options: keyword arguments of :class:`~ra_agents.Judge` (``concurrency``,
            ``permutations``, ``max_tokens``, ``seed``, ...).
        backend_options: keyword arguments of the LiteLLM backend (``timeout``,
            ``num_retries``, ``extra_body``, ...; ``routing_strategy`` with replicas).
        id_column: the column that identifies rows; copied to every output row.
        request_column: a column holding the whole request (JSON text or a mapping),
            used when the dataset has it; ``None`` reads the request columns only.
        keep_columns: input columns to copy to the output unchanged (e.g. a label to
            filter on without a join).
        num_cpus: CPUs each actor reserves.

    Returns:
        The dataset of ``id_column``, then :data:`VERDICT_COLUMNS`, then ``keep_columns``.

    Raises:
        MissingDependencyError: ray is not installed.
        UsageError: bad arguments (unknown options, a missing id column, a column
            collision), found before anything runs.
    """
    ray = _ray()
    make_judge: JudgeFactory
    if judge is not None:
        if model is not None or api_base is not None or api_key is not None or judge_options or backend_options:
            raise UsageError(
                "judge= builds the whole judge; give it alone, or model= with api_base, api_key, "
                "judge_options and backend_options"
            )
        if not callable(judge) or isinstance(judge, Judging):
            raise UsageError(
                "judge= is a function that builds the judge in each actor (a judge itself is not sent to "
                "the actors), e.g. functools.partial(ra_agents.Client, 'http://judge:8080')"
            )
        make_judge = judge
    else:
        make_judge = _spec(model, api_base, api_key, judge_options, backend_options).build
    if isinstance(concurrency, int) and not isinstance(concurrency, bool):
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1 actor, got {concurrency}")
        compute = ray.data.ActorPoolStrategy(size=concurrency)
    elif isinstance(concurrency, tuple) and len(concurrency) == 2 and 1 <= concurrency[0] <= concurrency[1]:
        compute = ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    else:
        raise UsageError(
            f"concurrency must be a number of actors or (min, max) with 1 <= min <= max, got {concurrency!r}"
        )
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, got {batch_size}")
    keep = tuple(keep_columns)
    clash = [c for c in keep if c == id_column or c in VERDICT_COLUMNS]
    if clash:
        raise UsageError(f"keep_columns {clash} collide with the output columns; rename them first")
    if id_column in VERDICT_COLUMNS:
        raise UsageError(f"id_column {id_column!r} collides with an output column; rename it first")
    schema = ds.schema(fetch_if_missing=False)
    if schema is not None:
        absent = [c for c in (id_column, *keep) if c not in schema.names]
        if absent:
            raise UsageError(f"the dataset has no column {absent[0]!r}; its columns are {list(schema.names)}")
    return ds.map_batches(
        _JudgeActor,
        fn_constructor_kwargs={
            "make_judge": make_judge,
            "id_column": id_column,
            "request_column": request_column,
            "keep_columns": keep,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=compute,
        num_cpus=num_cpus,
    )


def _spec(
    model: str | None,
    api_base: str | Sequence[str] | None,
    api_key: str | None,
    judge_options: Mapping[str, Any] | None,
    backend_options: Mapping[str, Any] | None,
) -> _JudgeSpec:
    """Check the judge's settings in the driver, before any actor starts."""
    from ra_agents.backends.litellm import LiteLLMBackend

    if not isinstance(model, str) or not model:
        raise UsageError(
            "model= is required (a LiteLLM model string, e.g. 'hosted_vllm/rewardanything'), or judge= "
            "(a function that builds the judge)"
        )
    from ra_agents.settings import comma_list

    bases: str | tuple[str, ...] | None
    if isinstance(api_base, str) and "," in api_base:
        bases = tuple(comma_list(api_base))
    elif api_base is None or isinstance(api_base, str):
        bases = api_base or None
    else:
        bases = tuple(api_base)
        if not bases or not all(isinstance(b, str) and b for b in bases):
            raise UsageError(f"api_base must be a URL or a non-empty list of URLs, got {api_base!r}")
    judge_opts = dict(judge_options or {})
    try:
        Judge(_ProbeBackend(), **judge_opts)
    except TypeError as exc:
        raise UsageError(f"judge_options: {exc}; they are keyword arguments of ra_agents.Judge") from None
    backend_opts = dict(backend_options or {})
    accepted = set(inspect.signature(LiteLLMBackend).parameters)
    if isinstance(bases, tuple):
        accepted |= set(inspect.signature(LiteLLMBackend.replicas).parameters)
    unknown = sorted(set(backend_opts) - (accepted - _SPEC_ARGUMENTS))
    if unknown:
        raise UsageError(
            f"backend_options {unknown} are not options of the LiteLLM backend"
            f"{' with replicas' if isinstance(bases, tuple) else ''} (model, api_base and api_key are "
            "arguments of judge_dataset itself)"
        )
    return _JudgeSpec(model, bases, api_key, judge_opts, backend_opts)


class _ProbeBackend:
    """Stands in for the real backend while the judge's options are checked in the driver."""

    model = "probe"
    provider = "probe"
    supports_json_schema = True

    async def generate(self, messages: Sequence[Message], settings: GenerationSettings) -> Completion:
        raise AssertionError("the probe backend never generates")


@contextlib.contextmanager
def ray_session(address: str | None = None, **init_kwargs: Any) -> Iterator[Any]:
    """Attach to Ray for the block: reuse a running session, else ``ray.init(address, **init_kwargs)``.

    ``address`` ``None`` starts a local cluster, or attaches to one a ``ray start`` on this
    machine started; ``"local"`` always starts a new one; ``"auto"`` or ``"ray://host:10001"``
    attaches to an existing cluster. A session this opened is shut down at the end. Yields
    the ``ray`` module.
    """
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    ray.init(address=address, **init_kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


def judge_requests_on_ray(
    requests: Sequence[Any],
    output: str | None,
    *,
    model: str | None,
    api_base: str | Sequence[str] | None = None,
    address: str | None = None,
    actors: int = 1,
    batch_size: int = 64,
    judge_options: Mapping[str, Any] | None = None,
) -> int:
    """``ra-agents judge --input FILE --ray``: judge parsed requests on Ray, write JSONL in input order.

    ``requests`` are what the command read: request objects, or the :class:`RAError` of a
    line that was not JSON, kept in place. The rows written are those of the command
    without Ray (``index``, ``id``, ``ok``, then the verdict or ``error`` and ``message``),
    one per request, in input order. Returns the exit status: 0 when every request got a
    verdict, 1 otherwise.

    The requests are held in this process, as without Ray; for data larger than memory,
    use :func:`judge_dataset` on a dataset Ray reads itself (``ray.data.read_json``).
    """
    if actors < 1:
        raise UsageError(f"--ray-actors must be at least 1, got {actors}")
    if not model:
        from ra_agents.settings import load_config

        backend = load_config()["backend"]
        model, api_base = backend.get("model"), api_base or backend.get("api_base")
    if not model:
        raise UsageError(
            "--ray needs a served model: give --model (e.g. hosted_vllm/rewardanything) and --api-base, "
            "or set RA_AGENTS_MODEL and RA_AGENTS_API_BASE"
        )
    rows = [{"id": i, "request": json.dumps(r)} for i, r in enumerate(requests) if not isinstance(r, RAError)]
    started = time.perf_counter()
    written = {"ok": 0, "failed": 0, "tokens": 0}
    with _open_output(output) as out:
        next_index = 0
        waiting: dict[int, dict[str, Any]] = {}

        def flush() -> None:
            nonlocal next_index
            while next_index < len(requests):
                request = requests[next_index]
                if isinstance(request, RAError):
                    line = _error_line(next_index, None, request)
                elif next_index in waiting:
                    line = _cli_line(next_index, request, waiting.pop(next_index))
                else:
                    return
                written["ok" if line["ok"] else "failed"] += 1
                usage = line.get("usage") or {}
                written["tokens"] += usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                next_index += 1

        flush()
        if rows:
            with ray_session(address) as ray:
                ds = ray.data.from_items(rows)
                verdicts = judge_dataset(
                    ds,
                    model=model,
                    api_base=api_base,
                    concurrency=actors,
                    batch_size=batch_size,
                    judge_options=judge_options,
                )
                for batch in verdicts.iter_batches(batch_format="pyarrow", batch_size=None):
                    table: _Table = batch
                    for row in table.to_pylist():
                        index = int(row["id"])
                        if index in waiting or index < next_index:
                            raise RAError(f"Ray returned request {index} twice; the output is incomplete")
                        waiting[index] = row
                    flush()
        if next_index != len(requests) or waiting:
            raise RAError(
                f"Ray returned {written['ok'] + written['failed']} of {len(requests)} results; the output is incomplete"
            )
    print(
        f"judged {len(requests)} requests on Ray: {written['ok']} ok, {written['failed']} failed, "
        f"{written['tokens']} tokens, {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0 if not written["failed"] else 1


def _cli_line(index: int, request: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    rid = request.get("id") if isinstance(request, dict) else None
    verdict = row_verdict(row)
    if verdict is not None:
        return {"index": index, "id": rid, "ok": True, **verdict.to_dict()}
    return _error_line(index, rid, row_error(row) or BackendError("the row holds neither a verdict nor an error"))


def _error_line(index: int, rid: Any, error: RAError) -> dict[str, Any]:
    return {"index": index, "id": rid, "ok": False, "error": type(error).__name__, "message": str(error)}


@contextlib.contextmanager
def _open_output(output: str | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``output`` that replaces it once complete."""
    if not output:
        yield sys.stdout
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            yield file
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
