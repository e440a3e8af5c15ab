"""Judging under several principles at once, with weights.

Two modes:

- ``"separate"`` (default): one listwise call per principle, concurrently; each principle's
  verdict is kept, and the combined score of a candidate is the weighted mean of its
  scores under the principles (on the judge's scale). Cost: one call per principle.
- ``"fold"``: the principles are folded into ONE prioritised principle (each becomes a
  weighted criterion, higher weights first in the priority order, see
  :func:`ra_agents.principles.library.combine`) and judged in a single call, for when cost
  matters more than a per-principle breakdown.

The combined ranking sorts by combined score; ties go to the candidate with the higher
weighted unit score (logprob-weighted when available), then to the one ranked higher by
the heaviest principle, then to request order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._aggregate import normalize
from ._errors import UsageError
from ._types import JudgeResult
from .principles import PrincipleLike, principle_text

if TYPE_CHECKING:
    from .judging import Judging

__all__ = ["MultiResult", "PrincipleSet", "MultiMode", "ajudge_many", "principle_weights"]

PrincipleSet: TypeAlias = Mapping[str, PrincipleLike | tuple[PrincipleLike, float]]
"""Principles by name: ``name -> principle`` or ``name -> (principle, weight)``."""

MultiMode = Literal["separate", "fold"]


@dataclass(frozen=True)
class MultiResult:
    """The verdicts of one request under several principles, and their weighted combination.

    Attributes:
        names: candidate names in request order.
        verdicts: each principle's verdict (``"separate"`` mode), by principle name.
        folded: the single verdict under the folded principle (``"fold"`` mode).
        weights: each principle's weight, normalised to sum to 1.
        scores: combined score per candidate, on the judge's scale.
        normalized: combined score mapped to [0, 1].
        ranking: combined best-to-worst ranking.
        mode: ``"separate"`` or ``"fold"``.
        scale: the judge's score scale.
    """

    names: tuple[str, ...]
    verdicts: Mapping[str, JudgeResult]
    folded: JudgeResult | None
    weights: Mapping[str, float]
    scores: Mapping[str, float]
    normalized: Mapping[str, float]
    ranking: tuple[str, ...]
    mode: MultiMode
    scale: tuple[int, int] = (1, 5)

    @property
    def best(self) -> str:
        """The winning candidate under the combination."""
        return self.ranking[0]

    def unit_score(self, name: str) -> float:
        """``name``'s combined score in [0, 1] (weighted :meth:`JudgeResult.unit_score`)."""
        if self.folded is not None:
            return self.folded.unit_score(name)
        return sum(w * self.verdicts[p].unit_score(name) for p, w in self.weights.items())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "mode": self.mode,
            "scores": dict(self.scores),
            "normalized": dict(self.normalized),
            "ranking": list(self.ranking),
            "best": self.best,
            "weights": dict(self.weights),
            "verdicts": {p: r.to_dict() for p, r in self.verdicts.items()},
            "folded": self.folded.to_dict() if self.folded is not None else None,
        }


def principle_weights(principles: PrincipleSet, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each principle's raw weight: ``weights[name]``, else the tuple's weight, else 1.

    Raises:
        UsageError: no principles, a weight for an unknown name, a negative or
            non-finite weight, or all weights zero.
    """
    if not principles:
        raise UsageError("no principles given; pass name -> principle, e.g. {'safe': ..., 'concise': ...}")
    weights = dict(weights or {})
    unknown = set(weights) - set(principles)
    if unknown:
        raise UsageError(f"weights name unknown principles {sorted(unknown)}; known: {sorted(principles)}")
    out: dict[str, float] = {}
    for name, value in principles.items():
        w = weights.get(name, value[1] if isinstance(value, tuple) else 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or not (0 <= w < float("inf")):
            raise UsageError(f"principle {name!r}: weight must be a finite number >= 0, got {w!r}")
        out[name] = float(w)
    if not any(out.values()):
        raise UsageError("every principle's weight is 0; give at least one a positive weight")
    return out


def _principle_of(value: PrincipleLike | tuple[PrincipleLike, float]) -> PrincipleLike:
    return value[0] if isinstance(value, tuple) else value


async def ajudge_many(
    judge: Judging,
    principles: PrincipleSet,
    prompt: Any,
    responses: Mapping[str, Any] | Sequence[Any],
    *,
    weights: Mapping[str, float] | None = None,
    mode: MultiMode = "separate",
    permutations: int | None = None,
    seed: int | None = None,
) -> MultiResult:
    """Judge ``responses`` under each of ``principles`` and combine the verdicts by weight.

    See :meth:`ra_agents.Judge.ajudge_many`.
    """
    raw = principle_weights(principles, weights)
    for name, value in principles.items():
        try:
            principle_text(_principle_of(value))
        except UsageError as exc:
            raise UsageError(f"principle {name!r}: {exc}") from None
    total = sum(raw.values())
    shares = {n: w / total for n, w in raw.items()}
    if mode == "fold":
        from .principles import combine

        folded_principle = combine(
            {n: _principle_of(v) for n, v in principles.items()},
            weights=raw,
            priority=sorted(principles, key=lambda n: -raw[n]),
        )
        folded = await judge.ajudge(folded_principle, prompt, responses, permutations=permutations, seed=seed)
        return MultiResult(
            names=folded.names,
            verdicts={},
            folded=folded,
            weights=shares,
            scores=dict(folded.scores),
            normalized=dict(folded.normalized),
            ranking=folded.ranking,
            mode="fold",
            scale=folded.scale,
        )
    if mode != "separate":
        raise UsageError(f"mode must be 'separate' or 'fold', got {mode!r}")

    names = list(principles)
    outcomes = await asyncio.gather(
        *(
            judge.ajudge(_principle_of(principles[n]), prompt, responses, permutations=permutations, seed=seed)
            for n in names
        ),
        return_exceptions=True,
    )
    for name, outcome in zip(names, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            # A combination over fewer principles than asked would mislead: fail, naming the principle.
            outcome.add_note(f"(while judging under principle {name!r})")
            raise outcome
    verdicts: dict[str, JudgeResult] = {
        n: o for n, o in zip(names, outcomes, strict=True) if isinstance(o, JudgeResult)
    }
    first = verdicts[names[0]]
    candidates = first.names
    scores = {c: sum(shares[p] * verdicts[p].scores[c] for p in names) for c in candidates}
    unit = {c: sum(shares[p] * verdicts[p].unit_score(c) for p in names) for c in candidates}
    heaviest = max(names, key=lambda n: raw[n])  # first listed among equals
    position = {c: i for i, c in enumerate(verdicts[heaviest].ranking)}
    order = {c: i for i, c in enumerate(candidates)}
    ranking = tuple(sorted(candidates, key=lambda c: (-scores[c], -unit[c], position[c], order[c])))
    return MultiResult(
        names=candidates,
        verdicts=verdicts,
        folded=None,
        weights=shares,
        scores=scores,
        normalized={c: normalize(s, first.scale) for c, s in scores.items()},
        ranking=ranking,
        mode="separate",
        scale=first.scale,
    )
