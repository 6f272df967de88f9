#!/usr/bin/env bash
# make demo: generate a small procedural HDR set, train a baseline, fine-tune it with trans-inv
# at alpha = 0.95, and compare both on the test sequences. Sized to finish in a few minutes on a
# 2-core CPU; larger on a GPU.
set -euo pipefail
BUILD=${BUILD:-build}
cd "$BUILD"
if ./bench_ops --device cuda --only sum --repeat 1 >/dev/null 2>&1; then
  device=cuda; train=2000; seqs=5; frames=100; size=128; base_epochs=10; tune_epochs=4
else
  device=cpu;  train=512;  seqs=3; frames=48;  size=64;  base_epochs=8;  tune_epochs=2
fi
echo "demo: device $device, $train training images ${size}x${size}, $seqs test sequences of $frames frames"
rm -rf demo
./gen_procedural demo/data --train "$train" --test-seqs "$seqs" --frames "$frames" --size "$size" --seed 1
./train_hdr demo/data/train --device "$device" --size "$size" --epochs "$base_epochs" --batch 8 \
  --lr 2e-3 --out demo/base
./train_hdr demo/data/train --device "$device" --size "$size" --epochs "$tune_epochs" --batch 8 \
  --lr 2e-4 --init demo/base/last.safetensors --reg trans-inv --alpha 0.95 --out demo/trans-inv
./eval_video demo/data/test/seq_* --device "$device" --model demo/base/last.safetensors \
  --model demo/trans-inv/last.safetensors
