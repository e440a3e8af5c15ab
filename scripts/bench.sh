#!/usr/bin/env bash
# Rerun the figures reported in BENCHMARKS.md (each step prints its table and writes
# <name>.json, <name>.md and <name>.png under $OUT): the judge-quality evaluations
# (ra-agents eval) and the performance benchmarks of this checkout (python -m benchmarks).
#
#   API_BASE=http://127.0.0.1:8000/v1 scripts/bench.sh    # a vLLM server of MODEL
#   MODEL= scripts/bench.sh                               # the configured or bundled model in-process
#   OUT=my-results LIMIT=10 CELLS=all scripts/bench.sh    # a bigger RM-Bench slice
#
# Extra arguments go to every step that judges with the model (cost, listwise, rm-bench), e.g. --concurrency 16.
# RM-Bench data: RA_AGENTS_RMBENCH_DATA=DIR (<domain>.json files), else downloaded once into the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
MODEL="${MODEL-hosted_vllm/smollm2}"
API_BASE="${API_BASE-http://127.0.0.1:8000/v1}"
OUT="${OUT:-bench-results}"
LIMIT="${LIMIT:-6}"
CELLS="${CELLS:-00,02,20}"
PERMUTATIONS="${PERMUTATIONS:-2}"
SIZES="${SIZES:-2,4,8,16}"

judge=()
if [ -n "$MODEL" ]; then
  judge=(--model "$MODEL")
  [ -n "$API_BASE" ] && judge+=(--api-base "$API_BASE")
fi

"$PY" -m benchmarks cost "${judge[@]}" --sizes "$SIZES" --output "$OUT" "$@"
"$PY" -m ra_agents.cli eval listwise "${judge[@]}" --permutations "$PERMUTATIONS" --output "$OUT" "$@"
"$PY" -m ra_agents.cli eval rm-bench "${judge[@]}" --limit "$LIMIT" --cells "$CELLS" --permutations "$PERMUTATIONS" --output "$OUT" "$@"
# No model: the framework's own overhead against an instant local upstream (run last, on a quiet machine).
"$PY" -m benchmarks overhead --output "$OUT"
