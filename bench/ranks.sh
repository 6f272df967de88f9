#!/usr/bin/env bash
# Data-parallel scaling on one CPU machine: bench_step as 1 process on every core (OpenMP) and
# as N MPI ranks of 1 thread each (mpirun), at the same global batch; prints a Markdown table
# and leaves the JSON files in OUTDIR.
# Usage: bench/ranks.sh BUILD_DIR OUTDIR [RANKS=2] [SIZES="64 128"] [GLOBAL_BATCH=8]
set -euo pipefail
B=$(cd "$1" && pwd); OUT=$2; N=${3:-2}; SIZES=${4:-64 128}; G=${5:-8}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for S in $SIZES; do
  OMP_NUM_THREADS=$N "$B/bench_step" --device cpu --size "$S" --batch "$G" --steps 10 \
      --regs none,trans-inv --json > "$OUT/one_$S.json"
  OMP_NUM_THREADS=1 mpirun -np "$N" --bind-to core "$B/bench_step" --device cpu --size "$S" \
      --batch $((G / N)) --steps 10 --regs none,trans-inv --json > "$OUT/ranks_$S.json"
done
python3 - "$OUT" "$N" "$SIZES" "$G" <<'PY'
import json, sys
out, n, sizes, g = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), int(sys.argv[4])
print(f"| model | reg | size | 1 process: ms/step | {n} ranks: ms/step | of which all-reduce wait | speed-up |")
print("|---|---|---:|---:|---:|---:|---:|")
alone = {}
for s in sizes:
    one = {(r["model"], r["reg"]): r for r in json.load(open(f"{out}/one_{s}.json"))["results"]}
    dp = {(r["model"], r["reg"]): r for r in json.load(open(f"{out}/ranks_{s}.json"))["results"]}
    for key, r in dp.items():
        if key[1] == "allreduce-only":
            alone[key[0]] = (r["floats"], r["allreduce_ms"])
            continue
        o = one[key]
        print(f"| {key[0]} | {key[1]} | {s} | {o['ms_per_step']:.1f} | {r['ms_per_step']:.1f} | "
              f"{r['allreduce_ms_per_step']:.1f} | {o['ms_per_step'] / r['ms_per_step']:.2f}x |")
print()
for model, (floats, ms) in alone.items():
    print(f"- {model}: all-reduce (+ the 1/N scale) of {floats} floats ({4 * floats / 2**20:.1f} MiB) "
          f"over {n} ranks, the ranks in step: {ms:.2f} ms")
PY
