"""A verdict cache: the same principle, prompt and candidates are judged once.

Evaluation reruns, RL replays and guardrails send the same request again and again. With
``Judge(cache=...)`` a request whose verdict is stored comes back from the store with no
backend call.

* The key is a sha256 over a canonical JSON of the judge model, the principle's rendered
  text, the prompt, the settings that change a verdict (scale, permutations, system
  prompt, temperature, max_tokens, structured output, logprobs, and the seed when one is
  given) and the candidates as a *multiset of texts*: the same candidates under other
  names, or in another order, hit the same entry.
* The stored value speaks of candidates by text (a digest per text, in text order), never
  by name; a hit is mapped back onto this request's names. Equal texts are matched in
  request order, so the mapping is deterministic and equal scores stay equal.
* Values are a versioned, schema-checked JSON payload, checked again against the request
  on every read: a corrupted or mismatching entry is a miss (then overwritten), never a
  wrong verdict. A store that fails is a miss too (logged), never a failed judgement.
* Sampled verdicts (``temperature > 0``) are cached only with ``cache_sampled=True``.

Stores are anything with ``get(key)`` and ``set(key, value)`` (:class:`VerdictStore`), small
enough to put a shared store behind server replicas. Two come with the package:
:class:`MemoryCache` (an in-process LRU) and :class:`DiskCache` (on the ``diskcache``
library, safe across processes; the ``cache`` extra).

>>> from ra_agents import Judge
>>> from ra_agents.cache import MemoryCache
>>> judge = Judge(cache=MemoryCache(maxsize=10_000))  # or cache="verdicts/" for a DiskCache
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._aggregate import normalize
from ._errors import MissingDependencyError, UsageError
from ._types import JudgeResult, PassVerdict, Usage

if TYPE_CHECKING:
    from .judge import Judge

__all__ = ["VerdictStore", "BaseCache", "MemoryCache", "DiskCache", "open_store", "cache_key", "cache_stats"]

FORMAT: Final = "ra-agents.verdict"
VERSION: Final = 1
"""Version of the key and of the stored payload; raising it turns every old entry into a miss."""

_log = logging.getLogger("ra_agents.cache")


@runtime_checkable
class VerdictStore(Protocol):
    """Where verdicts are kept: a small key-value store.

    ``get`` returns what ``set`` stored (bytes of JSON, or the decoded JSON object), or
    ``None`` for a missing key. Stores with a ``blocking`` attribute that is false are
    called on the event loop; any other store is called in a worker thread.
    """

    def get(self, key: str) -> bytes | dict[str, Any] | None:
        """The value stored under ``key``, or ``None``."""
        ...

    def set(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...


class BaseCache:
    """Lookup counts for a store; subclass it to have a custom store counted too.

    Attributes:
        hits: lookups answered from the store.
        misses: lookups that had to ask the backend (invalid entries included).
        invalid: entries found but rejected (corrupted, another schema, not this request).
        errors: store calls that raised (each counted as a miss, or a lost write).
    """

    blocking = True

    def __init__(self) -> None:
        self._counts_lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.invalid = 0
        self.errors = 0

    def count(self, outcome: Literal["hit", "miss", "invalid", "error"]) -> None:
        """Add one to a counter (the judge calls this; thread-safe)."""
        with self._counts_lock:
            if outcome == "hit":
                self.hits += 1
            elif outcome == "miss":
                self.misses += 1
            elif outcome == "invalid":
                self.invalid += 1
            else:
                self.errors += 1

    def stats(self) -> dict[str, int]:
        """``{"hits", "misses", "invalid", "errors"}`` since this object was made."""
        with self._counts_lock:
            return {"hits": self.hits, "misses": self.misses, "invalid": self.invalid, "errors": self.errors}


class MemoryCache(BaseCache):
    """An in-process, thread-safe LRU store of at most ``maxsize`` verdicts.

    Args:
        maxsize: entries kept; the least recently used goes first.
    """

    blocking = False  # a dict look-up: called on the event loop

    def __init__(self, maxsize: int = 4096) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise UsageError(f"maxsize must be a positive integer, got {maxsize!r}")
        super().__init__()
        self.maxsize = maxsize
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()


class DiskCache(BaseCache):
    """A store in a folder, on the ``diskcache`` library: safe across threads and processes.

    Several processes (CLI runs, server workers, training jobs on one machine) may share
    one folder. Entries are evicted least recently stored first once the folder holds more
    than ``size_limit`` bytes. Values are read back as bytes only: an entry of any other
    kind (a pickle, say) is never unpickled; it reads as a miss.

    Args:
        directory: the folder (created when missing).
        size_limit: bytes kept before eviction (default 1 GiB).

    Raises:
        MissingDependencyError: ``diskcache`` is not installed (the ``cache`` extra).
        UsageError: the folder cannot be created or opened.
    """

    def __init__(self, directory: str | os.PathLike[str], *, size_limit: int = 2**30) -> None:
        try:
            import diskcache
        except ImportError as exc:
            raise MissingDependencyError("diskcache", "cache", "The disk verdict cache") from exc
        super().__init__()
        self.directory = Path(directory)
        try:
            self._cache = diskcache.Cache(str(self.directory), size_limit=size_limit, disk=_bytes_only_disk())
        except OSError as exc:
            raise UsageError(f"cannot open the cache folder {self.directory}: {exc}; pass a writable folder") from exc

    def get(self, key: str) -> bytes | None:
        value = self._cache.get(key, default=None, retry=True)
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        self._cache.set(key, bytes(value), retry=True)

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        """Drop every entry."""
        self._cache.clear(retry=True)

    def close(self) -> None:
        """Close the database connections (reopened on next use)."""
        self._cache.close()

    def __enter__(self) -> DiskCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.cache
def _bytes_only_disk() -> type:
    """diskcache's ``Disk`` that never unpickles: a shared folder must not run code."""
    import diskcache
    from diskcache.core import MODE_PICKLE

    class BytesOnlyDisk(diskcache.Disk):
        def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
            if mode == MODE_PICKLE:
                return None
            return super().fetch(mode, filename, value, read)

    return BytesOnlyDisk


def open_store(cache: VerdictStore | str | os.PathLike[str] | None) -> VerdictStore | None:
    """The store ``Judge(cache=...)`` names: a store as is, a folder path as a :class:`DiskCache`."""
    if cache is None:
        return None
    if isinstance(cache, str | os.PathLike):
        if not os.fspath(cache):
            raise UsageError("cache is an empty path; name a folder, e.g. cache='verdicts/'")
        return DiskCache(cache)
    if not (callable(getattr(cache, "get", None)) and callable(getattr(cache, "set", None))):
        raise UsageError(
            f"cache must be a store with get(key) and set(key, value) (e.g. ra_agents.cache.MemoryCache()) "
            f"or a folder path, got {type(cache).__name__}"
        )
    return cache


def cache_stats(store: object) -> dict[str, int] | None:
    """A store's lookup counts, or ``None`` when it keeps none (see :class:`BaseCache`)."""
    return store.stats() if isinstance(store, BaseCache) else None


# ------------------------------------------------------------------------ keys


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cache_key(*, model: str, principle: str, prompt: str, texts: Sequence[str], settings: Mapping[str, Any]) -> str:
    """The sha256 hex key of a request: candidate texts as a multiset, names left out.

    Args:
        model: the judge model.
        principle: the principle's rendered text.
        prompt: the prompt.
        texts: the candidates' rendered texts, in any order.
        settings: JSON values of the settings that change a verdict.
    """
    canonical = json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "model": model,
            "principle": principle,
            "prompt": prompt,
            "settings": dict(settings),
            "candidates": sorted(texts),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _slots(texts: Sequence[str]) -> list[int]:
    """Request indices in slot order: by text, equal texts in request order."""
    return sorted(range(len(texts)), key=texts.__getitem__)


# --------------------------------------------------------------------- payload


class _StoredPass(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    order: list[int]
    scores: list[int]
    ranking: list[int]
    reasoning: str
    repaired: bool
    expected: list[float] | None
    raw: str
    attempts: int = Field(ge=1)


class _Stored(BaseModel):
    """The stored verdict; every candidate is an index into ``candidates`` (digests in text order)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: Literal["ra-agents.verdict"]
    version: Literal[1]
    key: str
    candidates: list[str]
    scores: list[int | float]
    expected: list[float] | None
    ranking: list[int]
    reasoning: str
    agreement: float | None
    pairwise_agreement: float | None
    ranking_repaired: bool
    model: str
    scale: tuple[int, int]
    principle: str
    passes: list[_StoredPass] = Field(min_length=1)


def _problem(entry: _Stored, *, key: str, digests: list[str], scale: tuple[int, int], principle: str) -> str | None:
    """Why ``entry`` is not a verdict on this request, or ``None`` when it is."""
    n = len(digests)
    everyone = list(range(n))
    low, high = scale
    if entry.key != key or entry.candidates != digests:
        return "another request's entry"
    if entry.scale != scale or entry.principle != principle:
        return "another scale or principle"
    if len(entry.scores) != n or sorted(entry.ranking) != everyone:
        return "scores or ranking do not cover the candidates"
    if not all(low <= s <= high for s in entry.scores):
        return "a score is off the scale"
    if entry.expected is not None and (len(entry.expected) != n or not all(low <= s <= high for s in entry.expected)):
        return "expected scores do not fit"
    for share in (entry.agreement, entry.pairwise_agreement):
        if share is not None and not 0.0 <= share <= 1.0:
            return "an agreement is not a share"
    for p in entry.passes:
        if sorted(p.order) != everyone or sorted(p.ranking) != everyone or len(p.scores) != n:
            return "a pass does not cover the candidates"
        if not all(low <= s <= high for s in p.scores):
            return "a pass score is off the scale"
        if p.expected is not None and (len(p.expected) != n or not all(low <= s <= high for s in p.expected)):
            return "a pass's expected scores do not fit"
    return None


def _encode(result: JudgeResult, key: str, texts: Sequence[str]) -> bytes:
    names = result.names
    order = _slots(texts)
    slot_of = {names[i]: slot for slot, i in enumerate(order)}
    by_slot = [names[i] for i in order]

    def expected(table: Mapping[str, float] | None) -> list[float] | None:
        return None if not table else [float(table[n]) for n in by_slot]

    entry = _Stored(
        format=FORMAT,
        version=VERSION,
        key=key,
        candidates=[_digest(texts[i]) for i in order],
        scores=[result.scores[n] for n in by_slot],
        expected=expected(result.expected_scores),
        ranking=[slot_of[n] for n in result.ranking],
        reasoning=result.reasoning,
        agreement=result.agreement,
        pairwise_agreement=result.pairwise_agreement,
        ranking_repaired=result.ranking_repaired,
        model=result.model,
        scale=result.scale,
        principle=result.principle,
        passes=[
            _StoredPass(
                order=[slot_of[n] for n in p.order],
                scores=[int(p.scores[n]) for n in by_slot],
                ranking=[slot_of[n] for n in p.ranking],
                reasoning=p.reasoning,
                repaired=p.repaired,
                expected=expected(p.expected_scores),
                raw=p.raw,
                attempts=p.attempts,
            )
            for p in result.passes
        ],
    )
    return entry.model_dump_json().encode("utf-8")


def _decode(entry: _Stored, names: Sequence[str], texts: Sequence[str], latency_s: float) -> JudgeResult:
    by_slot = [names[i] for i in _slots(texts)]

    def table(values: Sequence[float] | None) -> dict[str, float] | None:
        return None if values is None else dict(zip(by_slot, values, strict=True))

    scores = dict(zip(by_slot, entry.scores, strict=True))
    return JudgeResult(
        names=tuple(names),
        scores={n: scores[n] for n in names},
        ranking=tuple(by_slot[s] for s in entry.ranking),
        normalized={n: normalize(scores[n], entry.scale) for n in names},
        reasoning=entry.reasoning,
        passes=tuple(
            PassVerdict(
                order=tuple(by_slot[s] for s in p.order),
                scores=dict(zip(by_slot, p.scores, strict=True)),
                ranking=tuple(by_slot[s] for s in p.ranking),
                reasoning=p.reasoning,
                repaired=p.repaired,
                expected_scores=table(p.expected),
                raw=p.raw,
                attempts=p.attempts,
            )
            for p in entry.passes
        ),
        expected_scores=table(entry.expected),
        agreement=entry.agreement,
        pairwise_agreement=entry.pairwise_agreement,
        ranking_repaired=entry.ranking_repaired,
        retries=0,  # this call asked nothing
        usage=Usage(),
        latency_s=latency_s,
        model=entry.model,
        scale=entry.scale,
        principle=entry.principle,
    )


# ---------------------------------------------------------------------- lookup


class VerdictLookup:
    """One request's place in a store: :meth:`load` before judging, :meth:`save` after."""

    def __init__(
        self,
        store: VerdictStore,
        key: str,
        names: Sequence[str],
        texts: Sequence[str],
        *,
        scale: tuple[int, int],
        principle: str,
    ) -> None:
        self.store = store
        self.key = key
        self.names = list(names)
        self.texts = list(texts)
        self.scale = scale
        self.principle = principle

    async def load(self) -> JudgeResult | None:
        """The stored verdict in this request's names, or ``None`` (counted as a hit or a miss)."""
        started = time.perf_counter()
        try:
            raw = await _call(self.store, self.store.get, self.key)
        except Exception as exc:  # noqa: BLE001 - a failing cache must not fail the judgement
            _log.warning("verdict cache: get failed (%s: %s); judging instead", type(exc).__name__, exc)
            _count(self.store, "error")
            raw = None
        result = None if raw is None else self._read(raw, started)
        _count(self.store, "miss" if result is None else "hit")
        return result

    def _read(self, raw: object, started: float) -> JudgeResult | None:
        problem: str | None
        try:
            if isinstance(raw, Mapping):
                raw = json.dumps(raw, allow_nan=False)
            if not isinstance(raw, bytes | bytearray | str):
                raise TypeError(f"a {type(raw).__name__}, not JSON")
            entry = _Stored.model_validate_json(raw)
            digests = [_digest(self.texts[i]) for i in _slots(self.texts)]
            problem = _problem(entry, key=self.key, digests=digests, scale=self.scale, principle=self.principle)
            if problem is None:
                return _decode(entry, self.names, self.texts, time.perf_counter() - started)
        except (ValidationError, TypeError, ValueError) as exc:
            problem = f"not a valid entry: {type(exc).__name__}"
        _log.info("verdict cache: ignoring entry %s (%s); judging instead", self.key[:12], problem)
        _count(self.store, "invalid")
        return None

    async def save(self, result: JudgeResult) -> None:
        """Store ``result`` under this request's key (a failure is logged, never raised)."""
        try:
            await _call(self.store, self.store.set, self.key, _encode(result, self.key, self.texts))
        except Exception as exc:  # noqa: BLE001 - a failing cache must not fail the judgement
            _log.warning("verdict cache: set failed (%s: %s)", type(exc).__name__, exc)
            _count(self.store, "error")


def verdict_lookup(
    judge: Judge,
    principle: str,
    prompt: str,
    text_of: Mapping[str, str],
    *,
    permutations: int,
    seed: int | None,
    max_tokens: int,
) -> VerdictLookup | None:
    """The lookup for one :meth:`Judge.ajudge` call, or ``None`` when it is not cached.

    Args:
        judge: the judge, for its store and settings.
        principle: the principle's rendered text.
        prompt: the prompt.
        text_of: candidate name -> rendered text, in request order.
        permutations: passes of this call.
        seed: this call's seed override (``None``: the judge's own).
        max_tokens: this call's generation budget.

    Not cached: no store, or a sampled judge (``temperature > 0``) without ``cache_sampled``.
    """
    store = judge.cache
    seed = judge.seed if seed is None else seed
    names, texts = list(text_of), list(text_of.values())
    if store is None or (judge.temperature > 0 and not judge.cache_sampled):
        return None
    settings: dict[str, Any] = {
        "scale": list(judge.scale),
        "permutations": permutations,
        "system_prompt": judge.system_prompt,
        "temperature": float(judge.temperature),
        "max_tokens": max_tokens,
        "structured": bool(judge.structured),
        "logprobs": bool(judge.logprobs and getattr(judge.backend, "supports_logprobs", False)),
    }
    if seed is not None:
        settings["seed"] = seed
    key = cache_key(model=judge.backend.model, principle=principle, prompt=prompt, texts=texts, settings=settings)
    return VerdictLookup(store, key, names, texts, scale=judge.scale, principle=principle)


async def _call(store: VerdictStore, method: Callable[..., Any], *args: Any) -> Any:
    """Call a store method: in a worker thread unless the store says it does not block."""
    if getattr(store, "blocking", True):
        return await asyncio.to_thread(method, *args)
    return method(*args)


def _count(store: VerdictStore, outcome: Literal["hit", "miss", "invalid", "error"]) -> None:
    if isinstance(store, BaseCache):
        store.count(outcome)
