#!/usr/bin/env bash
# make demo-color: train the colorization network briefly on the fetched face crops (the paper's
# limited-data setting), fine-tune it with trans-inv at alpha = 0.95, and evaluate both on a real
# clip turned to grayscale. Needs `make data` (the Makefile target runs it first).
set -euo pipefail
BUILD=${BUILD:-build}
ROOT=$(pwd)
FACES=$ROOT/data/real/faces/johns
CLIP=$ROOT/data/real/clips/cockatoo.mp4
cd "$BUILD"
if ./bench_ops --device cuda --only sum --repeat 1 >/dev/null 2>&1; then
  device=cuda; size=128; base_epochs=200; tune_epochs=40; side=256; frames=120
else
  device=cpu;  size=64;  base_epochs=40;  tune_epochs=10; side=128; frames=48
fi
echo "demo-color: device $device, faces from $FACES at ${size}x${size}, clip $CLIP"
rm -rf demo-color
./train_color "$FACES" --device "$device" --size "$size" --epochs "$base_epochs" --batch 8 \
  --lr 2e-3 --out demo-color/base
./train_color "$FACES" --device "$device" --size "$size" --epochs "$tune_epochs" --batch 8 \
  --lr 2e-4 --init demo-color/base/last.safetensors --reg trans-inv --alpha 0.95 --out demo-color/trans-inv
./eval_video "$CLIP" --device "$device" --max-side "$side" --max-frames "$frames" \
  --model demo-color/base/last.safetensors --model demo-color/trans-inv/last.safetensors
