#!/usr/bin/env bash
# Data-parallel training over MPI on the CPU (tools/lib/collective.h), from the outside:
#  1. `mpirun -np 2 train_hdr --batch 4` against `train_hdr --batch 8`, batch norm frozen (per-
#     rank batch statistics would differ by design): the printed losses agree to 6 digits, and
#     the weights agree as closely as one process agrees with itself on 2 threads instead of 1.
#     Sums in another order differ in the last bits, and Adam (g / sqrt(v)) turns a gradient at
#     rounding level into a step of about lr either way. So the tolerance: no weight further apart
#     than 2 lr x steps, and no more weights more than 1e-6 apart than 1.5 times (+1%) what the
#     same single process gets on 2 OpenMP threads instead of 1, measured beside it.
#  2. Resume after an interrupted 2-rank run gives the uninterrupted run's bytes.
#  3. Killing one rank ends the job with an error within 60 s; so does a rank that hangs (the
#     others give up after STEADY_COMM_TIMEOUT seconds, with a message); an error on one rank (a
#     run folder already in use) ends every rank with the message.
# Usage: mpi_train.sh BUILD_DIR   (exit 77 = skipped: no mpirun or a build without MPI)
set -euo pipefail
B=$(cd "$1" && pwd)
command -v mpirun >/dev/null || { echo "mpi_train: no mpirun: skipped"; exit 77; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
PY=$(command -v python3)
MPI="mpirun -np 2"
if ! $MPI "$B/train_hdr" --summary >/dev/null 2>"$W/probe.err"; then
  if grep -q "has no MPI" "$W/probe.err"; then echo "mpi_train: this build has no MPI: skipped"; exit 77; fi
fi
# Every tensor of two checkpoints the same bytes.
same_tensors() {
  $PY - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]] for k, v in h.items() if k != '__metadata__'}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), f"{sys.argv[1]} and {sys.argv[2]} differ"
PY
}
"$B/gen_procedural" "$W/data" --train 32 --test-seqs 1 --frames 4 --size 32 --seed 1 --quiet
T="--device cpu --size 32 --epochs 2 --bn frozen --seed 1 --log-every 1"

"$B/train_hdr" "$W/data" $T --batch 8 --out "$W/one" 2>"$W/one.err"
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --out "$W/two" 2>"$W/two.err"
grep -q "2 ranks x --batch 4" "$W/two.err" || { cat "$W/two.err"; echo "mpi_train: not 2 ranks"; exit 1; }
[ "$(ls "$W/two")" = "$(ls "$W/one")" ] || { echo "mpi_train: rank 1 wrote files too?"; ls "$W/two"; exit 1; }
OMP_NUM_THREADS=2 "$B/train_hdr" "$W/data" $T --batch 8 --out "$W/one_t2" 2>/dev/null
$PY - "$W" <<'PY'
import array, json, struct, sys
w = sys.argv[1]
def load(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    out = {}
    for k, v in h.items():
        if k.startswith('param.') and v['dtype'] == 'F32':
            a = array.array('f'); a.frombytes(d[v['data_offsets'][0]:v['data_offsets'][1]]); out[k] = a
    return out
def diff(a, b):
    worst, far, n = 0.0, 0, 0
    for k in a:
        for x, y in zip(a[k], b[k]):
            n += 1; worst = max(worst, abs(x - y)); far += abs(x - y) > 1e-6
    return worst, far / n
one = load(f'{w}/one/last.safetensors')
dp = diff(one, load(f'{w}/two/last.safetensors'))
threads = diff(one, load(f'{w}/one_t2/last.safetensors'))
print(f"2 ranks vs 1 process: max |dw| {dp[0]:.3g}, {100 * dp[1]:.3f}% of weights > 1e-6 apart")
print(f"1 process, 2 threads vs 1: max |dw| {threads[0]:.3g}, {100 * threads[1]:.3f}% > 1e-6 apart")
lr, steps = 1e-4, 8
assert dp[0] <= 2 * lr * steps, "a weight moved further apart than Adam allows"
assert dp[1] <= 1.5 * threads[1] + 0.01, "more weights differ than a change of thread count makes"
PY
l1=$(awk -F, 'NR>1{print $3}' "$W/one/log.csv" | head -4 | xargs printf '%.6g ')
l2=$(awk -F, 'NR>1{print $3}' "$W/two/log.csv" | head -4 | xargs printf '%.6g ')
echo "losses, 1 process: $l1; 2 ranks: $l2"
[ "$l1" = "$l2" ] || { echo "mpi_train: the losses differ"; exit 1; }

# 2. Interrupted (as if, after 3 steps) and resumed: the same bytes as the uninterrupted run.
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --out "$W/cut" --stop-after 3 2>/dev/null
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --out "$W/cut" --resume 2>"$W/resume.err"
grep -q "resuming" "$W/resume.err"
same_tensors "$W/two/last.safetensors" "$W/cut/last.safetensors"
echo "resumed 2-rank run: every tensor identical to the uninterrupted one"

# Ctrl-C to mpirun reaches every rank: they stop at one step, rank 0 saves, and a resume from
# there matches a run stopped at the same step without the signal.
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --epochs 500 --out "$W/sig" >"$W/sig.out" 2>&1 &
job=$!
for _ in $(seq 100); do [ -s "$W/sig/log.csv" ] && break; sleep 0.2; done
sleep 0.5; kill -INT $job
rc=0; timeout 60 tail --pid=$job -f /dev/null || rc=$?
[ $rc -eq 0 ] || { echo "mpi_train: the job still runs 60 s after Ctrl-C"; kill -9 $job; exit 1; }
wait $job || true
n=$(tr '\r' '\n' <"$W/sig.out" | sed -n 's/^interrupted at step \([0-9]*\): saved.*/\1/p')
[ -n "$n" ] || { cat "$W/sig.out"; echo "mpi_train: no 'interrupted at step N' line"; exit 1; }
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --epochs 500 --out "$W/sig" --resume --stop-after $((n + 2)) 2>/dev/null
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --epochs 500 --out "$W/nosig" --stop-after $((n + 2)) 2>/dev/null
same_tensors "$W/sig/last.safetensors" "$W/nosig/last.safetensors"
echo "Ctrl-C at step $n, resumed to $((n + 2)): identical to the run without the signal"

# A 2-rank checkpoint loads in one process.
"$B/eval_video" "$W/data/test/seq_000" --model "$W/two/last.safetensors" --device cpu --json >/dev/null

# 3. One rank killed: the job ends, with an error, within 60 s.
$MPI "$B/train_hdr" "$W/data" $T --batch 4 --epochs 500 --out "$W/kill" >"$W/kill.out" 2>&1 &
job=$!
for _ in $(seq 100); do [ -s "$W/kill/log.csv" ] && break; sleep 0.2; done
victim=$(pgrep -f "train_hdr $W/data .*--out $W/kill" | tail -1)
[ -n "$victim" ] || { echo "mpi_train: no rank to kill"; kill $job; exit 1; }
start=$(date +%s); kill -9 "$victim"
rc=0; timeout 60 tail --pid=$job -f /dev/null || rc=$?
[ $rc -eq 0 ] || { echo "mpi_train: the job still runs 60 s after a rank died"; kill -9 $job; exit 1; }
wait $job && { echo "mpi_train: the job exited 0 after a rank was killed"; exit 1; } || true
echo "one rank killed: the job ended in $(( $(date +%s) - start )) s with an error"

# One rank hangs (stopped): the other gives up after STEADY_COMM_TIMEOUT seconds, saying why,
# and the job ends.
STEADY_COMM_TIMEOUT=3 $MPI -x STEADY_COMM_TIMEOUT "$B/train_hdr" "$W/data" $T --batch 4 \
    --epochs 500 --out "$W/hang" >"$W/hang.out" 2>&1 &
job=$!
for _ in $(seq 100); do [ -s "$W/hang/log.csv" ] && break; sleep 0.2; done
victim=$(pgrep -f "train_hdr $W/data .*--out $W/hang" | tail -1)
[ -n "$victim" ] || { echo "mpi_train: no rank to stop"; kill $job; exit 1; }
start=$(date +%s); kill -STOP "$victim"
rc=0; timeout 60 tail --pid=$job -f /dev/null || rc=$?
[ $rc -eq 0 ] || { echo "mpi_train: the job still runs 60 s after a rank hung"; kill -9 $job "$victim"; exit 1; }
wait $job && { echo "mpi_train: the job exited 0 after a rank hung"; exit 1; } || true
grep -q "no answer from the other ranks for 3 s" "$W/hang.out" || { cat "$W/hang.out"; exit 1; }
echo "one rank stopped: the other gave up after $(( $(date +%s) - start )) s, saying why"

# An error on rank 0 alone (the folder holds a run) ends both ranks with the message.
rc=0; timeout 60 $MPI "$B/train_hdr" "$W/data" $T --batch 4 --out "$W/two" >"$W/err.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$W/err.out"; echo "mpi_train: expected an error exit, got $rc"; exit 1; }
grep -q "error on rank 0 of 2: .*already holds a run" "$W/err.out" || { cat "$W/err.out"; exit 1; }
echo "mpi_train: ok"
