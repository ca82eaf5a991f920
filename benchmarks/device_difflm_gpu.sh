#!/usr/bin/env bash
# DiffLM's `gpu` profile on a lent GPU (the `device` tool), one seed on adult, under 10 minutes.
# Needs the project's venv dependencies on the device machine (see /work/.library/device/README.md: carry
# wheels in .whl/ if a package is missing there) and the adult data in $HARNESS_DATA_DIR or ../shared/data.
# Writes the run record and a log under $OUT (files come back with the tool's reply).
set -euo pipefail
export PYTHONUNBUFFERED=1 HARNESS_RUNS="${OUT:-/tmp}/runs"
nvidia-smi --query-gpu=name,memory.total --format=csv
python -m harness bench difflm --task adult --profile gpu --store "$HARNESS_RUNS" 2>&1 | tail -40
timeout 480 python -m harness run --task adult --methods difflm --profile gpu --seeds 0 --quiet 2>&1 | tee "${OUT:-/tmp}/run.log"
cp "$HARNESS_RUNS"/adult/difflm/*/record.json "${OUT:-/tmp}/record.json" || true
