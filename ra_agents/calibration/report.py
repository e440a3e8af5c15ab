"""Judge labelled cases and measure the judge's agreement with the labels (see :mod:`ra_agents.calibration`)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import RAError, UsageError
from .._types import JudgeResult
from ..acceptance import DEFAULT_THRESHOLD, check_threshold
from ..evals.metrics import position_bias
from ..evals.report import fmt, md_table, plot
from ..principles import Principle, PrincipleLike, principle_text
from ..sweep import kendall_tau_b
from ..sync import run_sync
from .labels import LabelledCase, cases_from_dicts
from .stats import (
    Confusion,
    Estimate,
    ThresholdRow,
    bootstrap,
    confusion,
    krippendorff_alpha,
    paired_bootstrap,
    suggest_threshold,
    threshold_grid,
    threshold_table,
)

if TYPE_CHECKING:
    from ..judging import Judging

__all__ = [
    "CaseOutcome",
    "DecisionReport",
    "PairReport",
    "PrincipleReport",
    "Comparison",
    "CalibrationReport",
    "acalibrate",
    "calibrate",
    "DEFAULT_MAX_FALSE_PASS",
]

DEFAULT_MAX_FALSE_PASS = 0.02
"""The default false-pass target of the suggested threshold (a guardrail's: at most 2%)."""

OUTPUT = "output"
"""The candidate name of a label or score case's output in its judge request."""

OnResult = Callable[[str, str, JudgeResult | RAError], None]
"""``on_result(case_id, principle_name, item)``, as each verdict or error arrives."""


# ------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class CaseOutcome:
    """One case judged under one principle, and what it says about agreement.

    Attributes:
        case: the labelled case.
        result: the verdict, or the error the case met (then every figure is ``None``).
        human_pass: the human pass decision (label and score cases).
        human_unit: the human score in [0, 1] (score cases).
        judge_unit: the judge's unit score of the output (label and score cases).
        judge_pass: ``judge_unit >= threshold``.
        credit: pair cases: 1 when the judge prefers the chosen output, 0 the rejected, 0.5 a tie.
        flip: pair cases judged in both orders: whether the winner changed with the order.
        tau: ranking cases: Kendall tau-b between the reference and the judge's unit scores.
        agreement: the case's agreement in [0, 1]: the pass decision matches (1/0), the pair
            credit, or ``(tau + 1) / 2``; the figure principles are compared on.
        raters: for a panel's verdict, each candidate's unit score by every member (for
            Krippendorff's alpha); empty for a single judge.
    """

    case: LabelledCase
    result: JudgeResult | RAError
    human_pass: bool | None = None
    human_unit: float | None = None
    judge_unit: float | None = None
    judge_pass: bool | None = None
    credit: float | None = None
    flip: bool | None = None
    tau: float | None = None
    agreement: float | None = None
    raters: tuple[tuple[float, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return isinstance(self.result, JudgeResult)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.case.id, "kind": self.case.kind, "ok": self.ok}
        if self.case.metadata:
            data["metadata"] = dict(self.case.metadata)
        for key in ("human_pass", "human_unit", "judge_unit", "judge_pass", "credit", "flip", "tau", "agreement"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if isinstance(self.result, JudgeResult):
            data["verdict"] = self.result.to_dict()  # verdict_to_dict(raw=False); a panel's adds its members
        else:
            data["error"] = {"type": type(self.result).__name__, "message": str(self.result)}
        return data


def _outcome(case: LabelledCase, item: JudgeResult | RAError, threshold: float, label_threshold: float) -> CaseOutcome:
    if not isinstance(item, JudgeResult):
        return CaseOutcome(case, item)
    raters = _raters(item)
    if case.kind in ("label", "score"):
        unit = item.unit_score(OUTPUT)
        human = case.human_pass(label_threshold)
        judged = unit >= threshold
        return CaseOutcome(
            case,
            item,
            human_pass=human,
            human_unit=case.human_unit(),
            judge_unit=unit,
            judge_pass=judged,
            agreement=None if human is None else float(human == judged),
            raters=raters,
        )
    if case.kind == "pair":
        credit = _pair_credit(item)
        orders = {p.order for p in item.passes}
        flip = len({p.ranking[0] for p in item.passes}) > 1 if len(orders) > 1 else None
        return CaseOutcome(case, item, credit=credit, flip=flip, agreement=credit, raters=raters)
    assert case.reference is not None
    names = list(case.reference)
    tau = kendall_tau_b([case.reference[n] for n in names], [item.unit_score(n) for n in names])
    return CaseOutcome(case, item, tau=tau, agreement=None if tau is None else (tau + 1) / 2, raters=raters)


def _pair_credit(result: JudgeResult) -> float:
    """1 when the verdict prefers "chosen", 0 "rejected", 0.5 a tie.

    The unit scores decide; equal ones go to the passes (wins over the orders shown); a draw
    there too is a tie, never the request order (which would favour the chosen output).
    """
    chosen, rejected = result.unit_score("chosen"), result.unit_score("rejected")
    if chosen != rejected:
        return float(chosen > rejected)
    wins = Counter(p.ranking[0] for p in result.passes)
    if wins["chosen"] != wins["rejected"]:
        return float(wins["chosen"] > wins["rejected"])
    return 0.5


def _raters(result: JudgeResult) -> tuple[tuple[float, ...], ...]:
    members = getattr(result, "members", None)
    if not isinstance(members, Mapping) or len(members) < 2:
        return ()
    return tuple(tuple(m.unit_score(c) for m in members.values()) for c in result.names)


# -------------------------------------------------------------------- reports


@dataclass(frozen=True)
class DecisionReport:
    """The pass decision against human pass/fail (label cases, and score cases by the label threshold).

    Attributes:
        threshold: the unit-score threshold of the decision.
        accuracy: share of outputs where judge and humans agree on pass/fail.
        precision: share of judge passes that humans passed.
        recall: share of human passes the judge passed.
        false_pass_rate: share of human fails the judge passed.
        kappa: Cohen's kappa between the judge's and the humans' decisions.
        table: the decision at every threshold of the grid.
        max_false_pass: the false-pass target.
        suggested: the lowest threshold meeting the target (``None`` if none does).
        suggested_false_pass: the false-pass rate at the suggested threshold, with its interval.
    """

    threshold: float
    accuracy: Estimate
    precision: Estimate
    recall: Estimate
    false_pass_rate: Estimate
    kappa: Estimate
    table: tuple[ThresholdRow, ...]
    max_false_pass: float
    suggested: ThresholdRow | None
    suggested_false_pass: Estimate | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "accuracy": self.accuracy.to_dict(),
            "precision": self.precision.to_dict(),
            "recall": self.recall.to_dict(),
            "false_pass_rate": self.false_pass_rate.to_dict(),
            "kappa": self.kappa.to_dict(),
            "max_false_pass": self.max_false_pass,
            "suggested_threshold": None if self.suggested is None else self.suggested.to_dict(),
            "suggested_false_pass": None if self.suggested_false_pass is None else self.suggested_false_pass.to_dict(),
            "table": [row.to_dict() for row in self.table],
        }


@dataclass(frozen=True)
class PairReport:
    """Chosen/rejected pairs.

    Attributes:
        accuracy: mean credit (1 chosen preferred, 0.5 a tie, 0 rejected preferred).
        ties: pairs the judge could not separate.
        position_bias: share of the pairs judged in both orders whose winner changed with
            the order (0 for a judge blind to position; 1 for one that picks by slot).
        first_slot_win_rate: share of pass verdicts won by the output shown first (0.5 blind).
    """

    accuracy: Estimate
    ties: int
    position_bias: Estimate | None
    first_slot_win_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.to_dict(),
            "ties": self.ties,
            "position_bias": None if self.position_bias is None else self.position_bias.to_dict(),
            "first_slot_win_rate": self.first_slot_win_rate,
        }


@dataclass(frozen=True)
class PrincipleReport:
    """Agreement with the labels of the judge under one principle.

    Attributes:
        name: the principle's name in the report.
        text: the principle as the judge read it (``None``: each case's own).
        outcomes: every case's outcome, in case order.
        agreement: mean per-case agreement (:attr:`CaseOutcome.agreement`), the figure
            principles are compared on.
        decisions: the pass decision (label and score cases), or ``None``.
        score_tau: Kendall tau-b between human scores and the judge's unit scores (score cases).
        pairs: the pair figures (pair cases), or ``None``.
        ranking_tau: mean Kendall tau-b against the reference rankings (ranking cases).
        reliability: Krippendorff's alpha (interval, unit scores) among a panel's members.
    """

    name: str
    text: str | None
    outcomes: tuple[CaseOutcome, ...]
    agreement: Estimate
    decisions: DecisionReport | None = None
    score_tau: Estimate | None = None
    pairs: PairReport | None = None
    ranking_tau: Estimate | None = None
    reliability: Estimate | None = None

    @property
    def failures(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "text": self.text,
            "cases": len(self.outcomes),
            "failed": len(self.failures),
            "agreement": self.agreement.to_dict(),
            "decisions": None if self.decisions is None else self.decisions.to_dict(),
            "score_tau": None if self.score_tau is None else self.score_tau.to_dict(),
            "pairs": None if self.pairs is None else self.pairs.to_dict(),
            "ranking_tau": None if self.ranking_tau is None else self.ranking_tau.to_dict(),
            "reliability": None if self.reliability is None else self.reliability.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class Comparison:
    """How far the best principle's agreement is above another's, on the cases both judged.

    Attributes:
        best: the best principle's name.
        other: the other principle's name.
        difference: ``agreement(best) - agreement(other)`` with its paired bootstrap interval.
        real: the interval lies above 0 (the difference is unlikely to be chance).
    """

    best: str
    other: str
    difference: Estimate

    @property
    def real(self) -> bool:
        return self.difference.excludes_zero

    def to_dict(self) -> dict[str, Any]:
        return {"best": self.best, "other": self.other, "difference": self.difference.to_dict(), "real": self.real}


@dataclass(frozen=True)
class CalibrationReport:
    """The judge's agreement with the labels, per principle, and which principle agrees best.

    Attributes:
        principles: one report per principle, in the order given.
        comparisons: the best principle against each other (empty for one principle).
        settings: threshold, label threshold, false-pass target, bootstrap resamples, seed, level.
    """

    principles: tuple[PrincipleReport, ...]
    comparisons: tuple[Comparison, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The principle with the highest agreement (the first among equals)."""
        return max(self.principles, key=lambda p: -1.0 if p.agreement.value is None else p.agreement.value).name

    def principle(self, name: str) -> PrincipleReport:
        """One principle's report, by name."""
        for p in self.principles:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        """Whether every case got a verdict under every principle."""
        return not any(p.failures for p in self.principles)

    def to_dict(self) -> dict[str, Any]:
        kinds = Counter(o.case.kind for o in self.principles[0].outcomes)
        return {
            "settings": dict(self.settings),
            "cases": len(self.principles[0].outcomes),
            "kinds": dict(kinds),
            "best": self.best,
            "principles": [p.to_dict() for p in self.principles],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, **kwargs)

    def to_markdown(self) -> str:
        """The report as markdown: figures with intervals, the threshold table, the principle comparison."""
        return _markdown(self)

    def save_plot(self, path: str | Path) -> Path | None:
        """A PNG: recall and false-pass rate by threshold, and each principle's agreement with its interval.

        Returns ``None`` (and draws nothing) when matplotlib is missing (the ``eval`` extra).
        """
        return plot(Path(path), lambda fig: _draw(self, fig), size=(11.0, 4.5))


# ------------------------------------------------------------------ calibrate


async def acalibrate(
    judge: Judging,
    cases: Sequence[LabelledCase | Mapping[str, Any]],
    *,
    principles: PrincipleLike | Sequence[PrincipleLike] | Mapping[str, PrincipleLike] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    label_threshold: float = DEFAULT_THRESHOLD,
    max_false_pass: float = DEFAULT_MAX_FALSE_PASS,
    both_orders: bool = True,
    thresholds: Sequence[float] | None = None,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    concurrency: int | None = None,
    on_result: OnResult | None = None,
) -> CalibrationReport:
    """Judge labelled cases and report the judge's agreement with the labels.

    Every case is judged under every principle in one :meth:`~ra_agents.Judging.ajudge_batch`
    call (one bad case never sinks the others; its error is kept in the report and it is
    left out of the figures).

    Args:
        judge: any judge: a :class:`~ra_agents.Judge`, a client, a :class:`~ra_agents.panel.Panel`
            (whose members give Krippendorff's alpha).
        cases: :class:`LabelledCase` objects, or their JSON form.
        principles: what to judge under: one principle, a list (named by library id, else
            ``p1``, ``p2`` ...), or name -> principle; ``None``: each case's own ``principle``.
            Several principles are compared (principle selection).
        threshold: the judge's pass line on the unit score.
        label_threshold: the humans' pass line on a score case's unit score (0.5: a 3 on 1-5).
        max_false_pass: the false-pass target of the suggested threshold.
        both_orders: judge pairs in both orders (two passes), for the position-bias rate.
        thresholds: the threshold table's rows (default 0 to 1 by 0.05).
        resamples: bootstrap resamples per interval.
        seed: the bootstrap's seed.
        level: the intervals' confidence level.
        concurrency: requests in flight (goes to the judge's batch call).
        on_result: ``on_result(case_id, principle_name, item)`` as each case is judged.

    Raises:
        UsageError: no cases, a case without a principle when none is given, bad settings.
    """
    check_threshold(threshold)
    check_threshold(label_threshold, "label_threshold")
    check_threshold(max_false_pass, "max_false_pass")
    labelled: list[LabelledCase]
    if all(isinstance(c, LabelledCase) for c in cases):
        labelled = [c for c in cases if isinstance(c, LabelledCase)]
    elif not any(isinstance(c, LabelledCase) for c in cases):
        labelled = cases_from_dicts([c for c in cases if not isinstance(c, LabelledCase)])
    else:
        raise UsageError("give cases as LabelledCase objects or as their JSON form, not a mix")
    if not labelled:
        raise UsageError("calibration needs at least one labelled case")
    named = _named_principles(principles)
    if None in named.values():
        missing = [c.id for c in labelled if c.principle is None]
        if missing:
            raise UsageError(
                f"case(s) {', '.join(missing[:5])} have no principle; give one (--principle) or a principle per case"
            )
    jobs = [(name, case) for name in named for case in labelled]
    requests = [_request(case, named[name] or case.principle, both_orders) for name, case in jobs]

    def report_one(index: int, item: JudgeResult | RAError) -> None:
        if on_result is not None:
            name, case = jobs[index]
            on_result(case.id, name, item)

    items = await judge.ajudge_batch(requests, concurrency=concurrency, on_result=report_one)
    grid = list(thresholds) if thresholds is not None else threshold_grid()
    settings = {
        "threshold": threshold,
        "label_threshold": label_threshold,
        "max_false_pass": max_false_pass,
        "both_orders": both_orders,
        "resamples": resamples,
        "seed": seed,
        "level": level,
    }
    boot = {"resamples": resamples, "seed": seed, "level": level}
    reports = []
    for name, principle in named.items():
        outcomes = tuple(
            _outcome(case, item, threshold, label_threshold)
            for (n, case), item in zip(jobs, items, strict=True)
            if n == name
        )
        text = principle_text(principle) if principle is not None else None
        reports.append(_principle_report(name, text, outcomes, threshold, max_false_pass, grid, boot))
    return CalibrationReport(tuple(reports), _compare(reports, boot), settings)


def calibrate(
    judge: Judging,
    cases: Sequence[LabelledCase | Mapping[str, Any]],
    **options: Any,
) -> CalibrationReport:
    """Synchronous :func:`acalibrate` (same keyword arguments)."""
    return run_sync(acalibrate(judge, cases, **options), async_name="ra_agents.calibration.acalibrate")


def _named_principles(
    principles: PrincipleLike | Sequence[PrincipleLike] | Mapping[str, PrincipleLike] | None,
) -> dict[str, PrincipleLike | None]:
    if principles is None:
        return {"labels": None}
    if isinstance(principles, str | Principle):
        return {_name_of(principles, 1): principles}
    if isinstance(principles, Mapping):
        if not principles:
            raise UsageError("principles is empty; give at least one, or None for each case's own")
        return dict(principles)
    out: dict[str, PrincipleLike | None] = {}
    for i, p in enumerate(principles, 1):
        name = _name_of(p, i)
        if name in out:
            raise UsageError(f"principle {name!r} is given twice")
        out[name] = p
    if not out:
        raise UsageError("principles is empty; give at least one, or None for each case's own")
    return out


def _name_of(principle: PrincipleLike, position: int) -> str:
    return principle.id if isinstance(principle, Principle) and principle.id else f"p{position}"


def _request(case: LabelledCase, principle: Any, both_orders: bool) -> dict[str, Any]:
    request: dict[str, Any] = {"principle": principle, "prompt": case.prompt}
    if case.kind in ("label", "score"):
        request["responses"] = {OUTPUT: case.response}
    elif case.kind == "pair":
        request["responses"] = {"chosen": case.chosen, "rejected": case.rejected}
        if both_orders:
            request["permutations"] = 2  # two candidates: the two orders
    else:
        request["responses"] = dict(case.responses or {})
    return request


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _principle_report(
    name: str,
    text: str | None,
    outcomes: tuple[CaseOutcome, ...],
    threshold: float,
    max_false_pass: float,
    grid: Sequence[float],
    boot: Mapping[str, Any],
) -> PrincipleReport:
    ok = [o for o in outcomes if o.ok]
    agreement = bootstrap([o.agreement for o in ok if o.agreement is not None], _mean, **boot)

    scored = [(o.human_pass, o.judge_unit) for o in ok if o.human_pass is not None and o.judge_unit is not None]
    decisions = None
    if scored:
        pairs_: list[tuple[bool, float]] = [(bool(h), float(u)) for h, u in scored]

        def at(
            t: float, stat: Callable[[Confusion], float | None]
        ) -> Callable[[Sequence[tuple[bool, float]]], float | None]:
            return lambda rows: stat(confusion([(h, u >= t) for h, u in rows]))

        table = threshold_table(pairs_, grid)
        suggested = suggest_threshold(table, max_false_pass)
        decisions = DecisionReport(
            threshold=threshold,
            accuracy=bootstrap(pairs_, at(threshold, lambda c: c.accuracy), **boot),
            precision=bootstrap(pairs_, at(threshold, lambda c: c.precision), **boot),
            recall=bootstrap(pairs_, at(threshold, lambda c: c.recall), **boot),
            false_pass_rate=bootstrap(pairs_, at(threshold, lambda c: c.false_pass_rate), **boot),
            kappa=bootstrap(pairs_, at(threshold, lambda c: c.kappa), **boot),
            table=tuple(table),
            max_false_pass=max_false_pass,
            suggested=suggested,
            suggested_false_pass=None
            if suggested is None
            else bootstrap(pairs_, at(suggested.threshold, lambda c: c.false_pass_rate), **boot),
        )

    human_scores = [(o.human_unit, o.judge_unit) for o in ok if o.human_unit is not None and o.judge_unit is not None]
    score_tau = (
        bootstrap(human_scores, lambda rows: kendall_tau_b([h for h, _ in rows], [j for _, j in rows]), **boot)
        if len(human_scores) >= 2
        else None
    )

    pair_outcomes = [o for o in ok if o.case.kind == "pair" and o.credit is not None]
    pairs = None
    if pair_outcomes:
        flips = [float(o.flip) for o in pair_outcomes if o.flip is not None]
        passes = [
            [(p.order, p.ranking[0]) for p in o.result.passes]
            for o in pair_outcomes
            if isinstance(o.result, JudgeResult)
        ]
        slot = position_bias(passes)["first_slot_win_rate"] if passes else None
        pairs = PairReport(
            accuracy=bootstrap([o.credit for o in pair_outcomes if o.credit is not None], _mean, **boot),
            ties=sum(o.credit == 0.5 for o in pair_outcomes),
            position_bias=bootstrap(flips, _mean, **boot) if flips else None,
            first_slot_win_rate=None if slot is None or slot != slot else float(slot),
        )

    taus = [o.tau for o in ok if o.case.kind == "ranking" and o.tau is not None]
    ranking_tau = bootstrap(taus, _mean, **boot) if taus else None

    rated = [o.raters for o in ok if o.raters]
    reliability = (
        bootstrap(rated, lambda rows: krippendorff_alpha([u for units in rows for u in units], "interval"), **boot)
        if rated
        else None
    )
    return PrincipleReport(name, text, outcomes, agreement, decisions, score_tau, pairs, ranking_tau, reliability)


def _compare(reports: Sequence[PrincipleReport], boot: Mapping[str, Any]) -> tuple[Comparison, ...]:
    if len(reports) < 2:
        return ()
    best = max(reports, key=lambda p: -1.0 if p.agreement.value is None else p.agreement.value)
    mine = {o.case.id: o.agreement for o in best.outcomes if o.ok and o.agreement is not None}
    out = []
    for other in reports:
        if other is best:
            continue
        theirs = {o.case.id: o.agreement for o in other.outcomes if o.ok and o.agreement is not None}
        common = [cid for cid in mine if cid in theirs]
        a = [float(mine[c]) for c in common]
        b = [float(theirs[c]) for c in common]
        out.append(Comparison(best.name, other.name, paired_bootstrap(a, b, _mean, **boot)))
    return tuple(out)


# ------------------------------------------------------------------- outputs


def _markdown(report: CalibrationReport) -> str:
    first = report.principles[0]
    kinds = Counter(o.case.kind for o in first.outcomes)
    s = report.settings
    level = round(100 * s.get("level", 0.95))
    lines = [
        "## Judge calibration",
        "",
        f"{len(first.outcomes)} labelled cases ({', '.join(f'{n} {k}' for k, n in kinds.items())}) x "
        f"{len(report.principles)} principle(s). Pass decision: unit score >= {s.get('threshold')}; "
        f"a human score passes at unit >= {s.get('label_threshold')}. Intervals: {level}% percentile bootstrap "
        f"over cases ({s.get('resamples')} resamples, seed {s.get('seed')}).",
    ]
    for p in report.principles:
        lines += ["", f"### Principle: {p.name}", ""]
        if p.text is not None:
            lines += [f"> {_one_line(p.text, 300)}", ""]
        rows: list[list[Any]] = [
            ["agreement (mean per case; compared across principles)", str(p.agreement), p.agreement.n]
        ]
        d = p.decisions
        if d is not None:
            rows += [
                [f"pass decision: accuracy at {d.threshold}", str(d.accuracy), d.accuracy.n],
                ["precision (judge passes that humans pass)", str(d.precision), d.precision.n],
                ["recall (human passes the judge passes)", str(d.recall), d.recall.n],
                ["false-pass rate (human fails the judge passes)", str(d.false_pass_rate), d.false_pass_rate.n],
                ["Cohen's kappa", str(d.kappa), d.kappa.n],
            ]
        if p.score_tau is not None:
            rows.append(["Kendall tau-b, human score vs judge unit score", str(p.score_tau), p.score_tau.n])
        if p.pairs is not None:
            rows.append(["pair accuracy (tie = 0.5)", str(p.pairs.accuracy), p.pairs.accuracy.n])
            rows.append(["pair ties", p.pairs.ties, p.pairs.accuracy.n])
            if p.pairs.position_bias is not None:
                rows.append(
                    [
                        "position-bias rate (winner flips with the order)",
                        str(p.pairs.position_bias),
                        p.pairs.position_bias.n,
                    ]
                )
            rows.append(["first-slot win rate of pass verdicts (0.5 blind)", fmt(p.pairs.first_slot_win_rate), ""])
        if p.ranking_tau is not None:
            rows.append(["Kendall tau-b vs reference ranking (mean)", str(p.ranking_tau), p.ranking_tau.n])
        if p.reliability is not None:
            rows.append(
                ["Krippendorff's alpha among judges (interval, unit scores)", str(p.reliability), p.reliability.n]
            )
        failed = len(p.failures)
        if failed:
            rows.append(["cases with no verdict (left out)", failed, len(p.outcomes)])
        lines.append(md_table(["figure", f"value [{level}% CI]", "n"], rows))
        if d is not None:
            lines += ["", "#### Threshold table", ""]
            lines.append(
                md_table(
                    ["threshold", "passed", "precision", "recall", "false-pass rate", "accuracy"],
                    [
                        [f"{r.threshold:.2f}", r.passed, r.precision, r.recall, r.false_pass_rate, r.accuracy]
                        for r in d.table
                    ],
                )
            )
            lines.append("")
            target = f"at most {d.max_false_pass:.0%} false passes"
            if d.suggested is None:
                lines.append(f"No threshold on the grid meets {target} on these labels.")
            else:
                lines.append(
                    f"Suggested threshold for {target}: **{d.suggested.threshold:.2f}** (false-pass rate "
                    f"{d.suggested_false_pass}, recall {fmt(d.suggested.recall)}, "
                    f"precision {fmt(d.suggested.precision)})."
                )
    if report.comparisons:
        lines += ["", "### Principle selection", "", f"Best agreement: **{report.best}**.", ""]
        diff = {c.other: c for c in report.comparisons}
        rows = []
        for p in report.principles:
            c = diff.get(p.name)
            rows.append(
                [
                    p.name,
                    str(p.agreement),
                    p.agreement.n,
                    "best" if c is None else str(c.difference),
                    "" if c is None else ("yes" if c.real else "no (could be chance)"),
                ]
            )
        lines.append(md_table(["principle", "agreement", "n", "best minus this (paired)", "real?"], rows))
    errors = [(p.name, o) for p in report.principles for o in p.failures]
    if errors:
        lines += ["", "### Errors", ""]
        lines += [
            f"- {o.case.id} / {name}: {type(o.result).__name__}: {_one_line(str(o.result), 300)}" for name, o in errors
        ]
    return "\n".join(lines) + "\n"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _draw(report: CalibrationReport, fig: Any) -> None:
    with_table = [p for p in report.principles if p.decisions is not None]
    left = fig.add_subplot(1, 2, 1)
    if with_table:
        for p in with_table:
            assert p.decisions is not None
            xs = [r.threshold for r in p.decisions.table]
            left.plot(xs, [_nan(r.recall) for r in p.decisions.table], label=f"{p.name}: recall")
            left.plot(
                xs, [_nan(r.false_pass_rate) for r in p.decisions.table], "--", label=f"{p.name}: false-pass rate"
            )
        target = with_table[0].decisions.max_false_pass if with_table[0].decisions else 0.0
        left.axhline(target, color="grey", linewidth=0.8, linestyle=":", label=f"target {target:.0%}")
        left.set_xlabel("threshold on the unit score")
        left.set_ylim(-0.02, 1.02)
        left.legend(fontsize=7)
        left.set_title("Pass decision by threshold")
    elif any(p.pairs is not None for p in report.principles):
        with_pairs = [p for p in report.principles if p.pairs is not None]
        width = 0.8 / len(with_pairs)
        for k, p in enumerate(with_pairs):
            assert p.pairs is not None
            figures = [p.pairs.accuracy, p.pairs.position_bias or Estimate(None)]
            _bars(left, [i + k * width for i in range(2)], figures, width, p.name)
        left.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="chance accuracy")
        left.set_xticks([i + 0.4 - width / 2 for i in range(2)], labels=["pair accuracy", "position-bias rate"])
        left.set_ylim(0, 1)
        left.legend(fontsize=7)
        left.set_title("Pairs (with interval)")
    else:
        left.text(0.5, 0.5, "no pass/fail, score or pair labels", ha="center", va="center")
        left.set_axis_off()
    right = fig.add_subplot(1, 2, 2)
    names = [p.name for p in report.principles]
    _bars(right, list(range(len(names))), [p.agreement for p in report.principles], 0.8, None)
    right.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    right.set_ylim(0, 1)
    right.set_ylabel("agreement with the labels")
    right.set_title("Agreement by principle (with interval)")


def _bars(ax: Any, xs: Sequence[float], figures: Sequence[Estimate], width: float, label: str | None) -> None:
    """Bars of ``figures`` at ``xs`` with their intervals as error bars."""
    values = [_nan(e.value) for e in figures]
    low = [max(0.0, v - (v if e.low is None else e.low)) for v, e in zip(values, figures, strict=True)]
    high = [max(0.0, (v if e.high is None else e.high) - v) for v, e in zip(values, figures, strict=True)]
    ax.bar(xs, values, width=width, yerr=[low, high], capsize=4, label=label)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
