#!/usr/bin/env bash
# Quality gates with the project's own tools (.venv; versions pinned in pyproject's test extra):
# lint, formatting and types. Runs all three, then fails if any of them found something.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
echo "== ruff check" >&2
.venv/bin/ruff check . || status=1
echo "== ruff format --check" >&2
.venv/bin/ruff format --check . || status=1
echo "== mypy" >&2
.venv/bin/mypy || status=1
exit "$status"
