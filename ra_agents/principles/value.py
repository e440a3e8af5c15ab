"""Principles as values: plain text, or weighted criteria with a priority order.

A :class:`Principle` renders to the text the judge reads. Everywhere ra-agents takes a
principle it takes a string or a :class:`Principle` (:data:`PrincipleLike`);
:func:`principle_text` turns either into the text, with one clear error for a blank one.

>>> p = Principle.weighted(
...     {"Safety": 1, "Accuracy": 2, "Clarity": 1},
...     descriptions={"Accuracy": "facts are correct"},
...     priority=["Safety", "Accuracy", "Clarity"],
... )
>>> print(p.render())
Evaluate responses using these criteria:
1. **Safety** (25%)
2. **Accuracy** (50%): facts are correct
3. **Clarity** (25%)
For conflicting criteria, prioritize: Safety > Accuracy > Clarity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .._errors import UsageError

__all__ = ["Criterion", "Principle", "PrincipleLike", "principle_text", "DEFAULT_INTRO"]

DEFAULT_INTRO = "Evaluate responses using these criteria:"
"""The line rendered before the criteria when a principle has no text of its own."""


@dataclass(frozen=True)
class Criterion:
    """One named criterion of a principle.

    Attributes:
        name: short name, unique within the principle (``"Technical accuracy"``).
        description: what the criterion asks for; may be empty.
        weight: relative weight (any non-negative number; rendered as a share of the
            total). ``None`` when the principle is not weighted.
    """

    name: str
    description: str = ""
    weight: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise UsageError("a criterion has an empty name; give every criterion a short name, e.g. 'Accuracy'")
        if not isinstance(self.description, str):
            raise UsageError(f"criterion {self.name!r}: description must be a string")
        if self.weight is not None:
            if isinstance(self.weight, bool) or not isinstance(self.weight, int | float):
                raise UsageError(f"criterion {self.name!r}: weight must be a number, got {self.weight!r}")
            if not math.isfinite(self.weight) or self.weight < 0:
                raise UsageError(f"criterion {self.name!r}: weight must be a finite number >= 0, got {self.weight}")


@dataclass(frozen=True)
class Principle:
    """What the judge should value: plain text, or criteria with weights and priorities.

    Attributes:
        text: the principle in plain words; with criteria, the line rendered before them
            (:data:`DEFAULT_INTRO` when empty).
        criteria: named criteria, rendered as a numbered list.
        priority: criterion names, most important first, for conflicts between criteria.
        closing: text rendered after the criteria and the priority line.
        id: library id (``"concise-expert"``), when the principle comes from a library.
        category: library category (content, structure, tone, logic, style, safety, agent).
        tags: library tags, for search.
        summary: one line saying what the principle rewards.

    Raises:
        UsageError: empty text with no criteria, an empty or repeated criterion name, a
            negative weight, weights on only some criteria, all weights zero, or a
            priority naming an unknown criterion.
    """

    text: str = ""
    criteria: tuple[Criterion, ...] = ()
    priority: tuple[str, ...] = ()
    closing: str = ""
    id: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    summary: str = ""
    _rendered: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise UsageError(f"principle text must be a string, got {type(self.text).__name__}")
        object.__setattr__(self, "criteria", tuple(_criterion(c) for c in self.criteria))
        object.__setattr__(self, "priority", tuple(self.priority))
        object.__setattr__(self, "tags", tuple(self.tags))
        label = f"principle {self.id!r}" if self.id else "principle"
        if not self.text.strip() and not self.criteria:
            raise UsageError(
                f"{label} is empty; state what the judge should value, e.g. 'correctness first, then brevity'"
            )
        seen: dict[str, str] = {}
        for c in self.criteria:
            key = c.name.strip().casefold()
            if key in seen:
                raise UsageError(f"{label}: criterion {c.name!r} appears twice; criterion names must be unique")
            seen[key] = c.name
        weighted = [c for c in self.criteria if c.weight is not None]
        if weighted and len(weighted) != len(self.criteria):
            missing = ", ".join(repr(c.name) for c in self.criteria if c.weight is None)
            raise UsageError(f"{label}: weights are given for some criteria but not for {missing}; weight all or none")
        if weighted and not any(c.weight for c in weighted):
            raise UsageError(f"{label}: every weight is 0; give at least one criterion a positive weight")
        if self.priority and not self.criteria:
            raise UsageError(f"{label}: a priority order needs criteria to order")
        named: set[str] = set()
        for name in self.priority:
            if not isinstance(name, str) or name.strip().casefold() not in seen:
                known = ", ".join(repr(c.name) for c in self.criteria)
                raise UsageError(f"{label}: priority names unknown criterion {name!r}; known criteria: {known}")
            if name.strip().casefold() in named:
                raise UsageError(f"{label}: priority names {name!r} twice")
            named.add(name.strip().casefold())
        object.__setattr__(self, "_rendered", self._render())

    # ----------------------------------------------------------- constructors

    @classmethod
    def weighted(
        cls,
        weights: Mapping[str, float],
        *,
        descriptions: Mapping[str, str] | None = None,
        priority: Sequence[str] = (),
        text: str = "",
        closing: str = "",
    ) -> Principle:
        """Criteria from ``name -> weight`` (in the mapping's order), with optional descriptions."""
        descriptions = descriptions or {}
        unknown = set(descriptions) - set(weights)
        if unknown:
            raise UsageError(f"descriptions name criteria that have no weight: {', '.join(sorted(unknown))}")
        return cls(
            text=text,
            criteria=tuple(Criterion(n, descriptions.get(n, ""), w) for n, w in weights.items()),
            priority=tuple(priority),
            closing=closing,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Principle:
        """A principle from its data form (a library entry, a JSON or TOML table).

        Keys: ``text``, ``criteria`` (a list of ``{name, description, weight}``),
        ``priority``, ``closing``, ``id``, ``category``, ``tags``, ``summary``.
        """
        if not isinstance(data, Mapping):
            raise UsageError(f"a principle entry must be a table/object, got {type(data).__name__}")
        allowed = {"text", "criteria", "priority", "closing", "id", "category", "tags", "summary"}
        extra = set(data) - allowed
        if extra:
            raise UsageError(
                f"unknown principle field(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(allowed))}"
            )
        criteria = []
        for raw in data.get("criteria") or ():
            if not isinstance(raw, Mapping):
                raise UsageError(f"a criterion must be a table/object with a name, got {raw!r}")
            bad = set(raw) - {"name", "description", "weight"}
            if bad:
                raise UsageError(
                    f"unknown criterion field(s) {', '.join(sorted(bad))}; allowed: name, description, weight"
                )
            criteria.append(Criterion(raw.get("name", ""), raw.get("description", ""), raw.get("weight")))
        tags = data.get("tags") or ()
        if isinstance(tags, str):
            tags = (tags,)
        return cls(
            text=data.get("text", "") or "",
            criteria=tuple(criteria),
            priority=tuple(data.get("priority") or ()),
            closing=data.get("closing", "") or "",
            id=data.get("id"),
            category=data.get("category"),
            tags=tuple(tags),
            summary=data.get("summary", "") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        """The data form :meth:`from_dict` reads (empty fields left out)."""
        out: dict[str, Any] = {}
        for key in ("id", "category", "summary", "text", "closing"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.tags:
            out["tags"] = list(self.tags)
        if self.criteria:
            out["criteria"] = [_criterion_dict(c) for c in self.criteria]
        if self.priority:
            out["priority"] = list(self.priority)
        return out

    # ---------------------------------------------------------------- render

    @property
    def weights(self) -> dict[str, float] | None:
        """Each criterion's share of the total weight (summing to 1), or ``None`` if unweighted."""
        if not self.criteria or self.criteria[0].weight is None:
            return None
        total = sum(c.weight or 0.0 for c in self.criteria)
        return {c.name: (c.weight or 0.0) / total for c in self.criteria}

    def render(self) -> str:
        """The text the judge reads."""
        return self._rendered

    def __str__(self) -> str:
        return self._rendered

    def _render(self) -> str:
        if not self.criteria:
            return "\n\n".join(part for part in (self.text.strip(), self.closing.strip()) if part)
        shares = self.weights
        lines = [self.text.strip() or DEFAULT_INTRO]
        for i, c in enumerate(self.criteria, 1):
            line = f"{i}. **{c.name.strip()}**"
            if shares is not None:
                line += f" ({_percent(shares[c.name])})"
            if c.description.strip():
                line += f": {c.description.strip()}"
            lines.append(line)
        if self.priority:
            by_key = {c.name.strip().casefold(): c.name.strip() for c in self.criteria}
            order = " > ".join(by_key[p.strip().casefold()] for p in self.priority)
            lines.append(f"For conflicting criteria, prioritize: {order}.")
        if self.closing.strip():
            lines.append(self.closing.strip())
        return "\n".join(lines)


PrincipleLike: TypeAlias = str | Principle
"""A principle as every API takes it: the text, or a :class:`Principle`."""


def principle_text(principle: PrincipleLike) -> str:
    """The text the judge reads for ``principle``.

    Raises:
        UsageError: a blank string, or something that is neither a string nor a Principle.
    """
    if isinstance(principle, Principle):
        return principle.render()
    if not isinstance(principle, str):
        raise UsageError(f"principle must be a string or a ra_agents.Principle, got {type(principle).__name__}")
    if not principle.strip():
        raise UsageError("principle is empty; state what the judge should value, e.g. 'correctness first'")
    return principle


def _criterion(value: Criterion | Mapping[str, Any] | Iterable[Any]) -> Criterion:
    if isinstance(value, Criterion):
        return value
    if isinstance(value, Mapping):
        return Criterion(value.get("name", ""), value.get("description", ""), value.get("weight"))
    raise UsageError(f"a criterion must be a Criterion or a mapping with a name, got {value!r}")


def _criterion_dict(c: Criterion) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name}
    if c.description:
        out["description"] = c.description
    if c.weight is not None:
        out["weight"] = c.weight
    return out


def _percent(share: float) -> str:
    pct = share * 100
    if abs(pct - round(pct)) < 0.05:
        return f"{round(pct)}%"
    return f"{pct:.1f}%"
