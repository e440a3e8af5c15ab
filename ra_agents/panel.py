"""Judge panels: several judges that answer as one, with their agreement on every verdict.

A :class:`Panel` satisfies :class:`ra_agents.Judging`, so every adapter takes it where it takes
a :class:`~ra_agents.Judge` or a :class:`~ra_agents.Client`. Its members are any judges: different
LiteLLM models or servers, remote judges, or one judge asked with different seeds
(:meth:`Panel.repeat`).

>>> from ra_agents import Judge
>>> small, big = Judge.from_litellm("hosted_vllm/a"), Judge.from_litellm("openai/gpt-4o")  # doctest: +SKIP
>>> panel = Panel({"small": small, "big": big})  # doctest: +SKIP
>>> result = panel.judge("Correct first, then brief.", "2+2?", {"a": "4", "b": "5"})  # doctest: +SKIP
>>> result.best, result.alpha, result.members["big"].ranking  # doctest: +SKIP

Every member judges the same request; the panel's verdict is a :class:`PanelResult`, a
:class:`~ra_agents.JudgeResult` (so adapters work unchanged) that also keeps each member's
verdict (``members``), the members that failed (``member_errors``) and Krippendorff's alpha
among the members (``alpha``). How it combines them:

- **scores**: the mean (or median, ``scores="median"``) of the members' unit scores
  (:meth:`JudgeResult.unit_score`, logprob-weighted where a member has logprobs), so
  ``result.unit_score(c)`` is the members' mean unit score and the acceptance rule
  (:func:`ra_agents.accepts`) reads the panel like any judge. ``scores`` holds the members'
  mean score on the scale (the unit mean mapped onto the first member's scale when scales
  differ); ``expected_scores`` is set when some member had logprobs.
- **ranking**: the Kemeny central ranking (``ranking="kemeny"``, the default): the order that
  disagrees with the fewest member pairwise preferences (Kendall distance summed over members),
  found exactly by trying every order for up to ``kemeny_exact`` (7) candidates; beyond that,
  the Borda order improved by adjacent swaps while a majority prefers the swap (a local
  Kemeny optimum: no adjacent pair is ordered against the members' majority). Among optimal
  orders, the Borda order breaks ties, then the unit score, then request order.
  ``ranking="borda"``: the Borda count (a member's ranking gives ``n - 1 - position`` points).
- **agreement**: ``agreement`` is the share of members whose winner is the panel's,
  ``pairwise_agreement`` the share of candidate pairs two members order alike (mean over
  member pairs), ``alpha`` Krippendorff's alpha with the **interval** metric over the members'
  unit scores of the candidates (``None`` for one member, or when every score is equal).
- a member that fails fails the panel (``on_member_error="raise"``, the default: a verdict
  from fewer judges than asked would be read as the panel's); with ``"skip"`` the others decide
  and the failure is kept in ``member_errors`` (at least one member must answer).
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, permutations
from typing import TYPE_CHECKING, Any, Literal

from ._aggregate import borda_points, normalize
from ._errors import RAError, UsageError, error_to_dict
from ._types import JudgeRequest, JudgeResult, Usage, verdict_to_dict
from .calibration.stats import krippendorff_alpha
from .judging import JudgingBase
from .principles import PrincipleLike
from .sweep import ranking_tau

if TYPE_CHECKING:
    from .judging import Judging

__all__ = ["Panel", "PanelResult", "borda_ranking", "kemeny_ranking", "KEMENY_EXACT"]

RankingMethod = Literal["kemeny", "borda"]
ScoreMethod = Literal["mean", "median"]
OnMemberError = Literal["raise", "skip"]

KEMENY_EXACT = 7
"""Up to this many candidates the Kemeny ranking is exact (all n! orders are tried)."""


@dataclass(frozen=True)
class PanelResult(JudgeResult):
    """A panel's verdict: a :class:`JudgeResult` plus each member's verdict and their agreement.

    Attributes:
        members: each answering member's verdict, by member name.
        member_errors: each failed member's error, by name (``on_member_error="skip"``).
        alpha: Krippendorff's alpha (interval metric) among the members' unit scores.
        method: how the ranking was combined (``"kemeny"``, ``"kemeny-local"`` beyond the
            exact size, or ``"borda"``).

    :func:`ra_agents.verdict_to_dict` serialises the :class:`JudgeResult` part (what every
    adapter and the wire carry); :meth:`to_dict` adds the panel under ``"panel"``.
    """

    members: Mapping[str, JudgeResult] = field(default_factory=dict)
    member_errors: Mapping[str, RAError] = field(default_factory=dict)
    alpha: float | None = None
    method: str = "kemeny"

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """The verdict (:func:`verdict_to_dict`) with ``"panel"``: method, alpha, members' verdicts and errors."""
        data = verdict_to_dict(self, raw=raw)
        data["panel"] = {
            "method": self.method,
            "alpha": self.alpha,
            "members": {name: verdict_to_dict(r, raw=raw) for name, r in self.members.items()},
            "errors": {name: error_to_dict(e) for name, e in self.member_errors.items()},
        }
        return data


BatchItem = JudgeResult | RAError
"""One entry of a panel's batch result: the panel verdict (a :class:`PanelResult`), or the error that request met."""


@dataclass(frozen=True)
class _Member:
    name: str
    judge: Judging
    seed: int | None = None
    permutations: int | None = None


class Panel(JudgingBase[PanelResult]):
    """Several judges that answer as one (see the module docstring for how they are combined).

    Args:
        members: the judges, as a list (named ``member-1``, ``member-2``, ...) or a mapping
            of name -> judge. Any :class:`~ra_agents.Judging` (a panel too).
        ranking: ``"kemeny"`` (default) or ``"borda"``.
        scores: ``"mean"`` (default) or ``"median"`` of the members' unit scores.
        on_member_error: ``"raise"`` (default) or ``"skip"``.
        kemeny_exact: the most candidates ranked by exact Kemeny (default 7).

    Raises:
        UsageError: no members, a member that is not a judge, or an unknown method.
    """

    def __init__(
        self,
        members: Sequence[Judging] | Mapping[str, Judging],
        *,
        ranking: RankingMethod = "kemeny",
        scores: ScoreMethod = "mean",
        on_member_error: OnMemberError = "raise",
        kemeny_exact: int = KEMENY_EXACT,
    ) -> None:
        named = dict(members) if isinstance(members, Mapping) else {f"member-{i}": m for i, m in enumerate(members, 1)}
        self._members = [m if isinstance(m, _Member) else _Member(n, m) for n, m in named.items()]
        self._check(ranking, scores, on_member_error, kemeny_exact)
        self.ranking: RankingMethod = ranking
        self.scores: ScoreMethod = scores
        self.on_member_error: OnMemberError = on_member_error
        self.kemeny_exact = kemeny_exact

    @classmethod
    def repeat(cls, judge: Judging, seeds: Sequence[int], *, permutations: int | None = None, **options: Any) -> Panel:
        """One judge asked once per seed (members ``seed-0``, ``seed-1`` ...): self-consistency as a panel.

        Each member passes its seed (and ``permutations``, when given) on every call, so it
        sees its own shuffled orders; with a sampling judge (``temperature > 0``) the seeds
        also vary the samples where the backend honours a seed. ``options`` go to :class:`Panel`.
        """
        if not seeds or len(set(seeds)) != len(seeds):
            raise UsageError(f"repeat needs distinct seeds, one per member, got {list(seeds)}")
        members = {f"seed-{s}": _Member(f"seed-{s}", judge, seed=s, permutations=permutations) for s in seeds}
        return cls(members, **options)  # type: ignore[arg-type]

    @property
    def members(self) -> dict[str, Judging]:
        """The members by name."""
        return {m.name: m.judge for m in self._members}

    def __repr__(self) -> str:
        return f"Panel({[m.name for m in self._members]}, ranking={self.ranking!r}, scores={self.scores!r})"

    # ------------------------------------------------------------------ single

    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> PanelResult:
        """Every member judges the request; their verdicts combined (see :class:`Panel`).

        Raises:
            RAError: a member's error (``on_member_error="raise"``, or every member failed),
                with the member named in a note.
        """
        started = asyncio.get_running_loop().time()
        outcomes = await asyncio.gather(
            *(
                m.judge.ajudge(
                    principle,
                    prompt,
                    responses,
                    permutations=m.permutations if m.permutations is not None else permutations,
                    seed=m.seed if m.seed is not None else seed,
                )
                for m in self._members
            ),
            return_exceptions=True,
        )
        return self._combine(list(outcomes), asyncio.get_running_loop().time() - started)

    # ------------------------------------------------------------------- batch

    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, JudgeResult | RAError], None] | None = None,
    ) -> list[BatchItem]:
        """Judge many requests: each member judges the whole batch through its own batch call.

        Returns one entry per request, in request order: a :class:`PanelResult`, or the error
        that request met (a member's error under ``on_member_error="raise"``); one bad request
        never sinks the others. ``on_result(index, item)`` is called for every entry once the
        members are done. ``concurrency`` goes to each member's batch call.
        """
        items = list(requests)
        if not items:
            return []
        started = asyncio.get_running_loop().time()
        per_member = await asyncio.gather(
            *(m.judge.ajudge_batch(_for_member(items, m), concurrency=concurrency) for m in self._members)
        )
        elapsed = asyncio.get_running_loop().time() - started
        out: list[BatchItem] = []
        for index in range(len(items)):
            try:
                item: BatchItem = self._combine([answers[index] for answers in per_member], elapsed)
            except RAError as exc:
                item = exc
            out.append(item)
            if on_result is not None:
                on_result(index, item)
        return out

    # ------------------------------------------------------ several principles

    # ----------------------------------------------------------------- combine

    def _combine(self, outcomes: Sequence[JudgeResult | BaseException], elapsed: float) -> PanelResult:
        verdicts: dict[str, JudgeResult] = {}
        errors: dict[str, RAError] = {}
        for member, outcome in zip(self._members, outcomes, strict=True):
            if isinstance(outcome, JudgeResult):
                verdicts[member.name] = outcome
            elif isinstance(outcome, RAError):
                errors[member.name] = outcome
            else:
                raise outcome  # not a judging failure (cancellation, a bug): never hidden
        if errors and (self.on_member_error == "raise" or not verdicts):
            name, error = next(iter(errors.items()))
            error.add_note(f"(from panel member {name!r})")
            raise error
        results = list(verdicts.values())
        first = results[0]
        names = first.names
        for name, r in verdicts.items():
            if set(r.names) != set(names):
                raise UsageError(f"panel member {name!r} judged candidates {list(r.names)}, not {list(names)}")
        low, high = first.scale
        pick = statistics.median if self.scores == "median" else statistics.fmean
        unit = {c: float(pick([r.unit_score(c) for r in results])) for c in names}
        same_scale = all(r.scale == first.scale for r in results)
        scores = (
            {c: float(pick([r.scores[c] for r in results])) for c in names}
            if same_scale
            else {c: low + unit[c] * (high - low) for c in names}
        )
        expected = {c: low + unit[c] * (high - low) for c in names} if any(r.expected_scores for r in results) else None
        rankings = [r.ranking for r in results]
        points = borda_points(rankings, names)
        position = {c: i for i, c in enumerate(names)}
        tie_break = sorted(names, key=lambda c: (-points[c], -unit[c], position[c]))
        if self.ranking == "borda":
            ranking, method = tuple(tie_break), "borda"
        else:
            ranking = kemeny_ranking(rankings, tie_break, max_exact=self.kemeny_exact)
            method = "kemeny" if len(names) <= self.kemeny_exact else "kemeny-local"
        pairwise = None
        if len(results) > 1 and len(names) > 1:
            taus = [ranking_tau(a, b) for a, b in combinations(rankings, 2)]
            pairwise = statistics.fmean((1 + t) / 2 for t in taus if t is not None)
        flags: dict[str, tuple[str, ...]] = {}
        for r in results:
            for candidate, found in r.flags.items():
                flags[candidate] = tuple(dict.fromkeys((*flags.get(candidate, ()), *found)))
        return PanelResult(
            names=names,
            scores=scores,
            ranking=ranking,
            normalized={c: normalize(s, first.scale) for c, s in scores.items()},
            reasoning="\n\n".join(f"[{n}] {r.reasoning}" for n, r in verdicts.items() if r.reasoning),
            passes=tuple(p for r in results for p in r.passes),
            expected_scores=expected,
            agreement=sum(r.best == ranking[0] for r in results) / len(results) if len(results) > 1 else None,
            pairwise_agreement=pairwise,
            ranking_repaired=any(r.ranking_repaired for r in results),
            retries=sum(r.retries for r in results),
            usage=sum((r.usage for r in results), Usage()),
            latency_s=elapsed,
            model="panel(" + ", ".join(r.model for r in results) + ")",
            scale=first.scale,
            principle=first.principle,
            flags=flags,
            members=verdicts,
            member_errors=errors,
            alpha=krippendorff_alpha([[r.unit_score(c) for r in results] for c in names], "interval"),
            method=method,
        )

    @staticmethod
    def _check(ranking: str, scores: str, on_member_error: str, kemeny_exact: int) -> None:
        if ranking not in ("kemeny", "borda"):
            raise UsageError(f"ranking must be 'kemeny' or 'borda', got {ranking!r}")
        if scores not in ("mean", "median"):
            raise UsageError(f"scores must be 'mean' or 'median', got {scores!r}")
        if on_member_error not in ("raise", "skip"):
            raise UsageError(f"on_member_error must be 'raise' or 'skip', got {on_member_error!r}")
        if isinstance(kemeny_exact, bool) or not isinstance(kemeny_exact, int) or kemeny_exact < 1:
            raise UsageError(f"kemeny_exact must be a positive integer, got {kemeny_exact!r}")


def _for_member(items: list[Any], member: _Member) -> list[Any]:
    """The batch as ``member`` is asked it: its seed and permutations override the requests'."""
    update = {k: v for k, v in (("seed", member.seed), ("permutations", member.permutations)) if v is not None}
    if not update:
        return items
    out: list[Any] = []
    for raw in items:
        if isinstance(raw, JudgeRequest):
            out.append(raw.model_copy(update=update))
        elif isinstance(raw, Mapping):
            out.append({**raw, **update})
        else:
            out.append(raw)  # malformed: the member reports it in place
    return out


# ---------------------------------------------------------------- rankings


def borda_ranking(rankings: Sequence[Sequence[str]], names: Sequence[str]) -> tuple[str, ...]:
    """The Borda order of ``rankings`` (each gives ``n - 1 - position`` points); ties keep ``names`` order."""
    points = borda_points(rankings, names)
    position = {c: i for i, c in enumerate(names)}
    return tuple(sorted(names, key=lambda c: (-points[c], position[c])))


def kemeny_ranking(
    rankings: Sequence[Sequence[str]], tie_break: Sequence[str], *, max_exact: int = KEMENY_EXACT
) -> tuple[str, ...]:
    """The Kemeny central ranking: the order with the fewest pairwise disagreements with ``rankings``.

    Args:
        rankings: the members' best-to-worst rankings of the same names.
        tie_break: the names in the order that decides among equally good rankings (the
            first optimal order in the lexicographic order of ``tie_break`` wins); with more
            than ``max_exact`` names, the starting order of the local search.
        max_exact: the most names ranked exactly (all ``n!`` orders tried).

    Beyond ``max_exact``: adjacent pairs of ``tie_break`` are swapped while more rankings
    prefer the swap than not, until no adjacent pair is ordered against the majority (a
    locally Kemeny-optimal order; exact Kemeny is NP-hard in general).
    """
    names = tuple(tie_break)
    prefer = {(a, b): 0 for a in names for b in names if a != b}  # rankings that put a above b
    for ranking in rankings:
        for i, a in enumerate(ranking):
            for b in ranking[i + 1 :]:
                prefer[a, b] += 1
    if len(names) <= 1:
        return tuple(names)
    if len(names) <= max_exact:
        best: tuple[str, ...] = tuple(names)
        best_cost = math.inf
        for order in permutations(names):
            cost = sum(prefer[order[j], order[i]] for i in range(len(order)) for j in range(i + 1, len(order)))
            if cost < best_cost:
                best, best_cost = order, cost
        return best
    current = list(names)
    changed = True
    while changed:
        changed = False
        for i in range(len(current) - 1):
            a, b = current[i], current[i + 1]
            if prefer[b, a] > prefer[a, b]:
                current[i], current[i + 1] = b, a
                changed = True
    return tuple(current)
