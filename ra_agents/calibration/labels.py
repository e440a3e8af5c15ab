"""Labelled cases: the JSONL format ``ra-agents calibrate`` reads, and loaders for other sources.

One JSON object per line. Every line has a ``prompt`` (text, or chat messages as the judge
takes them) and may have an ``id`` (default: the line number), a ``principle`` (text or a
principle object; used when no ``--principle`` is given) and a free ``metadata`` object.
The ``kind`` says what the humans labelled; without it, the shape says:

- ``"label"``: pass/fail of one output.
  ``{"prompt": ..., "response": "...", "label": true}``; ``label`` is true/false, 1/0, or
  "pass"/"fail" ("yes"/"no", "good"/"bad").
- ``"score"``: a human score of one output.
  ``{"prompt": ..., "response": "...", "score": 4, "scale": [1, 5]}``; without ``scale`` the
  file decides: every unscaled score within [0, 1] means 0-1, else 1-5. An output passes when
  its score's unit value ``(score - low) / (high - low)`` reaches the label threshold (0.5 by
  default: a 3 on 1-5), unless the line also gives a ``label``.
- ``"pair"``: a chosen/rejected pair. ``{"prompt": ..., "chosen": "...", "rejected": "..."}``.
- ``"ranking"``: a full reference ranking of several outputs.
  ``{"prompt": ..., "responses": {"a": "...", "b": "...", "c": "..."}, "ranking": ["b", "a", "c"]}``
  (best first; a nested list ``[["a", "b"], "c"]`` is a tie), or reference
  ``"scores": {"a": 2, "b": 3, "c": 1}`` (higher is better) instead of ``ranking``.
  ``responses`` may be a list (names ``"0"``, ``"1"``, ...).

Label and score lines are judged one output at a time (the judge's unit score against the
threshold decides the pass), pairs in both orders (to measure position bias), rankings in one
listwise call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

from .._errors import MissingDependencyError, UsageError
from .._jsonl import jsonl_rows, read_input
from ..principles import Principle, PrincipleLike

__all__ = [
    "Kind",
    "LabelledCase",
    "case_from_dict",
    "cases_from_dicts",
    "read_labels",
    "labels_from_langsmith",
    "labels_from_rm_bench",
]

Kind: TypeAlias = Literal["label", "score", "pair", "ranking"]
"""What the humans labelled: pass/fail, a score, a chosen/rejected pair, a full ranking."""

_KINDS = get_args(Kind)
_KEYS = {
    "id",
    "kind",
    "prompt",
    "principle",
    "metadata",
    "response",
    "label",
    "score",
    "scale",
    "chosen",
    "rejected",
    "responses",
    "ranking",
    "scores",
}
_PASS = {"pass", "passed", "yes", "good", "true", "1"}
_FAIL = {"fail", "failed", "no", "bad", "false", "0"}


@dataclass(frozen=True)
class LabelledCase:
    """One labelled case (see the module docstring for the JSON form).

    Attributes:
        id: the case's name in reports (unique in a set).
        kind: what was labelled.
        prompt: the prompt the output(s) answer (text or chat messages).
        principle: the case's own principle, for runs given none.
        response: the output (``"label"`` and ``"score"``).
        label: the human pass decision (``"label"``; for ``"score"`` derived from the score
            unless given).
        score: the human score (``"score"``).
        scale: the human score's scale ``(low, high)`` (``"score"``).
        chosen: the preferred output (``"pair"``).
        rejected: the other output (``"pair"``).
        responses: name -> output (``"ranking"``).
        reference: name -> reference score, higher is better (``"ranking"``; a ranking is
            stored as ``n - position``, tied names alike).
        metadata: free data carried to the report.
    """

    id: str
    kind: Kind
    prompt: Any
    principle: PrincipleLike | None = None
    response: Any = None
    label: bool | None = None
    score: float | None = None
    scale: tuple[float, float] | None = None
    chosen: Any = None
    rejected: Any = None
    responses: Mapping[str, Any] | None = None
    reference: Mapping[str, float] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def human_unit(self) -> float | None:
        """The human score mapped to [0, 1] (``"score"`` cases), else ``None``."""
        if self.score is None or self.scale is None:
            return None
        low, high = self.scale
        return (self.score - low) / (high - low)

    def human_pass(self, label_threshold: float) -> bool | None:
        """The human pass decision: the label, else the score's unit value against ``label_threshold``."""
        if self.label is not None:
            return self.label
        unit = self.human_unit()
        return None if unit is None else unit >= label_threshold


def case_from_dict(data: Mapping[str, Any], *, default_id: str | None = None) -> LabelledCase:
    """A case from its JSON form; a score without ``scale`` gets ``scale=None`` (see :func:`cases_from_dicts`).

    Raises:
        UsageError: not an object, an unknown field, a missing one, or a value of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise UsageError(f"a labelled case must be a JSON object, got {type(data).__name__}")
    extra = sorted(set(data) - _KEYS)
    if extra:
        raise UsageError(f"unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(_KEYS))}")
    kind = data.get("kind") or _infer_kind(data)
    if kind not in _KINDS:
        raise UsageError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    raw_id = data.get("id", default_id)
    if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise UsageError(f"a case needs a non-empty string id, got {raw_id!r}")
    if "prompt" not in data or data["prompt"] in (None, "", []):
        raise UsageError("a case needs a prompt (text or chat messages)")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise UsageError("metadata must be a JSON object")
    case = LabelledCase(
        id=str(raw_id),
        kind=kind,
        prompt=data["prompt"],
        principle=_principle(data.get("principle")),
        metadata=dict(metadata),
    )
    if kind in ("label", "score"):
        _need(data, kind, "response")
        label = _label(data["label"]) if data.get("label") is not None else None
        if kind == "label" and label is None:
            raise UsageError("a label case needs label: true/false (or 'pass'/'fail')")
        score = scale = None
        if kind == "score":
            _need(data, kind, "score")
            score = _number(data["score"], "score")
            scale = _scale(data["scale"]) if data.get("scale") is not None else None
            if scale is not None and not scale[0] <= score <= scale[1]:
                raise UsageError(f"score {score} is outside its scale {list(scale)}")
        return replace(case, response=data["response"], label=label, score=score, scale=scale)
    if kind == "pair":
        _need(data, kind, "chosen", "rejected")
        return replace(case, chosen=data["chosen"], rejected=data["rejected"])
    _need(data, kind, "responses")
    responses = data["responses"]
    if isinstance(responses, Sequence) and not isinstance(responses, str | bytes):
        responses = {str(i): r for i, r in enumerate(responses)}
    if not isinstance(responses, Mapping) or len(responses) < 2:
        raise UsageError("a ranking case needs responses: an object of name -> output (or a list), at least two")
    reference = _reference(data, list(responses))
    return replace(case, responses=dict(responses), reference=reference)


def cases_from_dicts(
    rows: Iterable[Mapping[str, Any]], *, source: str = "labels", lines: Sequence[int] | None = None
) -> list[LabelledCase]:
    """Cases from JSON objects (a row without an id is named by its line: ``lines[i]``, else its position from 1).

    Scores without a ``scale`` get the file's: 0-1 when every such score is within [0, 1],
    else 1-5 (when every one is within [1, 5]; otherwise give ``scale``).

    Raises:
        UsageError: a bad row (named by its position), a repeated id, or no rows.
    """
    cases: list[LabelledCase] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        position = lines[index] if lines is not None else index + 1
        try:
            case = case_from_dict(row, default_id=str(position))
        except UsageError as exc:
            raise UsageError(f"{source} line {position}: {exc}") from None
        if case.id in seen:
            raise UsageError(f"{source} line {position}: case id {case.id!r} is already used on line {seen[case.id]}")
        seen[case.id] = position
        cases.append(case)
    if not cases:
        raise UsageError(
            f"{source} holds no labelled cases; write one JSON object per line (see ra-agents calibrate --help)"
        )
    unscaled = [c.score for c in cases if c.kind == "score" and c.scale is None and c.score is not None]
    if unscaled:
        if all(0 <= s <= 1 for s in unscaled):
            scale: tuple[float, float] = (0.0, 1.0)
        elif all(1 <= s <= 5 for s in unscaled):
            scale = (1.0, 5.0)
        else:
            raise UsageError(
                f"{source}: scores without a scale are neither all in [0, 1] nor all in [1, 5]; give scale"
            )
        cases = [replace(c, scale=scale) if c.kind == "score" and c.scale is None else c for c in cases]
    return cases


def read_labels(path: str | Path) -> list[LabelledCase]:
    """Labelled cases from a JSONL file (``-`` for stdin).

    Raises:
        UsageError: a missing or empty file, or a bad line (named by its number).
    """
    text, name = read_input(path, "labels file")
    entries = jsonl_rows(text, name)
    rows = [value for _, value in entries]
    numbers = [lineno for lineno, _ in entries]
    return cases_from_dicts(rows, source=name, lines=numbers)


# ------------------------------------------------------------------ loaders


def labels_from_langsmith(
    client: Any = None,
    *,
    dataset_name: str | None = None,
    dataset_id: Any = None,
    project_name: str | None = None,
    feedback_key: str | None = None,
    prompt_key: str | None = None,
    response_key: str | None = None,
    limit: int | None = None,
) -> list[LabelledCase]:
    """Labelled cases from LangSmith: a dataset's examples, or an experiment's runs and their feedback.

    Two shapes, the two ways teams keep human labels in LangSmith:

    - **Examples** (``dataset_name`` or ``dataset_id``, no ``feedback_key``): every example
      (``Client.list_examples``) is one case; its ``inputs`` and ``outputs`` together hold the
      fields of a labels line (``prompt`` in the inputs; ``response`` and ``label`` or
      ``score``, or ``chosen``/``rejected``, or ``responses``/``ranking`` in the outputs).
      ``prompt_key`` names another input key for the prompt (``"question"``...).
    - **Feedback** (``project_name`` and ``feedback_key``): every root run of the project
      (``Client.list_runs(project_name=..., is_root=True)``) with feedback under
      ``feedback_key`` (``Client.list_feedback(run_ids=..., feedback_key=[...])``) is one
      output: the prompt from the run's inputs, the output from its outputs
      (``response_key``, else the only value, else ``"output"``), the label from the
      feedback: a boolean score or a ``"pass"``/``"fail"`` value is pass/fail; a number is a
      score (scale inferred as for a file). The latest feedback per run counts.

    Online: ``labels_from_langsmith(langsmith.Client(), dataset_name="support-labels")`` (the
    client reads ``LANGSMITH_API_KEY``); on the command line, ``ra-agents calibrate
    --langsmith-dataset NAME`` or ``--langsmith-project NAME --feedback-key KEY``.

    Args:
        client: a ``langsmith.Client`` (default: a new one, which needs the ``langchain`` extra).
        dataset_name: the dataset of the examples.
        dataset_id: the dataset, by id.
        project_name: the experiment or tracing project of the runs (feedback shape).
        feedback_key: the feedback key holding the human label (feedback shape).
        prompt_key: the input key of the prompt (default ``prompt``, else the only input,
            else the inputs as one text).
        response_key: the output key of the output (feedback shape).
        limit: read at most this many examples or runs.

    Raises:
        UsageError: neither shape given, or an example/run that does not make a case.
    """
    if client is None:
        try:
            from langsmith import Client
        except ImportError:
            raise MissingDependencyError("langsmith", "langchain", "Reading labels from LangSmith") from None
        client = Client()
    if feedback_key or project_name:
        if not (feedback_key and project_name):
            raise UsageError("the feedback shape needs both project_name and feedback_key")
        return _from_feedback(client, project_name, feedback_key, prompt_key, response_key, limit)
    if dataset_name is None and dataset_id is None:
        raise UsageError(
            "give dataset_name (or dataset_id) for examples, or project_name and feedback_key for feedback"
        )
    rows = []
    for example in client.list_examples(dataset_id=dataset_id, dataset_name=dataset_name, limit=limit):
        inputs = dict(getattr(example, "inputs", None) or {})
        outputs = dict(getattr(example, "outputs", None) or {})
        row: dict[str, Any] = {k: v for k, v in outputs.items() if k in _KEYS}
        row["prompt"] = _input_prompt(inputs, prompt_key)
        if "principle" in inputs:
            row.setdefault("principle", inputs["principle"])
        row["id"] = str(example.id)
        rows.append(row)
    return cases_from_dicts(rows, source=f"LangSmith dataset {dataset_name or dataset_id}")


def _from_feedback(
    client: Any,
    project_name: str,
    feedback_key: str,
    prompt_key: str | None,
    response_key: str | None,
    limit: int | None,
) -> list[LabelledCase]:
    runs = list(client.list_runs(project_name=project_name, is_root=True, limit=limit))
    latest: dict[str, Any] = {}
    if runs:
        for fb in client.list_feedback(run_ids=[r.id for r in runs], feedback_key=[feedback_key]):
            key = str(fb.run_id)
            if key not in latest or _created(fb) >= _created(latest[key]):  # the latest label counts
                latest[key] = fb
    rows = []
    for run in runs:
        fb = latest.get(str(run.id))
        if fb is None:
            continue  # an unlabelled run
        row: dict[str, Any] = {
            "id": str(run.id),
            "prompt": _input_prompt(dict(run.inputs or {}), prompt_key),
            "response": _output_of(dict(run.outputs or {}), response_key),
        }
        if isinstance(fb.score, bool) or (fb.score is None and isinstance(fb.value, str | bool)):
            row["label"] = fb.score if isinstance(fb.score, bool) else fb.value
        elif isinstance(fb.score, int | float):
            row["score"] = fb.score
        else:
            raise UsageError(f"run {run.id}: feedback {feedback_key!r} has neither a score nor a pass/fail value")
        if fb.comment:
            row["metadata"] = {"comment": fb.comment}
        rows.append(row)
    return cases_from_dicts(rows, source=f"LangSmith project {project_name} feedback {feedback_key!r}")


def labels_from_rm_bench(
    data_dir: str | Path,
    *,
    domains: Sequence[str] | None = None,
    limit: int | None = None,
    cells: Sequence[tuple[int, int]] | None = None,
    principle: PrincipleLike | None = None,
) -> list[LabelledCase]:
    """RM-Bench items as chosen/rejected pairs: one case per item and style cell.

    Args:
        data_dir: a folder of ``<domain>.json`` files (see :mod:`ra_agents.evals.rmbench`).
        domains: the domains to read (default: all four).
        limit: the first ``limit`` items of each domain.
        cells: (chosen style, rejected style) pairs (default: all nine).
        principle: each case's principle (default: the RM-Bench benchmark's).
    """
    from ..evals import rmbench

    cases = []
    for domain in domains or rmbench.DOMAINS:
        for item in rmbench.load_domain(Path(data_dir), domain, limit):
            for i, j in cells or rmbench.ALL_CELLS:
                cases.append(
                    LabelledCase(
                        id=f"{domain}/{item['id']}/{i}{j}",
                        kind="pair",
                        prompt=item["prompt"],
                        principle=principle if principle is not None else rmbench.DEFAULT_PRINCIPLE,
                        chosen=item["chosen"][i],
                        rejected=item["rejected"][j],
                        metadata={"domain": domain, "cell": f"{i}{j}"},
                    )
                )
    return cases


# ------------------------------------------------------------------ helpers


def _infer_kind(data: Mapping[str, Any]) -> Kind:
    if "chosen" in data or "rejected" in data:
        return "pair"
    if "responses" in data:
        return "ranking"
    if "score" in data:
        return "score"
    if "label" in data:
        return "label"
    raise UsageError("cannot tell the kind: give kind, or label, score, chosen/rejected, or responses/ranking")


def _need(data: Mapping[str, Any], kind: str, *keys: str) -> None:
    missing = [k for k in keys if data.get(k) is None]
    if missing:
        raise UsageError(f"a {kind} case needs {', '.join(missing)}")


def _principle(value: Any) -> PrincipleLike | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return Principle.from_dict(value)
    if isinstance(value, str | Principle) and str(value).strip():
        return value
    raise UsageError("principle must be non-empty text or a principle object")


def _label(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _PASS | _FAIL:
        return value.strip().lower() in _PASS
    raise UsageError(f"label must be true/false, 1/0 or 'pass'/'fail', got {value!r}")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise UsageError(f"{what} must be a number, got {value!r}")
    return float(value)


def _scale(value: Any) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise UsageError(f"scale must be [low, high], got {value!r}")
    low, high = _number(value[0], "scale low"), _number(value[1], "scale high")
    if not low < high:
        raise UsageError(f"scale must be [low, high] with low < high, got {list(value)}")
    return low, high


def _reference(data: Mapping[str, Any], names: list[str]) -> dict[str, float]:
    if data.get("ranking") is not None and data.get("scores") is not None:
        raise UsageError("give ranking or scores, not both")
    if data.get("scores") is not None:
        scores = data["scores"]
        if not isinstance(scores, Mapping) or set(scores) != set(names):
            raise UsageError(f"scores must give a number for each response: {names}")
        return {n: _number(scores[n], f"scores[{n!r}]") for n in names}
    ranking = data.get("ranking")
    if not isinstance(ranking, Sequence) or isinstance(ranking, str):
        raise UsageError("a ranking case needs ranking (names best first) or scores (name -> number)")
    groups = [list(g) if isinstance(g, list) else [g] for g in ranking]
    flat = [str(n) for g in groups for n in g]
    if sorted(flat) != sorted(names):
        raise UsageError(f"ranking must list every response once: {names}, got {flat}")
    reference: dict[str, float] = {}
    position = 0
    for group in groups:
        for name in group:
            reference[str(name)] = float(len(names) - position)
        position += len(group)
    return reference


def _input_prompt(inputs: Mapping[str, Any], key: str | None) -> Any:
    if key is not None:
        if key not in inputs:
            raise UsageError(f"the inputs have no {key!r}; they hold {sorted(inputs)}")
        return inputs[key]
    for name in ("prompt", "messages", "question", "input"):
        if name in inputs:
            return inputs[name]
    rest = {k: v for k, v in inputs.items() if k != "principle"}
    if len(rest) == 1:
        return next(iter(rest.values()))
    if not rest:
        raise UsageError("an example has no inputs to use as the prompt")
    return json.dumps(rest, ensure_ascii=False, default=str)


def _output_of(outputs: Mapping[str, Any], key: str | None) -> Any:
    if key is not None:
        if key not in outputs:
            raise UsageError(f"the run's outputs have no {key!r}; they hold {sorted(outputs)}")
        return outputs[key]
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    if "output" in outputs:
        return outputs["output"]
    raise UsageError(f"cannot tell which output to judge among {sorted(outputs)}; pass response_key")


def _created(feedback: Any) -> float:
    """When a feedback was given, as a timestamp (0 when unknown)."""
    when = getattr(feedback, "modified_at", None) or getattr(feedback, "created_at", None)
    return float(when.timestamp()) if when is not None and hasattr(when, "timestamp") else 0.0
