"""Principle sweeps: judge the same cases under many principles and compare the rankings.

This is how a principle gets picked: run a handful of candidate principles over a set
of prompts and see which candidates each one favours, and how far their rankings
agree. Every case is judged under every principle, in one batch on the judge (so its
``concurrency`` bounds the calls in flight and one failure never loses the others).

>>> from ra_agents import Judge
>>> report = sweep(  # doctest: +SKIP
...     Judge(),
...     {"concise": "Prefer the shortest correct answer.", "thorough": "Prefer complete explanations."},
...     [{"id": "legs", "prompt": "How many legs has a spider?", "responses": {"a": "8", "b": "Eight legs, ..."}}],
... )
>>> print(report.to_markdown())  # doctest: +SKIP

Agreement between two principles is Kendall's tau-b between their rankings of the same
case (:func:`kendall_tau_b`), averaged over the cases both judged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ._errors import MissingDependencyError, RAError, UsageError
from ._types import JudgeResult
from .judge import BatchItem, Judge
from .principles import PrincipleLike, principle_text
from .sync import run_sync

__all__ = [
    "SweepCase",
    "SweepReport",
    "PairAgreement",
    "asweep",
    "sweep",
    "kendall_tau_b",
    "ranking_tau",
]

Basis = Literal["ranking", "scores"]
"""What two verdicts are compared on: the strict rankings, or the scores (ties kept)."""

OnResult = Callable[[str, str, BatchItem], None]
"""``on_result(case_id, principle_name, item)``, called as each verdict or error arrives."""

_BASES: dict[Basis, str] = {"ranking": "Agreement between rankings", "scores": "Agreement between scores (ties kept)"}
_CASE_KEYS = ("id", "prompt", "responses")


# --------------------------------------------------------------------- tau-b


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b between paired values ``x[i]``, ``y[i]``: +1 same order, -1 reversed.

    Over all pairs ``i < j``: ``(concordant - discordant) / sqrt((P - Tx) * (P - Ty))``,
    where ``P`` is the number of pairs and ``Tx`` (``Ty``) the pairs tied in ``x`` (``y``).
    A pair tied in either counts as neither concordant nor discordant, so ties pull the
    value toward 0 without breaking the [-1, 1] range. Quadratic in ``len(x)``, which is
    fine for the few dozen candidates of one request.

    Returns:
        The coefficient, or ``None`` when it is undefined: fewer than two values, or one
        side all tied (0 / 0).

    Raises:
        UsageError: ``x`` and ``y`` differ in length.
    """
    if len(x) != len(y):
        raise UsageError(f"kendall_tau_b needs paired values, got {len(x)} and {len(y)}")
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0:
                tied_x += 1
            if dy == 0:
                tied_y += 1
            if dx and dy:
                if dx == dy:
                    concordant += 1
                else:
                    discordant += 1
    pairs = n * (n - 1) // 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


def ranking_tau(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Kendall's tau between two best-to-worst rankings of the same names.

    Strict rankings have no ties, so this is tau-a and tau-b alike:
    ``1 - 4 * swaps / (n * (n - 1))``, where ``swaps`` is the number of pairs the two
    rankings put in opposite order. ``None`` for fewer than two names.

    Raises:
        UsageError: the rankings do not hold the same names, or repeat one.
    """
    if len(set(a)) != len(a) or len(set(b)) != len(b) or set(a) != set(b):
        raise UsageError(f"rankings must order the same names once each, got {list(a)} and {list(b)}")
    position = {name: i for i, name in enumerate(b)}
    return kendall_tau_b(range(len(a)), [position[name] for name in a])


# --------------------------------------------------------------------- cases


@dataclass(frozen=True)
class SweepCase:
    """One prompt and the candidates every principle judges.

    Attributes:
        id: the case's name in the report (unique within a sweep).
        prompt: the prompt the candidates answer.
        responses: candidate name -> candidate, or a sequence of candidates (named
            ``"0"``, ``"1"``, ...). Candidates are texts or structured items, as
            :meth:`Judge.ajudge` takes them.
    """

    id: str
    prompt: str
    responses: Mapping[str, Any] | Sequence[Any]

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, str | int) or not str(self.id).strip():
            raise UsageError(f"a case id must be a non-empty string, got {self.id!r}")
        object.__setattr__(self, "id", str(self.id))
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise UsageError(f"case {self.id!r}: prompt must be a non-empty string")
        if isinstance(self.responses, Mapping):
            object.__setattr__(self, "responses", dict(self.responses))
        elif isinstance(self.responses, Sequence) and not isinstance(self.responses, str | bytes):
            object.__setattr__(self, "responses", tuple(self.responses))
        else:
            raise UsageError(f"case {self.id!r}: responses must be an object of name -> text, or a list")
        if not self.responses:
            raise UsageError(f"case {self.id!r}: responses is empty; give at least one candidate")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, default_id: str | None = None) -> SweepCase:
        """A case from its JSON form ``{"id", "prompt", "responses"}`` (``id`` optional with ``default_id``)."""
        if not isinstance(data, Mapping):
            raise UsageError(f"a case must be a JSON object with prompt and responses, got {type(data).__name__}")
        extra = sorted(set(data) - set(_CASE_KEYS))
        if extra:
            raise UsageError(f"unknown case field(s) {', '.join(extra)}; allowed: {', '.join(_CASE_KEYS)}")
        missing = [k for k in ("prompt", "responses") if k not in data]
        if "id" not in data and default_id is None:
            missing.insert(0, "id")
        if missing:
            raise UsageError(f"a case needs {', '.join(missing)}")
        return cls(id=data.get("id", default_id), prompt=data["prompt"], responses=data["responses"])

    @property
    def names(self) -> tuple[str, ...]:
        """Candidate names, in the order given."""
        if isinstance(self.responses, Mapping):
            return tuple(self.responses)
        return tuple(str(i) for i in range(len(self.responses)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form :meth:`from_dict` reads."""
        responses = dict(self.responses) if isinstance(self.responses, Mapping) else list(self.responses)
        return {"id": self.id, "prompt": self.prompt, "responses": responses}


# -------------------------------------------------------------------- report


@dataclass(frozen=True)
class PairAgreement:
    """How far two principles agree: mean Kendall tau-b over the cases both judged.

    Attributes:
        tau: the mean, or ``None`` when no case gave a defined value.
        cases: how many cases the mean is over.
    """

    tau: float | None
    cases: int


@dataclass(frozen=True)
class SweepReport:
    """Every case judged under every principle.

    Attributes:
        principles: principle name -> the text the judge read, in sweep order.
        cases: the cases, in sweep order.
        results: case id -> principle name -> the :class:`JudgeResult`, or the
            :class:`RAError` that (case, principle) met. Nothing is left out.
    """

    principles: Mapping[str, str]
    cases: tuple[SweepCase, ...]
    results: Mapping[str, Mapping[str, BatchItem]]

    def result(self, case_id: str, principle: str) -> BatchItem:
        """The verdict or error of one (case, principle)."""
        return self.results[case_id][principle]

    @property
    def failures(self) -> list[tuple[str, str, RAError]]:
        """``(case id, principle, error)`` for every pair that has no verdict."""
        return [
            (case.id, name, item)
            for case in self.cases
            for name, item in self.results[case.id].items()
            if isinstance(item, RAError)
        ]

    @property
    def ok(self) -> bool:
        """Whether every (case, principle) got a verdict."""
        return not self.failures

    def winners(self) -> dict[str, dict[str, str | None]]:
        """case id -> principle -> winning candidate (``None`` where judging failed)."""
        return {
            case.id: {
                name: item.best if isinstance(item, JudgeResult) else None
                for name, item in self.results[case.id].items()
            }
            for case in self.cases
        }

    def wins(self) -> dict[str, dict[str, int]]:
        """principle -> candidate name -> cases it won; every candidate of every case is listed."""
        candidates = list(dict.fromkeys(n for case in self.cases for n in case.names))
        table = {name: dict.fromkeys(candidates, 0) for name in self.principles}
        for per_principle in self.winners().values():
            for name, winner in per_principle.items():
                if winner is not None:
                    table[name][winner] += 1
        return table

    def agreement(self, basis: Basis = "ranking") -> dict[str, dict[str, PairAgreement]]:
        """The tau matrix: principle -> principle -> mean tau-b over the cases both judged.

        Args:
            basis: ``"ranking"`` compares the strict rankings; ``"scores"`` compares the
                scores, where equal scores are ties (a case where one principle scored
                every candidate alike has no defined tau and is left out of the mean).
        """
        if basis not in _BASES:
            raise UsageError(f"basis must be 'ranking' or 'scores', got {basis!r}")
        names = list(self.principles)
        matrix: dict[str, dict[str, PairAgreement]] = {p: {} for p in names}
        for i, p in enumerate(names):
            for q in names[i:]:
                taus = []
                for case in self.cases:
                    a, b = self.results[case.id][p], self.results[case.id][q]
                    if isinstance(a, JudgeResult) and isinstance(b, JudgeResult):
                        tau = _case_tau(a, b, basis)
                        if tau is not None:
                            taus.append(tau)
                pair = PairAgreement(sum(taus) / len(taus) if taus else None, len(taus))
                matrix[p][q] = matrix[q][p] = pair
        return {p: {q: matrix[p][q] for q in names} for p in names}

    # ---------------------------------------------------------------- outputs

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report: per-case verdicts or errors, wins, and both tau matrices."""
        cases = []
        for case in self.cases:
            cells: dict[str, Any] = {}
            for name, item in self.results[case.id].items():
                if isinstance(item, JudgeResult):
                    data = item.to_dict()
                    data.pop("principle", None)  # stated once, under "principles"
                    cells[name] = {"ok": True, **data}
                else:
                    cells[name] = {"ok": False, "error": type(item).__name__, "message": str(item)}
            cases.append({"id": case.id, "prompt": case.prompt, "candidates": list(case.names), "results": cells})
        failed = len(self.failures)
        return {
            "principles": dict(self.principles),
            "summary": {
                "cases": len(self.cases),
                "principles": len(self.principles),
                "judged": len(self.cases) * len(self.principles) - failed,
                "failed": failed,
            },
            "cases": cases,
            "wins": self.wins(),
            "agreement": {
                basis: {
                    "method": "kendall_tau_b",
                    "matrix": {
                        p: {q: {"tau": pair.tau, "cases": pair.cases} for q, pair in row.items()}
                        for p, row in self.agreement(basis).items()
                    },
                }
                for basis in _BASES
            },
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, **kwargs)

    def to_markdown(self) -> str:
        """Markdown: winners by case and principle, wins per candidate, the tau matrices, errors."""
        names = list(self.principles)
        failures = self.failures
        total = len(self.cases) * len(names)
        lines = [
            "## Principle sweep",
            "",
            f"{len(self.cases)} cases x {len(names)} principles: "
            f"{total - len(failures)} judged, {len(failures)} failed.",
            "",
            "### Winner by case",
            "",
            _row(["case", *names]),
            _rule(len(names) + 1),
        ]
        for case in self.cases:
            cells = [case.id]
            for name in names:
                item = self.results[case.id][name]
                if isinstance(item, JudgeResult):
                    cells.append(f"{item.best} ({_number(item.scores[item.best])})")
                else:
                    cells.append(f"**error** ({type(item).__name__})")
            lines.append(_row(cells))

        wins = self.wins()
        candidates = list(next(iter(wins.values()), {}))
        lines += ["", "### Wins by candidate", "", _row(["candidate", *names]), _rule(len(names) + 1)]
        for candidate in candidates:
            lines.append(_row([candidate, *(str(wins[name][candidate]) for name in names)]))
        failed_by = {name: sum(1 for _, p, _ in failures if p == name) for name in names}
        if failures:
            lines.append(_row(["*failed*", *(str(failed_by[name]) for name in names)]))

        for basis, title in _BASES.items():
            matrix = self.agreement(basis)
            lines += [
                "",
                f"### {title}",
                "",
                "Kendall tau-b, mean over the cases both principles judged (n = cases): "
                "1 same order, 0 unrelated, -1 reversed.",
                "",
                _row(["", *names]),
                _rule(len(names) + 1),
            ]
            for p in names:
                lines.append(_row([p, *(_tau_cell(matrix[p][q]) for q in names)]))

        lines += ["", "### Principles", ""]
        lines += [f"- **{_cell(name)}**: {_cell(_shorten(text, 200))}" for name, text in self.principles.items()]
        if failures:
            lines += ["", "### Errors", ""]
            lines += [
                f"- {_cell(cid)} / {_cell(name)}: {type(err).__name__}: {_cell(_shorten(str(err), 300))}"
                for cid, name, err in failures
            ]
        return "\n".join(lines) + "\n"

    def save_heatmap(self, path: str | Path, *, basis: Basis = "ranking") -> Path:
        """Save the tau matrix as a PNG heatmap (matplotlib's Agg canvas; no display needed).

        Raises:
            MissingDependencyError: matplotlib is not installed (the ``eval`` extra).
        """
        _require_matplotlib()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        names = list(self.principles)
        matrix = self.agreement(basis)
        values = [[_or_nan(matrix[p][q].tau) for q in names] for p in names]
        side = 2.5 + 0.9 * len(names)
        fig = Figure(figsize=(side + 1.2, side))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        image = ax.imshow(values, cmap="RdBu", vmin=-1.0, vmax=1.0)
        ax.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), labels=names)
        for i, p in enumerate(names):
            for j, q in enumerate(names):
                pair = matrix[p][q]
                text = "n/a" if pair.tau is None else f"{pair.tau:.2f}\nn={pair.cases}"
                dark = pair.tau is not None and abs(pair.tau) > 0.6
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
        fig.colorbar(image, ax=ax, label="Kendall tau-b")
        ax.set_title(f"Agreement between principles ({basis})")
        fig.tight_layout()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", dpi=110)
        return out


# --------------------------------------------------------------------- sweep


async def asweep(
    judge: Judge,
    principles: Mapping[str, PrincipleLike],
    cases: Sequence[SweepCase | Mapping[str, Any]],
    *,
    on_result: OnResult | None = None,
    concurrency: int | None = None,
) -> SweepReport:
    """Judge every case under every principle and report how the rankings differ.

    Args:
        judge: the judge (its ``permutations``, ``seed`` and ``concurrency`` apply).
        principles: name -> principle (text or :class:`~ra_agents.Principle`), in the
            order the report lists them.
        cases: :class:`SweepCase` objects or their JSON form; a case without an id is
            named by its position (``"1"``, ``"2"``, ...).
        on_result: ``on_result(case_id, principle_name, item)`` as each judgement
            finishes (for progress bars).
        concurrency: overrides the judge's requests in flight.

    Returns:
        The report, with a verdict or an error for every (case, principle).

    Raises:
        UsageError: no principles or no cases, a blank principle, a malformed case,
            or two cases with one id. Failures of single judgements are not raised:
            they are kept in the report.
    """
    texts = _principle_texts(principles)
    swept = _cases(cases)
    pairs = [(case, name) for case in swept for name in texts]
    requests = [
        {"principle": principles[name], "prompt": case.prompt, "responses": case.to_dict()["responses"]}
        for case, name in pairs
    ]

    def report_one(index: int, item: BatchItem) -> None:
        if on_result is not None:
            case, name = pairs[index]
            on_result(case.id, name, item)

    items = await judge.ajudge_batch(requests, concurrency=concurrency, on_result=report_one)
    results: dict[str, dict[str, BatchItem]] = {case.id: {} for case in swept}
    for (case, name), item in zip(pairs, items, strict=True):
        results[case.id][name] = item
    return SweepReport(principles=texts, cases=tuple(swept), results=results)


def sweep(
    judge: Judge,
    principles: Mapping[str, PrincipleLike],
    cases: Sequence[SweepCase | Mapping[str, Any]],
    *,
    on_result: OnResult | None = None,
    concurrency: int | None = None,
) -> SweepReport:
    """Synchronous :func:`asweep`."""
    return run_sync(
        asweep(judge, principles, cases, on_result=on_result, concurrency=concurrency),
        async_name="ra_agents.sweep.asweep",
    )


# ------------------------------------------------------------------- helpers


def _principle_texts(principles: Mapping[str, PrincipleLike]) -> dict[str, str]:
    if not isinstance(principles, Mapping):
        raise UsageError("principles must be a mapping of name -> principle text or Principle")
    if not principles:
        raise UsageError("a sweep needs at least one principle; name each, e.g. {'concise': 'Prefer ...'}")
    texts = {}
    for name, principle in principles.items():
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"principle names must be non-empty strings, got {name!r}")
        try:
            texts[name] = principle_text(principle)
        except UsageError as exc:
            raise UsageError(f"principle {name!r}: {exc}") from None
    return texts


def _cases(cases: Sequence[SweepCase | Mapping[str, Any]]) -> list[SweepCase]:
    if isinstance(cases, str | bytes | Mapping) or not isinstance(cases, Sequence):
        raise UsageError("cases must be a list of cases ({'id', 'prompt', 'responses'} or SweepCase)")
    if not cases:
        raise UsageError("a sweep needs at least one case")
    out = []
    for position, raw in enumerate(cases, 1):
        if isinstance(raw, SweepCase):
            out.append(raw)
            continue
        try:
            out.append(SweepCase.from_dict(raw, default_id=str(position)))
        except UsageError as exc:
            raise UsageError(f"case {position}: {exc}") from None
    seen: set[str] = set()
    for case in out:
        if case.id in seen:
            raise UsageError(f"case id {case.id!r} appears twice; case ids must be unique")
        seen.add(case.id)
    return out


def _case_tau(a: JudgeResult, b: JudgeResult, basis: Basis) -> float | None:
    if basis == "ranking":
        return ranking_tau(a.ranking, b.ranking)
    return kendall_tau_b([a.scores[n] for n in a.names], [b.scores[n] for n in a.names])


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _require_matplotlib() -> None:
    """Fail early, naming the extra, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingDependencyError("matplotlib", "eval", "The sweep heatmap") from None


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell or list item: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _rule(n: int) -> str:
    return "|" + "---|" * n


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _tau_cell(pair: PairAgreement) -> str:
    return "n/a (n=0)" if pair.tau is None else f"{pair.tau:+.2f} (n={pair.cases})"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
