"""THE reader of JSON Lines files: requests, sweep cases, labels, principles, eval cases.

One object per line, blank lines skipped, a bad line named by its file, number and column.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ._errors import UsageError

__all__ = ["jsonl_rows", "read_input"]


def read_input(path: str | Path, what: str) -> tuple[str, str]:
    """The text of ``path`` (``-``: standard input) and the name messages give it.

    Raises:
        UsageError: the file does not exist (``what`` names it: "cases file", "labels file" ...).
    """
    if str(path) == "-":
        return sys.stdin.read(), "stdin"
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{what} {path} does not exist")
    return file.read_text(encoding="utf-8"), file.name


def jsonl_rows(text: str, source: str, *, keep_errors: bool = False, hint: str = "") -> list[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of ``text``.

    Args:
        text: the file's text.
        source: the file's name in messages.
        keep_errors: keep a line that is not JSON as its :class:`UsageError`, in place (a
            batch that still answers every other line), rather than raising it.
        hint: appended to the message of a bad line (``"; write one principle object per line"``).

    Raises:
        UsageError: a line is not JSON (unless ``keep_errors``), naming the line and column.
    """
    rows: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            error = UsageError(f"{source} line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}{hint}")
            if not keep_errors:
                raise error from None
            rows.append((lineno, error))
    return rows
