#!/usr/bin/env bash
# The paper's regime (Sec. 3.5, 4.3): every point fine-tunes the shipped converged HDR baseline
# (pretrained/hdr_base.safetensors) on procedural data, and is compared with that pre-trained
# baseline (the paper's comparison) and with plain fine-tuning of the same schedule and seed
# (ours). scripts/sweep.py runs the points (resumable); the baseline is evaluated on the same
# test sequences; experiments/regime_table.py prints the table.
# Usage: experiments/hdr_paper_regime.sh BIN_DIR OUT_DIR
#   SETTINGS (none,trans-inv,jacobian) ALPHAS (0.95) SEEDS (1,2,3) JOBS (2), and sweep.py's
#   --preset cpu scale (1024 fine-tuning images at 64x64, 2 epochs at lr 2e-4; 8 test sequences
#   x 100 frames, gen_procedural seed 100).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "$1" && pwd); out=$2
base=$ROOT/pretrained/hdr_base.safetensors
python3 "$ROOT/scripts/sweep.py" run "$out" --bin "$bin" --task hdr --preset cpu --base "$base" \
  --settings "${SETTINGS:-none,trans-inv,jacobian}" --alphas "${ALPHAS:-0.95}" --seeds "${SEEDS:-1,2,3}" \
  --device cpu --jobs "${JOBS:-2}"
if [ ! -f "$out/base_eval.json" ]; then
  "$bin/eval_video" "$out"/data/test/seq_* --device cpu --json --model "$base" > "$out/base_eval.json.tmp"
  mv "$out/base_eval.json.tmp" "$out/base_eval.json"
fi
python3 "$ROOT/experiments/regime_table.py" "$out"
