#!/usr/bin/env bash
# The prepared GPU check (benchmarks/product/gpu_check.py): CUDA-only checks and items 4-6 of the speed
# issue in at most 8 minutes on one GPU. Installs the carried wheels (benchmarks/product/gpu_pack.py)
# when present, points the weights cache at the carried fp16 pack, and writes everything into
# one folder: $OUT/gpu-check on the device machine, else runs/gpu-check.
# Usage: bash benchmarks/product/gpu_check.sh [extra gpu_check.py flags, e.g. --dry-run]
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
PACK=.gpu_pack
if ls $PACK/wheels/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu-site \
    $PACK/wheels/*.whl || echo "wheel install failed; continuing"
  export PYTHONPATH=/tmp/gpu-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if [ -f $PACK/weights-fp16.pt ]; then
  export HADAMARD_RESTORE_WEIGHTS=/tmp/gpu-weights
  $PY -m benchmarks.product.gpu_pack --unpack $PACK/weights-fp16.pt --to $HADAMARD_RESTORE_WEIGHTS || echo "weights unpack failed"
fi
OUTDIR=${OUT:+$OUT/gpu-check}
exec $PY -m benchmarks.product.gpu_check --out-dir "${OUTDIR:-runs/gpu-check}" "$@"
