"""The judging protocol: what :class:`~ra_agents.Judge`, :class:`~ra_agents.Client` and
:class:`~ra_agents.AsyncClient` all do, so every adapter takes any of them.

An adapter is typed against :class:`Judging` and calls only these methods; a local judge,
a judge server reached over HTTP, or anything else that implements them is a drop-in.
Every method takes the same arguments with the same meaning, and returns the same types:
a prompt is anything :func:`ra_agents.prompt_text` reads, a principle is text or a
:class:`~ra_agents.Principle`.

The sync methods of the HTTP :class:`~ra_agents.AsyncClient` and the async methods of
:class:`~ra_agents.Client` run through the library's one sync portal, like the judge's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._errors import RAError
    from ._types import JudgeRequest, JudgeResult
    from .multi import MultiMode, MultiResult, PrincipleSet
    from .principles import PrincipleLike

__all__ = ["Judging"]


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
