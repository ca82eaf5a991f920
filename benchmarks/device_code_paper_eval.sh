#!/usr/bin/env bash
# The code task's `paper` evaluation (T 0.2, top-p 0.95, n 200, pass@1/10/100) of the base model on a lent GPU
# (the `device` tool). HumanEval first; the time limit keeps it under the device's 10-minute command cap, and
# completions come back in $OUT, so a second call with the same files carried resumes where this one stopped.
# Needs the project's dependencies on the device machine (see /work/.library/device/README.md).
set -uo pipefail
export PYTHONUNBUFFERED=1 DIFFLM_ALLOW_CODE_EXEC=1
OUTDIR="${OUT:-/tmp}/code-eval"
mkdir -p "$OUTDIR"
nvidia-smi --query-gpu=name,memory.total --format=csv || true
timeout "${LIMIT_S:-480}" python benchmarks/code_eval.py --profile paper --benchmarks humaneval --out "$OUTDIR" \
  --batch-size "${BATCH:-200}" 2>&1 | tail -40
wc -l "$OUTDIR"/*.jsonl || true
