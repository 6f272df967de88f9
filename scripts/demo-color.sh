#!/usr/bin/env bash
# make demo-color: the shipped colorization baseline (pretrained/color_base.safetensors, trained
# on the fetched face crops, the paper's limited-data setting; `make pretrain` trains it again)
# fine-tuned with the same schedule plainly and with trans-inv at alpha = 0.95, all three
# evaluated on a real clip turned to grayscale. Needs `make data` (the Makefile target runs it).
set -euo pipefail
BUILD=${BUILD:-build}
ROOT=$(pwd)
BASE=$ROOT/pretrained/color_base.safetensors
FACES=$ROOT/data/real/faces/johns
CLIP=$ROOT/data/real/clips/cockatoo.mp4
[ -f "$BASE" ] || { echo "demo-color: $BASE is missing (make pretrain trains it)" >&2; exit 1; }
cd "$BUILD"
if ./bench_ops --device cuda --only sum --repeat 1 >/dev/null 2>&1; then
  device=cuda; size=128; tune_epochs=40; side=256; frames=120
else
  device=cpu;  size=64;  tune_epochs=10; side=128; frames=48
fi
echo "demo-color: device $device, fine-tuning $BASE on $FACES at ${size}x${size}, clip $CLIP"
rm -rf demo-color
for reg in none trans-inv; do
  ./train_color "$FACES" --device "$device" --size "$size" --epochs "$tune_epochs" --batch 8 \
    --lr 2e-4 --init "$BASE" --reg "$reg" --alpha 0.95 --out "demo-color/$reg"
done
./eval_video "$CLIP" --device "$device" --max-side "$side" --max-frames "$frames" --model "$BASE" \
  --model demo-color/none/last.safetensors --model demo-color/trans-inv/last.safetensors \
  --report demo-color/report
echo "rows: the input, the pre-trained baseline, plain fine-tuning, trans-inv fine-tuning, the clip's own colours"
