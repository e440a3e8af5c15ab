"""The principle library: ready principles to find, read and combine.

ra-agents ships a library of principles written for the judge (``ra_agents/data/principles.toml``),
each a :class:`~ra_agents.Principle` with an id, a category, tags and a one-line summary.
Composites are entries built from other entries, one criterion per part.

>>> from ra_agents import principles
>>> principles.get("concise").category
'style'
>>> [p.id for p in principles.search("prompt-injection")][:2]
['resist-prompt-injection', 'safe-tool-use']
>>> p = principles.combine(
...     {"safety": "refuse-serious-harm", "style": "Prefer short answers."},
...     weights={"safety": 3, "style": 1},
... )
>>> [c.name for c in p.criteria], p.priority
(['safety', 'style'], ('safety', 'style'))

A library of your own is a TOML file of ``[[principle]]`` tables in the same format, or a
JSONL file with one principle object per line: :func:`load` reads either.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .._jsonl import jsonl_rows
from .value import DEFAULT_INTRO, Criterion, Principle, _percent

__all__ = ["Library", "load", "default_library", "get", "search", "combine", "COMPOSITE"]

COMPOSITE = "composite"
"""The category of entries built from other entries (a ``combine`` list in the file)."""

_DATA_FILE = "principles.toml"
_ID = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_COMPOSITE_FIELDS = {"id", "category", "tags", "summary", "text", "closing", "combine", "priority"}


class Library:
    """Principles with unique ids, in file order.

    Args:
        principles: the entries; each needs an ``id``.
        source: where they came from (a file name), for error messages.

    Raises:
        UsageError: an entry without an id, or an id used twice.
    """

    def __init__(self, principles: Iterable[Principle], *, source: str = "") -> None:
        self.source = source
        self._entries = tuple(principles)
        self._by_id: dict[str, Principle] = {}
        for p in self._entries:
            if not isinstance(p, Principle) or not p.id:
                raise UsageError(f"library entries must be Principles with an id, got {p!r}")
            if p.id in self._by_id:
                raise UsageError(f"{source or 'library'}: id {p.id!r} appears twice; ids must be unique")
            self._by_id[p.id] = p

    def __iter__(self) -> Iterator[Principle]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, id: object) -> bool:
        return id in self._by_id

    def __repr__(self) -> str:
        return f"<Library {self.source or '(unnamed)'}: {len(self)} principles>"

    def ids(self) -> list[str]:
        """Every id, in file order."""
        return list(self._by_id)

    def categories(self) -> list[str]:
        """Every category, in order of first appearance."""
        return list(dict.fromkeys(p.category for p in self._entries if p.category))

    def get(self, id: str) -> Principle:
        """The entry with this id.

        Raises:
            UsageError: no such id; the message lists close matches.
        """
        try:
            return self._by_id[id]
        except (KeyError, TypeError):
            where = f" in {self.source}" if self.source else ""
            raise UsageError(f"unknown principle id {id!r}{where}{_did_you_mean(id, self._by_id)}") from None

    def search(self, query: str) -> list[Principle]:
        """Entries matching ``query`` in their id, tags, category, summary or text, best first.

        Matching ignores case and treats ``-``, ``_`` and spaces alike. An exact id or tag
        ranks first, then a partial id or tag, then category, summary and text; a query of
        several words also matches entries that contain every word somewhere. Ties keep
        file order.

        Raises:
            UsageError: an empty query.
        """
        q = _norm(query)
        if not q:
            raise UsageError("search needs something to look for, e.g. 'tool-use' or 'brevity'")
        found = []
        for index, p in enumerate(self._entries):
            rank = _rank(p, q)
            if rank is not None:
                found.append((rank, index, p))
        return [p for _, _, p in sorted(found, key=lambda t: t[:2])]


def load(path: str | os.PathLike[str]) -> Library:
    """A library from your own file: ``.toml`` (``[[principle]]`` tables) or ``.jsonl``.

    Entries use the fields of :meth:`Principle.from_dict` plus, for composites,
    ``combine = [{id = "...", weight = 2}, ...]``. A composite may name entries of the
    same file and, failing that, of the shipped library.

    Raises:
        UsageError: a missing file, another suffix, bad TOML/JSON, or a bad entry; the
            message names the file and the line.
    """
    file = Path(path)
    source = os.fspath(path)
    if not file.is_file():
        raise UsageError(f"principle library {source} does not exist")
    suffix = file.suffix.lower()
    if suffix not in (".toml", ".jsonl"):
        raise UsageError(
            f"{source}: a principle library is a .toml file of [[principle]] tables "
            "or a .jsonl file with one principle object per line"
        )
    text = file.read_text(encoding="utf-8")
    entries = _toml_entries(text, source) if suffix == ".toml" else _jsonl_entries(text, source)
    return _build(entries, source, fallback=default_library)


@functools.cache
def default_library() -> Library:
    """The library shipped with ra-agents, loaded on first use."""
    text = resources.files("ra_agents.data").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return _build(_toml_entries(text, _DATA_FILE), _DATA_FILE, fallback=None)


def get(id: str) -> Principle:
    """The shipped library's entry ``id`` (see :meth:`Library.get`)."""
    return default_library().get(id)


def search(query: str) -> list[Principle]:
    """Search the shipped library (see :meth:`Library.search`)."""
    return default_library().search(query)


def combine(
    principles: Mapping[str, str | Principle] | Sequence[str | Principle],
    *,
    weights: Mapping[str, float] | None = None,
    priority: Sequence[str] | None = None,
    text: str = "",
    library: Library | None = None,
) -> Principle:
    """One principle whose criteria are other principles.

    Args:
        principles: ``name -> principle`` (a library id, principle text, or a
            :class:`Principle`), or a list of library ids (each id is then the name).
            A value that looks like an id (one lowercase word, hyphens allowed) must be one.
        weights: ``name -> weight`` for every part, or ``None`` for an unweighted principle.
        priority: names, most important first; ``None`` means the order given, ``()`` none.
        text: the line rendered before the parts (default :data:`~ra_agents.principles.value.DEFAULT_INTRO`).
        library: where ids are looked up (default: the shipped library).

    Returns:
        A principle with one criterion per part: named by its name, described by the
        part's text on one line.

    Raises:
        UsageError: an unknown id (with close matches), a weight or priority naming an
            unknown part, weights for only some parts, or no parts at all.
    """
    lib: list[Library] = [library] if library is not None else []

    def lookup() -> Library:
        if not lib:
            lib.append(default_library())
        return lib[0]

    parts: list[tuple[str, Principle]] = []
    if isinstance(principles, Mapping):
        for name, value in principles.items():
            if not isinstance(name, str) or not name.strip():
                raise UsageError(f"combine(): part names must be non-empty strings, got {name!r}")
            parts.append((name, _part(value, name, lookup)))
    elif isinstance(principles, Sequence) and not isinstance(principles, str | bytes):
        for value in principles:
            if isinstance(value, Principle) and value.id:
                parts.append((value.id, value))
            elif isinstance(value, str):
                parts.append((value, lookup().get(value)))
            else:
                raise UsageError(
                    f"combine() takes library ids in a list, got {value!r}; pass a mapping name -> principle instead"
                )
    else:
        raise UsageError(
            "combine() takes a mapping of name -> principle (a library id, text or Principle) "
            f"or a list of library ids, got {type(principles).__name__}"
        )
    if not parts:
        raise UsageError("combine() needs at least one principle")
    names = [name for name, _ in parts]
    if weights is not None:
        unknown = [repr(w) for w in weights if w not in names]
        if unknown:
            raise UsageError(f"combine(): weights name unknown part(s) {', '.join(unknown)}; parts: {', '.join(names)}")
    return Principle(
        text=text,
        criteria=tuple(
            Criterion(name, _one_block(p), None if weights is None else weights.get(name)) for name, p in parts
        ),
        priority=tuple(names if priority is None else priority),
    )


# --------------------------------------------------------------------- helpers


def _part(value: object, name: str, lookup: Callable[[], Library]) -> Principle:
    """A combine() part: a Principle, a library id, or principle text."""
    if isinstance(value, Principle):
        return value
    if not isinstance(value, str):
        raise UsageError(f"combine(): part {name!r} must be a library id, text or a Principle, got {value!r}")
    library = lookup()
    if value in library:
        return library.get(value)
    if _ID.fullmatch(value):
        raise UsageError(
            f"combine(): part {name!r} is {value!r}, which is not a library id{_did_you_mean(value, library.ids())}; "
            "to use it as principle text, write it as a sentence"
        )
    try:
        return Principle(text=value)
    except UsageError as exc:
        raise UsageError(f"combine(): part {name!r}: {exc}") from None


def _one_block(p: Principle) -> str:
    """A principle's text on one line, for use as a criterion's description."""
    if not p.criteria:
        return _flat(p.render())
    shares = p.weights
    items = []
    for c in p.criteria:
        item = c.name.strip()
        if shares is not None:
            item += f" ({_percent(shares[c.name])})"
        description = _flat(c.description).rstrip(" .;")
        if description:
            item += f": {description}"
        items.append(item)
    out = [_flat(p.text)] if p.text.strip() and p.text.strip() != DEFAULT_INTRO else []
    out.append("; ".join(items) + ".")
    if p.priority:
        spelled = {c.name.strip().casefold(): c.name.strip() for c in p.criteria}
        out.append(f"When these conflict: {' > '.join(spelled[n.strip().casefold()] for n in p.priority)}.")
    if p.closing.strip():
        out.append(_flat(p.closing))
    return " ".join(out)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _norm(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


def _rank(p: Principle, q: str) -> int | None:
    """0 exact id/tag, 1 partial id/tag, 2 category, 3 summary, 4 text, 5 every word as a word somewhere."""
    pid, tags = _norm(p.id or ""), [_norm(t) for t in p.tags]
    if q == pid or q in tags:
        return 0
    if q in pid or any(q in t for t in tags):
        return 1
    fields = [_norm(p.category or ""), _norm(p.summary), _norm(p.render())]
    for rank, field in enumerate(fields, 2):
        if q in field:
            return rank
    words = q.split()
    if len(words) > 1:
        tokens = set(re.findall(r"[a-z0-9]+", " ".join([pid, *tags, *fields])))
        if all(w in tokens or f"{w}s" in tokens for w in words):
            return 5
    return None


def _close(word: object, known: Iterable[str]) -> list[str]:
    """Up to three known ids close to ``word``: by spelling, then containing it."""
    known = list(known)
    text = str(word)
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.6)
    return close + [k for k in known if text and text.casefold() in k and k not in close][: 3 - len(close)]


def _did_you_mean(word: object, known: Iterable[str]) -> str:
    close = _close(word, known)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return hint + " (`ra-agents principles list` shows every id)"


Entry = tuple[int | None, Any]
"""A raw entry and the line it starts on (``None`` when it cannot be found)."""


def _toml_entries(text: str, source: str) -> list[Entry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source} is not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"principle"})
    if extra:
        raise UsageError(
            f"{source}: unknown top-level key(s) {', '.join(extra)}; write each principle as a [[principle]] table"
        )
    entries = data.get("principle")
    if isinstance(entries, dict):
        raise UsageError(f"{source}: write each principle as [[principle]] (double brackets), not [principle]")
    if not entries:
        raise UsageError(f"{source} holds no principles; write each as a [[principle]] table")
    headers = [m.start() for m in re.finditer(r"^[ \t]*\[\[[ \t]*principle[ \t]*\]\]", text, re.MULTILINE)]
    if len(headers) == len(entries):
        lines: list[int | None] = [text.count("\n", 0, start) + 1 for start in headers]
    else:  # a [[principle]] line inside a multi-line string: fall back to each entry's id line
        lines = [_id_line(text, e.get("id") if isinstance(e, dict) else None) for e in entries]
    return list(zip(lines, entries, strict=True))


def _id_line(text: str, pid: object) -> int | None:
    if not isinstance(pid, str):
        return None
    m = re.search(rf"^[ \t]*id[ \t]*=[ \t]*[\"']{re.escape(pid)}[\"']", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _jsonl_entries(text: str, source: str) -> list[Entry]:
    entries: list[Entry] = list(jsonl_rows(text, source, hint="; write one principle object per line"))
    if not entries:
        raise UsageError(f"{source} holds no principles; write one JSON object per line")
    return entries


def _build(entries: Sequence[Entry], source: str, *, fallback: Callable[[], Library] | None) -> Library:
    """Entries checked and made Principles; composites resolved after every plain entry is known."""

    def where(index: int) -> str:
        line = entries[index][0]
        return f"{source} line {line}" if line else f"{source} entry {index + 1}"

    built: list[Principle | None] = []
    plain: dict[str, Principle] = {}
    first: dict[str, int] = {}
    composites: list[int] = []
    for index, (_, raw) in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where(index)}: a principle must be a table/object, got {type(raw).__name__}")
        pid = raw.get("id")
        if not isinstance(pid, str) or not _ID.fullmatch(pid):
            raise UsageError(
                f"{where(index)}: every principle needs an id of lowercase words joined by hyphens, "
                f"e.g. 'concise-answer'; got {pid!r}"
            )
        if pid in first:
            raise UsageError(
                f"{where(index)}: id {pid!r} is already used at {where(first[pid]).removeprefix(source + ' ')}; "
                "ids must be unique"
            )
        first[pid] = index
        if "combine" in raw:
            composites.append(index)
            built.append(None)
            continue
        try:
            principle = Principle.from_dict(raw)
        except UsageError as exc:
            raise UsageError(f"{where(index)}: {exc}") from None
        plain[pid] = principle
        built.append(principle)

    def resolve(pid: object) -> Principle | None:
        if not isinstance(pid, str):
            return None
        if pid in plain:
            return plain[pid]
        if pid in first:  # a composite of this file
            return None
        base = fallback() if fallback is not None else None
        return base.get(pid) if base is not None and pid in base else None

    for index in composites:
        try:
            built[index] = _composite(entries[index][1], resolve, first, fallback)
        except UsageError as exc:
            raise UsageError(f"{where(index)}: {exc}") from None
    return Library([p for p in built if p is not None], source=source)


def _composite(
    raw: Mapping[str, Any],
    resolve: Callable[[object], Principle | None],
    file_ids: Mapping[str, int],
    fallback: Callable[[], Library] | None,
) -> Principle:
    """A composite entry (``combine = [...]``) as a Principle of category ``composite``."""
    pid = raw["id"]
    extra = sorted(set(raw) - _COMPOSITE_FIELDS)
    if extra:
        raise UsageError(
            f"composite {pid!r} has field(s) {', '.join(extra)}; a composite takes its criteria from "
            f"'combine' and allows: {', '.join(sorted(_COMPOSITE_FIELDS))}"
        )
    if raw.get("category", COMPOSITE) != COMPOSITE:
        raise UsageError(f"composite {pid!r} has category {raw['category']!r}; leave it out or write {COMPOSITE!r}")
    spec = raw["combine"]
    if not isinstance(spec, list) or not spec:
        raise UsageError(f'composite {pid!r}: combine must be a list like [{{id = "concise", weight = 2}}, ...]')
    parts: dict[str, Principle] = {}
    weights: dict[str, Any] = {}
    unknown: list[str] = []
    for item in spec:
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, Mapping) or set(item) - {"id", "weight"} or not isinstance(item.get("id"), str):
            raise UsageError(f'composite {pid!r}: each combine item is {{id = "...", weight = N}}, got {item!r}')
        part = resolve(item["id"])
        if part is None:
            if item["id"] in file_ids:
                raise UsageError(
                    f"composite {pid!r} names {item['id']!r}, itself a composite; name that composite's parts instead"
                )
            unknown.append(item["id"])
            continue
        if part.category == COMPOSITE:
            raise UsageError(f"composite {pid!r} names the composite {item['id']!r}; name its parts instead")
        parts[item["id"]] = part
        if "weight" in item:
            weights[item["id"]] = item["weight"]
    if unknown:
        known = [i for i in file_ids if resolve(i) is not None]
        if fallback is not None:
            known += [i for i in fallback().ids() if i not in file_ids]
        hints = ", ".join(
            f"{u!r} (did you mean {' or '.join(repr(c) for c in close)}?)" if (close := _close(u, known)) else repr(u)
            for u in unknown
        )
        raise UsageError(f"composite {pid!r} names unknown principle id(s): {hints}")
    combined = combine(parts, weights=weights or None, priority=raw.get("priority"), text=raw.get("text", ""))
    return Principle.from_dict(
        {
            **combined.to_dict(),
            "id": pid,
            "category": COMPOSITE,
            "tags": raw.get("tags") or (),
            "summary": raw.get("summary", ""),
            "closing": raw.get("closing", ""),
        }
    )
