"""Principles: the value a judge follows (:mod:`.value`) and the shipped library of them (:mod:`.library`).

A principle is text, or a :class:`Principle` of named, weighted criteria. The library holds
60+ vetted principles by id (``ra-agents principles list``); ``get("accuracy-then-brevity")``
returns one, ``combine`` builds a composite with a priority order.
"""

from __future__ import annotations

from .library import COMPOSITE, Library, combine, default_library, get, load, search
from .value import DEFAULT_INTRO, Criterion, Principle, PrincipleLike, principle_text

__all__ = [
    "COMPOSITE",
    "DEFAULT_INTRO",
    "Criterion",
    "Library",
    "Principle",
    "PrincipleLike",
    "combine",
    "default_library",
    "get",
    "load",
    "principle_text",
    "search",
]
