#!/usr/bin/env bash
# The GPU model factory (tools/device_train.py): the whole method for one task in one GPU job.
# Usage: bash tools/device_train.sh TASK [--dry-run] [--pack DIR] [--budget-s S]
#   the pack (tools/device_pack.py) defaults to .device_pack/TASK; outputs go to $OUT when set.
# On the bare GPU machine it installs the packed wheels and unpacks the packed fp16 weights into a
# float32 weights cache first; nothing is downloaded.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then echo "usage: bash tools/device_train.sh TASK [--dry-run] [--pack DIR] [--budget-s S]" >&2; exit 2; fi
TASK=$1; shift
PACK=.device_pack/$TASK
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) PACK=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
PY=${PYTHON:-python3}
if [ ! -f "$PACK/pack.json" ]; then
  echo "no pack at $PACK: run python tools/device_pack.py $TASK --out $PACK first (and carry it)" >&2; exit 2
fi
SCRATCH=$(mktemp -d /tmp/hr-device-XXXXXX)
if ls "$PACK"/wheels/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SCRATCH/site" \
    "$PACK"/wheels/*.whl || { echo "installing the packed wheels failed" >&2; exit 1; }
  export PYTHONPATH=$SCRATCH/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export HADAMARD_RESTORE_WEIGHTS=$SCRATCH/weights
$PY -m benchmarks.product.gpu_pack --unpack "$PACK/weights-fp16.pt" --to "$HADAMARD_RESTORE_WEIGHTS" >/dev/null \
  || { echo "unpacking the packed weights failed" >&2; exit 1; }
export HADAMARD_RESTORE_DATA=$(cd "$PACK" && pwd)/data
exec $PY tools/device_train.py "$TASK" --pack "$PACK" ${ARGS[@]+"${ARGS[@]}"}
