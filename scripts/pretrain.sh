#!/usr/bin/env bash
# make pretrain: the converged baselines shipped in pretrained/, trained from nothing. Each run
# validates on held-out images after every epoch and stops once 5 validations in a row have not
# improved on the best (--patience 5), or at its epoch budget; the checkpoint with the least
# validation loss (best.safetensors, weights only) is the shipped baseline, and its sha256 must
# equal pretrained/SHA256SUMS (the runs are deterministic: the same bytes on the same build).
#   scripts/pretrain.sh [hdr|color]...   (default both; BUILD=build, PRETRAIN_DIR=$BUILD/pretrain)
#   CHECK_ONLY=1 scripts/pretrain.sh     compare the run folders already there, train nothing
# HDR: 10,000 procedural images and 500 held out (another seed), 64x64, batch 8, Adam 2e-3,
# at most 20 epochs (the paper trains 50, Table 2; 20 is what one CPU core gives in about 80
# minutes, and the validation curve says whether more would have helped).
# Colorization: the 55 face crops of data/real/faces/johns (`make data`), every fifth held out
# (11), the other 44 each copied 10 times so that an epoch is 55 steps; 64x64, batch 8,
# Adam 2e-3, at most 40 epochs (400 passes over the faces). Resumable: a killed run continues with --resume.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
DIR=${PRETRAIN_DIR:-$BUILD/pretrain}
tasks=${*:-hdr color}
mkdir -p "$DIR"
cd "$DIR"  # every path a checkpoint records is relative to here, so the bytes do not depend on it
# One thread: a reduction split over a different number of threads rounds differently, so the
# bytes would depend on the machine's core count; with one they depend only on the build and on
# the instruction set oneDNN picks (AVX-512 here).
export OMP_NUM_THREADS=1

train() {  # name tool data val epochs val_every
  local name=$1 tool=$2 data=$3 val=$4 epochs=$5 val_every=$6
  local args=(--device cpu --size 64 --batch 8 --lr 2e-3 --seed 1 --epochs "$epochs" --val "$val"
              --val-every "$val_every" --patience 5 --out "runs/$name")
  if [ -f "runs/$name/.done" ] || [ -n "${CHECK_ONLY:-}" ]; then return; fi
  if [ -f "runs/$name/last.safetensors" ]; then
    "$BUILD/$tool" "$data" "${args[@]}" --resume
  else
    "$BUILD/$tool" "$data" "${args[@]}" --overwrite
  fi
  touch "runs/$name/.done"
}

for task in $tasks; do
  start=$(date +%s)
  case $task in
    hdr)
      [ -f data/.done ] || { rm -rf data; "$BUILD/gen_procedural" data --train 10000 --test-seqs 0 --size 64 --seed 200 --quiet; touch data/.done; }
      [ -f val/.done ] || { rm -rf val; "$BUILD/gen_procedural" val --train 500 --test-seqs 0 --size 64 --seed 201 --quiet; touch val/.done; }
      train hdr train_hdr data/train val/train 20 0 ;;
    color)
      faces=$ROOT/data/real/faces/johns
      [ -d "$faces" ] || { echo "pretrain: $faces is missing: run make data first" >&2; exit 1; }
      if [ ! -f faces/.done ]; then
        rm -rf faces; mkdir -p faces/train faces/val
        i=0
        for f in $(ls "$faces" | grep -iE '\.(png|jpe?g)$' | sort); do
          if [ $((i % 5)) -eq 4 ]; then
            cp "$faces/$f" faces/val/
          else  # each training face 10 times: an epoch of 55 steps, not 5 (a checkpoint per epoch)
            for k in 0 1 2 3 4 5 6 7 8 9; do cp "$faces/$f" "faces/train/${k}_$f"; done
          fi
          i=$((i + 1))
        done
        touch faces/.done
      fi
      train color train_color faces/train faces/val 40 0 ;;
    *) echo "pretrain: unknown task '$task' (hdr or color)" >&2; exit 1 ;;
  esac
  got=$(sha256sum "runs/$task/best.safetensors" | cut -d' ' -f1)
  want=$(grep " ${task}_base.safetensors\$" "$ROOT/pretrained/SHA256SUMS" 2>/dev/null | cut -d' ' -f1 || true)
  echo "pretrain $task: runs/$task/best.safetensors sha256 $got ($(( $(date +%s) - start )) s)"
  if [ -z "$want" ]; then
    echo "pretrain $task: pretrained/SHA256SUMS names no ${task}_base.safetensors"
  elif [ "$got" = "$want" ]; then
    echo "pretrain $task: identical to pretrained/${task}_base.safetensors"
  else
    echo "pretrain $task: DIFFERS from pretrained/${task}_base.safetensors ($want)" >&2; exit 1
  fi
done
