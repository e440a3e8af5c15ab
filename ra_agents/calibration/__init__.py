"""Calibration: how far to trust the judge, measured against a team's own labels.

Judge labelled cases and report the judge's agreement with the labels, with bootstrap
confidence intervals; compare several principles on the same labels (principle selection).

>>> from ra_agents import Judge
>>> from ra_agents.calibration import calibrate, read_labels
>>> cases = read_labels("labels.jsonl")  # doctest: +SKIP
>>> report = calibrate(Judge(), cases, principles=["helpful-and-harmless", "Be brief."])  # doctest: +SKIP
>>> print(report.to_markdown())  # doctest: +SKIP

The command line: ``ra-agents calibrate -i labels.jsonl --principle A --principle B``.

**The labels** (:mod:`ra_agents.calibration.labels`, also ``ra-agents calibrate --help``): one
JSON object per line, of four kinds: ``label`` (pass/fail of one output), ``score`` (a 1-5 or 0-1
human score of one output), ``pair`` (chosen/rejected) and ``ranking`` (a full reference ranking).
They can also come from LangSmith (:func:`labels_from_langsmith`: a dataset's examples, or an
experiment's runs and their feedback) and from RM-Bench (:func:`labels_from_rm_bench`, as pairs).

**The figures** (:class:`CalibrationReport`), each with a percentile bootstrap interval over the
cases (seeded; :mod:`ra_agents.calibration.stats`):

- pass decision (label and score cases; the judge passes an output when its unit score reaches
  the threshold, :func:`ra_agents.accepts`): accuracy, precision, recall, false-pass rate,
  Cohen's kappa; a threshold table (precision, recall, false-pass rate at every threshold from
  0 to 1 by 0.05) and the suggested threshold: the lowest whose false-pass rate meets the target
  (``max_false_pass``, 2% by default), i.e. the best recall within it;
- score cases: Kendall tau-b between the human scores and the judge's unit scores
  (:func:`ra_agents.sweep.kendall_tau_b`);
- pairs: accuracy (a tie is worth 0.5), ties, the position-bias rate (share of pairs, judged in
  both orders, whose winner changed with the order) and the first-slot win rate;
- rankings: mean Kendall tau-b between the reference and the judge's unit scores;
- with a :class:`~ra_agents.panel.Panel` (several judges, or one judge repeated with seeds):
  Krippendorff's alpha among the members, **interval** metric on the unit scores;
- agreement: one figure per case in [0, 1] (the pass decision matches: 1 or 0; the pair credit;
  ``(tau + 1) / 2`` for a ranking), averaged. Principles are compared on it: the best one against
  each other by a **paired** bootstrap of the difference on the cases both judged; an interval
  above 0 says the difference is real, one that holds 0 says it could be chance.
"""

from .labels import (
    Kind,
    LabelledCase,
    case_from_dict,
    cases_from_dicts,
    labels_from_langsmith,
    labels_from_rm_bench,
    read_labels,
)
from .report import (
    DEFAULT_MAX_FALSE_PASS,
    CalibrationReport,
    CaseOutcome,
    Comparison,
    DecisionReport,
    PairReport,
    PrincipleReport,
    acalibrate,
    calibrate,
)
from .stats import Estimate, ThresholdRow

__all__ = [
    "acalibrate",
    "calibrate",
    "CalibrationReport",
    "PrincipleReport",
    "DecisionReport",
    "PairReport",
    "Comparison",
    "CaseOutcome",
    "Estimate",
    "ThresholdRow",
    "Kind",
    "LabelledCase",
    "case_from_dict",
    "cases_from_dicts",
    "read_labels",
    "labels_from_langsmith",
    "labels_from_rm_bench",
    "DEFAULT_MAX_FALSE_PASS",
]
