#!/usr/bin/env bash
# scripts/gpu-check.sh's control flow, run here without a GPU as far as it goes: on the existing
# build (GPU_CHECK_SKIP_BUILD), one small test, the benchmarks on the CPU with a time limit that
# bench_ops cannot meet and a bench_step case that fails. Checks that every phase reports, that
# the timed-out benchmark kept the cases it finished and the failing case did not stop the
# others, and that the script fails as it must.
# Usage: tests/gpu_check_script.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "gpu_check_script: $*"; echo "--- summary.txt"; cat "$out/summary.txt"; exit 1; }

command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ] || {
  echo "no CUDA toolkit here: gpu-check.sh stops before its phases"; exit 77; }
[ -e "$build/gpu_ops" ] || { echo "build without CUDA: nothing for gpu-check.sh to check"; exit 77; }

BUILD_DIR="$build" GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_TESTS='^test_autograd$' GPU_CHECK_DEVICE=cpu \
  GPU_CHECK_BENCH_S=8 GPU_CHECK_OPS_ARGS="--repeat 30" \
  GPU_CHECK_STEP_ARGS="--models hdr --regs none,no-such-reg --size 32 --batch 2 --steps 1" \
  GPU_CHECK_PEERS=0 "$root/scripts/gpu-check.sh" "$out" >"$out/stdout.txt" 2>&1
status=$?
[ "$status" != 0 ] || fail "exit status 0 although a benchmark timed out and a case failed"
grep -q "build: skipped" "$out/summary.txt" || fail "no build line"
grep -q "ldd: every binary finds its libraries" "$out/summary.txt" || fail "ldd check missing or failed"
grep -Eq "ctest: ok: 100% tests passed" "$out/summary.txt" || fail "ctest phase did not pass"
grep -Eq "bench_ops: TIMED OUT \([1-9][0-9]* cases, 0 failed\)" "$out/summary.txt" ||
  fail "bench_ops: expected a timeout that kept the finished cases"
grep -q "bench_step: FAILED (status 1) (2 cases, 1 failed)" "$out/summary.txt" ||
  fail "bench_step: expected one failed and one measured case"
python3 - "$out/bench_step.json" <<'PY' || fail "bench_step.json is not what was measured"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert [x["reg"] for x in r] == ["none", "no-such-reg"], r
assert r[0]["ms_per_step"] > 0 and "error" not in r[0], r[0]
assert "unknown regularizer" in r[1]["error"], r[1]
PY
grep -Eq "bench_step, 2 ranks on one device: ok|no mpirun here" "$out/summary.txt" ||
  fail "the data-parallel phase did not report ok"
grep -q "PyTorch peers: left out" "$out/summary.txt" || fail "peers line missing"
grep -Eq "FAIL$" "$out/summary.txt" || fail "no final FAIL line"
[ ! -e "$build/cudnn-shim" ] || fail "a cudnn-shim folder appeared"
echo "gpu-check.sh control flow: ok"
