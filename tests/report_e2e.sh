#!/usr/bin/env bash
# End to end: tiny procedural data, a one-epoch HDR model, `eval_video --report`, then the page
# checks of tests/test_report_page.py on what it wrote (exit 77 there when Chromium is absent).
# Usage: tests/report_e2e.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$build"
./gen_procedural "$work/data" --train 8 --test-seqs 2 --frames 12 --size 32 --seed 3 --quiet
./train_hdr "$work/data" --device cpu --size 32 --batch 4 --epochs 1 --out "$work/run" >/dev/null 2>&1
./eval_video "$work/data/test/seq_000" "$work/data/test/seq_001" --device cpu \
  --model "$work/run/last.safetensors" --report "$work/report" >/dev/null
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
"$python" "$here/test_report_page.py" "$work/report"
