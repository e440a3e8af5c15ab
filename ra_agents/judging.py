"""Judging: the protocol every judge satisfies, and the methods written once on top of it.

:class:`Judging` is what :class:`~ra_agents.Judge`, :class:`~ra_agents.Client`,
:class:`~ra_agents.AsyncClient` and :class:`~ra_agents.Panel` all do, so every adapter takes
any of them. An adapter is typed against :class:`Judging` and calls only these methods; a
local judge, a judge server reached over HTTP, a panel, or anything else that implements
them is a drop-in. Every method takes the same arguments with the same meaning and returns
the same types: a prompt is anything :func:`ra_agents.prompt_text` reads, a principle is text
or a :class:`~ra_agents.Principle`.

:class:`JudgingBase` writes the rest once on top of a class's own ``ajudge`` and
``ajudge_batch``: the sync methods (through the library's one sync portal) and judging
under several principles at once, with weights, in two modes:


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
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar, runtime_checkable

from ._aggregate import normalize
from ._errors import RAError, UsageError
from ._types import JudgeRequest, JudgeResult
from .principles import PrincipleLike, principle_text
from .sync import run_sync

__all__ = ["Judging", "JudgingBase", "MultiMode", "MultiResult", "PrincipleSet", "principle_weights"]

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
    if not isinstance(principles, Mapping):
        raise UsageError(
            f"principles must map a name to each principle, got a {type(principles).__name__}; "
            "e.g. {'safe': 'Refuse harmful requests.', 'concise': 'Prefer the shortest answer.'}"
        )
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


@runtime_checkable
class Judging(Protocol):
    """Single, batch and several-principle judging, sync and async."""

    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult: ...

    def judge(
        self,
        principle: PrincipleLike,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> JudgeResult: ...

    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, JudgeResult | RAError], None] | None = None,
    ) -> list[JudgeResult | RAError]: ...

    def judge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, JudgeResult | RAError], None] | None = None,
    ) -> list[JudgeResult | RAError]: ...

    async def ajudge_many(
        self,
        principles: PrincipleSet,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        weights: Mapping[str, float] | None = None,
        mode: MultiMode = "separate",
        permutations: int | None = None,
        seed: int | None = None,
    ) -> MultiResult: ...

    def judge_many(
        self,
        principles: PrincipleSet,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        weights: Mapping[str, float] | None = None,
        mode: MultiMode = "separate",
        permutations: int | None = None,
        seed: int | None = None,
    ) -> MultiResult: ...


R = TypeVar("R", bound=JudgeResult)


class JudgingBase(Generic[R]):
    """The :class:`Judging` methods written once on top of ``ajudge`` and ``ajudge_batch``.

    A subclass implements those two; the sync methods run them on the library's sync
    portal (raising :class:`~ra_agents.UsageError` inside a running event loop, naming the
    async method to await), and :meth:`ajudge_many` judges under several principles with
    its ``ajudge``.
    """

    @abstractmethod
    async def ajudge(
        self,
        principle: PrincipleLike,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> R:
        """One verdict over ``responses``."""

    @abstractmethod
    async def ajudge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, JudgeResult | RAError], None] | None = None,
    ) -> list[JudgeResult | RAError]:
        """One verdict or error per request, in request order."""

    def _async_name(self, method: str) -> str:
        return f"{type(self).__name__.lower()}.{method}"

    def judge(
        self,
        principle: PrincipleLike,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        permutations: int | None = None,
        seed: int | None = None,
    ) -> R:
        """Synchronous :meth:`ajudge`."""
        return run_sync(
            self.ajudge(principle, prompt, responses, permutations=permutations, seed=seed),
            async_name=self._async_name("ajudge"),
        )

    def judge_batch(
        self,
        requests: Iterable[JudgeRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_result: Callable[[int, JudgeResult | RAError], None] | None = None,
    ) -> list[JudgeResult | RAError]:
        """Synchronous :meth:`ajudge_batch`."""
        return run_sync(
            self.ajudge_batch(requests, concurrency=concurrency, on_result=on_result),
            async_name=self._async_name("ajudge_batch"),
        )

    async def ajudge_many(
        self,
        principles: PrincipleSet,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        weights: Mapping[str, float] | None = None,
        mode: MultiMode = "separate",
        permutations: int | None = None,
        seed: int | None = None,
    ) -> MultiResult:
        """Judge the candidates under several principles and combine the verdicts by weight.

        Args:
            principles: ``name -> principle`` or ``name -> (principle, weight)``.
            prompt: the prompt the candidates answer.
            responses: as for :meth:`ajudge`.
            weights: ``name -> weight`` (overrides tuple weights; default 1 each).
            mode: ``"separate"``: one :meth:`ajudge` call per principle, concurrently, each
                verdict kept and a weighted combined score per candidate; ``"fold"``: the
                principles folded into one prioritised principle, judged in one call.
            permutations: as for :meth:`ajudge`.
            seed: as for :meth:`ajudge`.

        Raises:
            UsageError: bad principles or weights; anything :meth:`ajudge` raises (a
                failure under one principle fails the call, with the principle named in
                a note, since a partial combination would mislead).
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
            from .principles import combine  # the library is read only when folding

            folded_principle = combine(
                {n: _principle_of(v) for n, v in principles.items()},
                weights=raw,
                priority=sorted(principles, key=lambda n: -raw[n]),
            )
            folded = await self.ajudge(folded_principle, prompt, responses, permutations=permutations, seed=seed)
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
                self.ajudge(_principle_of(principles[n]), prompt, responses, permutations=permutations, seed=seed)
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

    def judge_many(
        self,
        principles: PrincipleSet,
        prompt: Any,
        responses: Mapping[str, Any] | Sequence[Any],
        *,
        weights: Mapping[str, float] | None = None,
        mode: MultiMode = "separate",
        permutations: int | None = None,
        seed: int | None = None,
    ) -> MultiResult:
        """Synchronous :meth:`ajudge_many`."""
        return run_sync(
            self.ajudge_many(
                principles, prompt, responses, weights=weights, mode=mode, permutations=permutations, seed=seed
            ),
            async_name=self._async_name("ajudge_many"),
        )
