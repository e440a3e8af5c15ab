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
  request order, so the mapping is deterministic and equal scores stay equal. Each pass's
  reasoning is stored as the judge wrote it, in masked names, and a hit reads it in this
  request's names.
* Values are a versioned, schema-checked JSON payload holding the verdict in the library's
  one serialisation (:func:`~ra_agents.verdict_to_dict`, candidates named by their place
  in text order), checked again against the request on every read: a corrupted or
  mismatching entry is a miss (then overwritten), never a wrong verdict. A store that
  fails is a miss too (logged), never a failed judgement.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from . import protocol
from ._aggregate import normalize
from ._errors import MissingDependencyError, UsageError, VerdictError
from ._types import JudgeResult, PassVerdict, Usage, verdict_to_dict

__all__ = [
    "VerdictStore",
    "BaseCache",
    "MemoryCache",
    "DiskCache",
    "CacheKey",
    "open_store",
    "cache_key",
    "cache_stats",
    "verdict_lookup",
]

FORMAT: Final = "ra-agents.verdict"
VERSION: Final = 2
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


class _Stored(BaseModel):
    """The stored verdict: :func:`~ra_agents.verdict_to_dict`'s shape (``best`` aside), by slot.

    Slot ``"i"`` names the i-th candidate in text order, whose text digest is
    ``candidates[i]``. Each pass's reasoning is in the masked names the judge saw
    (``model-1`` is that pass's ``order[0]``); the verdict's own reasoning is left empty,
    since it is the passes' joined, and so are its steering flags, found again from the texts.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format: Literal["ra-agents.verdict"]
    version: Literal[2]
    key: str
    candidates: list[str]
    verdict: JudgeResult


def _problem(entry: _Stored, *, key: str, digests: list[str], scale: tuple[int, int], principle: str) -> str | None:
    """Why ``entry`` is not a verdict on this request, or ``None`` when it is."""
    v = entry.verdict
    slots = [str(i) for i in range(len(digests))]
    low, high = scale

    def covers(names: Sequence[str] | Mapping[str, Any]) -> bool:
        return len(names) == len(slots) and set(names) == set(slots)

    def fits(table: Mapping[str, float] | None) -> bool:
        return table is None or (covers(table) and all(low <= s <= high for s in table.values()))

    if entry.key != key or entry.candidates != digests:
        return "another request's entry"
    if v.scale != scale or v.principle != principle:
        return "another scale or principle"
    if list(v.names) != slots or not all(covers(t) for t in (v.scores, v.normalized, v.ranking)):
        return "scores or ranking do not cover the candidates"
    if not fits(v.scores):
        return "a score is off the scale"
    if not fits(v.expected_scores):
        return "expected scores do not fit"
    for share in (v.agreement, v.pairwise_agreement):
        if share is not None and not 0.0 <= share <= 1.0:
            return "an agreement is not a share"
    if not v.passes:
        return "no passes"
    for p in v.passes:
        if not (covers(p.order) and covers(p.ranking) and covers(p.scores)) or p.attempts < 1:
            return "a pass does not cover the candidates"
        if not fits(p.scores):
            return "a pass score is off the scale"
        if not fits(p.expected_scores):
            return "a pass's expected scores do not fit"
    return None


def _table(table: Mapping[str, float] | None, old_of: Mapping[str, str]) -> dict[str, float] | None:
    return None if not table else {new: table[old] for new, old in old_of.items()}


def _renamed(result: JudgeResult, old_of: Mapping[str, str], passes: tuple[PassVerdict, ...]) -> JudgeResult:
    """``result`` under new names (``old_of``: new name -> old name, in the new order), with ``passes``."""
    new_of = {old: new for new, old in old_of.items()}
    return replace(
        result,
        names=tuple(old_of),
        scores=_table(result.scores, old_of) or {},
        ranking=tuple(new_of[n] for n in result.ranking),
        normalized=_table(result.normalized, old_of) or {},
        expected_scores=_table(result.expected_scores, old_of),
        passes=passes,
    )


def _renamed_pass(p: PassVerdict, old_of: Mapping[str, str], reasoning: str) -> PassVerdict:
    new_of = {old: new for new, old in old_of.items()}
    return replace(
        p,
        order=tuple(new_of[n] for n in p.order),
        scores={new: p.scores[old] for new, old in old_of.items()},
        ranking=tuple(new_of[n] for n in p.ranking),
        expected_scores=_table(p.expected_scores, old_of),
        reasoning=reasoning,
    )


def _masked_reasoning(p: PassVerdict, scale: tuple[int, int]) -> str | None:
    """A pass's reasoning in the masked names the judge wrote (read again from its raw answer).

    ``None`` when the raw answer does not give back exactly the pass's reasoning.
    """
    if not p.reasoning:
        return ""
    masked = protocol.masked_names(len(p.order))
    try:
        found = protocol.parse_verdict(p.raw, masked, scale=scale).reasoning
    except VerdictError:
        return None
    return found if protocol.unmask(found, dict(zip(masked, p.order, strict=True))) == p.reasoning else None


def _encode(result: JudgeResult, key: str, texts: Sequence[str]) -> bytes | None:
    """The stored form of ``result``; ``None`` when its reasoning cannot be stored name-free."""
    order = _slots(texts)
    old_of = {str(slot): result.names[i] for slot, i in enumerate(order)}  # slot -> name, in slot order
    passes = []
    for p in result.passes:
        reasoning = _masked_reasoning(p, result.scale)
        if reasoning is None:
            return None
        passes.append(_renamed_pass(p, old_of, reasoning))
    # flags follow from the texts alone: the judge finds them again on a hit
    verdict = verdict_to_dict(replace(_renamed(result, old_of, tuple(passes)), reasoning="", flags={}))
    del verdict["best"]  # the ranking's first; a verdict field only on the wire
    entry = {
        "format": FORMAT,
        "version": VERSION,
        "key": key,
        "candidates": [_digest(texts[i]) for i in order],
        "verdict": verdict,
    }
    return json.dumps(entry, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass")


def _decode(entry: _Stored, names: Sequence[str], texts: Sequence[str], latency_s: float) -> JudgeResult:
    stored = entry.verdict
    slot_of_index = _inverse(_slots(texts))
    old_of = {name: str(slot_of_index[i]) for i, name in enumerate(names)}  # name -> slot, in request order
    name_of = {slot: name for name, slot in old_of.items()}

    def reasoning(p: PassVerdict) -> str:
        real_of = dict(zip(protocol.masked_names(len(p.order)), (name_of[s] for s in p.order), strict=True))
        return protocol.unmask(p.reasoning, real_of)

    passes = tuple(_renamed_pass(p, old_of, reasoning(p)) for p in stored.passes)
    result = _renamed(stored, old_of, passes)
    return replace(
        result,
        normalized={n: normalize(result.scores[n], stored.scale) for n in names},
        reasoning="\n\n".join(p.reasoning for p in passes if p.reasoning),
        retries=0,  # this call asked nothing
        usage=Usage(),
        latency_s=latency_s,
        flags={},  # the judge sets this request's
    )


def _inverse(order: Sequence[int]) -> list[int]:
    """``slot_of[i]``: the slot of request index ``i``, for ``order`` (request indices in slot order)."""
    slot_of = [0] * len(order)
    for slot, i in enumerate(order):
        slot_of[i] = slot
    return slot_of


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
            value = _encode(result, self.key, self.texts)
            if value is None:
                _log.info(
                    "verdict cache: not storing %s (its reasoning does not read back from the raw answer)",
                    self.key[:12],
                )
                return
            await _call(self.store, self.store.set, self.key, value)
        except Exception as exc:  # noqa: BLE001 - a failing cache must not fail the judgement
            _log.warning("verdict cache: set failed (%s: %s)", type(exc).__name__, exc)
            _count(self.store, "error")


@dataclass(frozen=True)
class CacheKey:
    """Everything that decides one judge call's verdict: what the cache is keyed by.

    The judge builds it (:meth:`ra_agents.Judge.cache_key`); the cache reads nothing else.

    Attributes:
        model: the judge model.
        principle: the principle's rendered text.
        prompt: the prompt's text.
        text_of: candidate name -> rendered text, in request order.
        settings: JSON values of the call's settings that change a verdict (scale,
            passes, system prompt, temperature, token budget, structured output,
            logprobs, seed).
        scale: the judge's score scale.
    """

    model: str
    principle: str
    prompt: str
    text_of: Mapping[str, str]
    settings: Mapping[str, Any]
    scale: tuple[int, int] = (1, 5)

    @property
    def digest(self) -> str:
        """The sha256 hex key (:func:`cache_key`): candidate texts as a multiset, names left out."""
        return cache_key(
            model=self.model,
            principle=self.principle,
            prompt=self.prompt,
            texts=list(self.text_of.values()),
            settings=self.settings,
        )


def verdict_lookup(store: VerdictStore, key: CacheKey) -> VerdictLookup:
    """The place of the call ``key`` describes in ``store``: load before judging, save after."""
    return VerdictLookup(
        store, key.digest, list(key.text_of), list(key.text_of.values()), scale=key.scale, principle=key.principle
    )


async def _call(store: VerdictStore, method: Callable[..., Any], *args: Any) -> Any:
    """Call a store method: in a worker thread unless the store says it does not block."""
    if getattr(store, "blocking", True):
        return await asyncio.to_thread(method, *args)
    return method(*args)


def _count(store: VerdictStore, outcome: Literal["hit", "miss", "invalid", "error"]) -> None:
    if isinstance(store, BaseCache):
        store.count(outcome)
