#!/usr/bin/env bash
# The HDR comparison of docs/RESULTS.md at CPU scale: per seed a baseline, then the same
# fine-tuning schedule with no regularizer (plain fine-tuning), trans-inv and jacobian, all
# evaluated on one procedural test set with eval_video's protocol. Resumable: a step whose
# output exists is skipped, so a killed run continues where it stopped.
# Usage: experiments/hdr_finetune.sh BIN_DIR OUT_DIR [SEEDS...]   (default seeds 1 2 3)
set -euo pipefail
bin=$(cd "$1" && pwd); out=$2; shift 2
seeds=${*:-1 2 3}
train=${TRAIN:-1024}; size=${SIZE:-64}; seqs=${SEQS:-8}; frames=${FRAMES:-100}
base_epochs=${BASE_EPOCHS:-8}; tune_epochs=${TUNE_EPOCHS:-2}; alpha=${ALPHA:-0.95}
mkdir -p "$out"; cd "$out"
[ -f data/.done ] || { rm -rf data; "$bin/gen_procedural" data --train "$train" --test-seqs "$seqs" \
  --frames "$frames" --size "$size" --seed 100 --quiet; touch data/.done; }
for seed in $seeds; do
  r=seed_$seed
  [ -f $r/base/last.safetensors ] || "$bin/train_hdr" data --device cpu --size "$size" --batch 8 \
    --epochs "$base_epochs" --lr 2e-3 --seed "$seed" --out $r/base > $r.base.log 2>&1
  for reg in none trans-inv jacobian; do
    [ -f $r/$reg/last.safetensors ] || "$bin/train_hdr" data --device cpu --size "$size" --batch 8 \
      --epochs "$tune_epochs" --lr 2e-4 --seed "$seed" --reg $reg --alpha "$alpha" \
      --init $r/base/last.safetensors --out $r/$reg > $r.$reg.log 2>&1
  done
  [ -f $r/eval.json ] || "$bin/eval_video" data/test/seq_* --device cpu --json \
    --model $r/base/last.safetensors --model $r/none/last.safetensors \
    --model $r/trans-inv/last.safetensors --model $r/jacobian/last.safetensors > $r/eval.json.tmp \
    && mv $r/eval.json.tmp $r/eval.json
  echo "seed $seed done $(date -u +%H:%M:%S)"
done
