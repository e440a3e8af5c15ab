#!/usr/bin/env bash
# Set up and run the main job: a best-of-n ranking on the embedded default judge.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True
exec .venv/bin/ra-agents demo "$@"
