#!/usr/bin/env bash
# The one command to give a GPU machine lent by the device tool (its `run`, timeout_s 540):
#     bash bench/gpu_check.sh            (elsewhere: PYTHON=.venv/bin/python bash bench/gpu_check.sh --smoke)
# That machine's python3 already holds torch, transformers, tokenizers, safetensors, pandas, statsmodels and pytest,
# which is all the engine and the check need (tests/test_gpu_check.py runs the check with the app's packages
# hidden). Results land in $OUT there (bench/out here): gpu_check.json, gpu_check.log, gpu_small_results.csv,
# gpu_small_law.json. Record the numbers in bench/RESULTS.md with the card named.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
out="${OUT:-bench/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/gpu_check.log"
"${PYTHON:-python3}" bench/gpu_check.py --out "$out" "$@" 2>&1 | tee -a "$out/gpu_check.log"
