"""Listwise quality against reference rankings (RABench-style JSONL), with position bias.

The file format, one JSON object per line (blank lines are skipped)::

    {"id": "arith",                                   # optional: string or integer
     "principle": "Correctness first; then brevity.", # required, not blank
     "prompt": "What is 17 * 6?",                     # required
     "responses": {"right": "102", "wrong": "112"},   # required: name -> candidate, 2 or more
     "reference_scores": {"right": 5, "wrong": 1}}    # numbers, higher is better ...
     # ... or instead "reference_ranking": ["right", "wrong"]  (best first)

Exactly one of ``reference_scores`` and ``reference_ranking`` is given, and it covers
exactly the names in ``responses``. A candidate is a string or a structured item (a
chat message with tool calls, a dict) that the judge renders. Other keys are ignored.

Each case is one judging request in ``permutations`` shuffled orders. The aggregated
strict ranking and the first pass alone are each compared with the reference by
Kendall's tau-b, NDCG and pairwise accuracy; the passes give the position-bias figures.
"""

from __future__ import annotations

import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, field_validator, model_validator

from .._errors import UsageError
from .._jsonl import jsonl_rows
from .._types import JudgeRequest, JudgeResult, validation_summary
from ..judge import Judge
from ..sweep import kendall_tau_b
from .metrics import mean, ndcg, pairwise_accuracy, position_bias, ranking_to_scores
from .report import fmt, md_table, plot, progress

__all__ = [
    "ListwiseCase",
    "load_cases",
    "case_metrics",
    "run_listwise",
    "render_markdown",
    "plot_listwise",
    "SAMPLE",
    "METRICS",
]

SAMPLE = "data/listwise_sample.jsonl"
METRICS = ("kendall_tau", "ndcg", "pairwise_accuracy")


class ListwiseCase(JudgeRequest):
    """One checked line of a listwise JSONL file: a judging request plus its reference.

    The run's permutations and seed apply; a line's own ``permutations``/``seed`` are ignored.
    """

    model_config = ConfigDict(extra="ignore")

    responses: dict[str, Any]
    reference_scores: dict[str, float] | None = None
    reference_ranking: list[str] | None = None

    @field_validator("responses")
    @classmethod
    def _two_or_more(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) < 2:
            raise ValueError(f"needs at least two candidates to rank, got {len(value)}")
        return value

    @model_validator(mode="after")
    def _reference_covers_responses(self) -> ListwiseCase:
        given = [k for k in ("reference_scores", "reference_ranking") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'reference_scores' and 'reference_ranking'")
        names = set(self.responses)
        if self.reference_ranking is not None and len(set(self.reference_ranking)) != len(self.reference_ranking):
            raise ValueError("'reference_ranking' names a candidate twice")
        covered = set(self.reference_scores or self.reference_ranking or ())
        if covered != names:
            missing, extra = sorted(names - covered), sorted(covered - names)
            raise ValueError(
                f"'{given[0]}' must cover exactly the names in 'responses' (missing {missing}, unknown {extra})"
            )
        return self

    @property
    def reference(self) -> dict[str, float]:
        """Reference scores (a ranking becomes N, N-1, ..., 1)."""
        if self.reference_scores is not None:
            return dict(self.reference_scores)
        return ranking_to_scores(self.reference_ranking or [])


def load_cases(path: Path | None = None) -> list[ListwiseCase]:
    """Read and check the cases of a JSONL file (``None``: the bundled 4-case sample).

    Raises:
        UsageError: naming the file and line, for a line that is not JSON or breaks the format.
    """
    if path is None:
        text = resources.files("ra_agents.evals").joinpath(SAMPLE).read_text(encoding="utf-8")
        where = f"ra_agents/evals/{SAMPLE}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the listwise cases file {path}: {exc.strerror or exc}") from exc
        where = str(path)
    cases = []
    for lineno, raw in jsonl_rows(text, where):
        if not isinstance(raw, dict):
            raise UsageError(f"{where}:{lineno}: expected a JSON object, got {type(raw).__name__}")
        try:
            case = ListwiseCase.model_validate(raw)
        except ValidationError as exc:
            problems = validation_summary(exc, whole="case")
            raise UsageError(f"{where}:{lineno}: {problems} (format: see ra_agents.evals.listwise)") from None
        cases.append(case if case.id is not None else case.model_copy(update={"id": lineno}))
    if not cases:
        raise UsageError(f"{where} holds no cases")
    return cases


def case_metrics(ranking: list[str], reference: dict[str, float]) -> dict[str, float]:
    """Tau-b, NDCG and pairwise accuracy of a predicted strict ranking against reference scores."""
    predicted = ranking_to_scores(ranking)
    names = list(reference)
    tau = kendall_tau_b([predicted[n] for n in names], [reference[n] for n in names])
    return {
        "kendall_tau": math.nan if tau is None else tau,  # undefined: the reference ties every candidate
        "ndcg": ndcg(ranking, reference),
        "pairwise_accuracy": pairwise_accuracy(predicted, reference),
    }


def _row(case: ListwiseCase, result: JudgeResult | BaseException) -> dict[str, Any]:
    row: dict[str, Any] = {"id": case.id, "n": len(case.responses)}
    if not isinstance(result, JudgeResult):
        row["error"] = f"{type(result).__name__}: {result}"[:300]
        return row
    row.update(case_metrics(list(result.ranking), case.reference))
    row["single_pass"] = case_metrics(list(result.passes[0].ranking), case.reference)
    row.update(
        ranking=list(result.ranking),
        scores=dict(result.scores),
        agreement=result.agreement,
        pairwise_agreement=result.pairwise_agreement,
        passes=[{"order": list(p.order), "ranking": list(p.ranking)} for p in result.passes],
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
    )
    return row


async def run_listwise(
    judge: Judge,
    cases: list[ListwiseCase],
    *,
    permutations: int = 1,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Judge each case in ``permutations`` orders; return per-case and mean metrics and position bias."""
    started = time.perf_counter()
    with progress(len(cases), "listwise", show_progress) as advance:
        results = await judge.ajudge_batch(
            [
                {
                    "principle": c.principle,
                    "prompt": c.prompt,
                    "responses": c.responses,
                    "permutations": permutations,
                    "seed": seed + i,
                }
                for i, c in enumerate(cases)
            ],
            on_result=lambda _i, _r: advance(1),
        )
    wall = time.perf_counter() - started
    rows = [_row(c, r) for c, r in zip(cases, results, strict=False)]
    ok = [r for r in rows if "error" not in r]
    return {
        "benchmark": "listwise",
        "model": judge.backend.model,
        "permutations": permutations,
        "seed": seed,
        "cases": len(cases),
        "failures": len(rows) - len(ok),
        "wall_s": round(wall, 2),
        "mean": {key: mean([r[key] for r in ok]) for key in METRICS},
        "single_pass_mean": {key: mean([r["single_pass"][key] for r in ok]) for key in METRICS},
        "mean_pairwise_agreement": mean([r["pairwise_agreement"] for r in ok if r["pairwise_agreement"] is not None]),
        "position_bias": position_bias([[(p["order"], p["ranking"][0]) for p in r["passes"]] for r in ok]),
        "prompt_tokens": sum(r["prompt_tokens"] for r in ok),
        "completion_tokens": sum(r["completion_tokens"] for r in ok),
        "rows": rows,
    }


def render_markdown(results: dict[str, Any]) -> str:
    """Per-case metrics, the means (aggregated and first pass alone) and position bias."""
    rows = [
        [r["id"], r["n"], *(r.get(k) for k in METRICS), " > ".join(r.get("ranking", [])) or r.get("error", "")]
        for r in results["rows"]
    ]
    k = results["permutations"]
    m, sp = results["mean"], results["single_pass_mean"]
    rows.append(["mean", "", *(m[key] for key in METRICS), f"{results['failures']} failures"])
    if k >= 2:
        rows.append(["mean, 1st pass alone", "", *(sp[key] for key in METRICS), ""])
    table = md_table(["case", "N", "Kendall tau", "NDCG", "pairwise acc.", "judge ranking (best first)"], rows)
    b = results["position_bias"]
    bias = md_table(
        [
            "pass verdicts",
            "first-slot win rate",
            "last-slot win rate",
            "chance",
            "winner flips",
            "pass agreement",
            "mean pairwise order agreement",
        ],
        [
            [
                b["pass_verdicts"],
                b["first_slot_win_rate"],
                b["last_slot_win_rate"],
                b["chance_slot_rate"],
                f"{b['winner_flips']} of {b['multi_pass_cases']}",
                b["pass_agreement"],
                results["mean_pairwise_agreement"],
            ]
        ],
    )
    return (
        f"## Listwise vs reference ({results['model']}, permutations={k})\n\n"
        f"Aggregated = Borda count over the {k} pass(es); 1st pass = the first shuffled order alone.\n\n"
        f"{table}\n\n### Position bias\n\n{bias}\n\n"
        f"Wall time {fmt(results['wall_s'], 1)} s; tokens: {results['prompt_tokens']} prompt, "
        f"{results['completion_tokens']} completion."
    )


def plot_listwise(results: dict[str, Any], path: Path) -> Path | None:
    """Per-case bars of the three metrics."""
    rows = [r for r in results["rows"] if "error" not in r]

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        width = 0.27
        for n, key in enumerate(METRICS):
            ax.bar([i + n * width for i in range(len(rows))], [r[key] for r in rows], width, label=key)
        ax.set_xticks([i + width for i in range(len(rows))], [str(r["id"]) for r in rows], fontsize=8)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.legend(fontsize=7)
        ax.set_title(f"listwise agreement with the reference (k={results['permutations']})", fontsize=9)

    return plot(path, draw)
