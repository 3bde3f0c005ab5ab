#!/bin/bash
# Does bf16 autocast training (train.amp, the default where bf16 is native) learn as well as float32?
# The same 600-step low-light training twice, amp on and off, scored on the development-validation
# pairs of the budget ledger's LOL split (never its held-out test pairs). Usage, from the repo root:
#   HADAMARD_RESTORE_DATA=/path/to/data bash benchmarks/product/bf16_training_check.sh OUT_DIR
set -euo pipefail
out=${1:?usage: bf16_training_check.sh OUT_DIR}
dev=benchmarks/results/studies/cells/cpu-amd-epyc-2core/lol/dev.json
for amp in true false; do
  [ -f "$out/amp-$amp/train_summary.json" ] && continue
  echo "$(date +%T) amp=$amp load $(cut -d' ' -f1-3 /proc/loadavg)"
  python -m hadamard_restore train configs/low-light.yaml --out "$out/amp-$amp" \
    --set data.split_file="$dev" --set data.max_pairs=null --set data.root="$HADAMARD_RESTORE_DATA/lol-v1/our485" \
    --set seed=0 --set net.channels=32 --set net.norm=none --set train.steps=600 --set train.crop=96 \
    --set train.batch_size=4 --set train.lr=1e-3 --set train.warmup_steps=50 --set train.schedule=cosine \
    --set train.ema_decay=0 --set train.val_every=200 --set train.val_max_images=19 --set train.checkpoint_every=200 \
    --set train.amp=$amp --set train.channels_last=true --loss-weights paper-lol --genotype paper-lol
done
python - "$out" <<'PY'
import json, sys
for amp in ("true", "false"):
    h = json.load(open(f"{sys.argv[1]}/amp-{amp}/history.json"))
    print(f"amp={amp}: " + ", ".join(f"step {e['step']} {e['psnr']:.3f} dB" for e in h["val"]))
PY
