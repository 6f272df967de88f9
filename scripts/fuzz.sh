#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/) with clang, ASan and UBSan into build-fuzz/ and
# runs each for SECONDS (default 60) on a corpus seeded by our own writers (fuzz_seeds), kept
# in build-fuzz/corpus/NAME between runs. Prints executions, coverage and findings per harness;
# crash, timeout and out-of-memory inputs land in build-fuzz/findings/NAME/.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]      (make fuzz FUZZ_SECONDS=600)
# Harnesses: fuzz_exr fuzz_png fuzz_jpg fuzz_hdr fuzz_checkpoint fuzz_sequence.
# Exit status: 0 when no harness found anything.
set -uo pipefail
SECONDS_EACH=${1:-60}
shift || true
cd "$(dirname "$0")/.." || exit 1
BUILD=${FUZZ_BUILD:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/deps.sh clang)"; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEADY_CUDA=OFF \
  -DSTEADY_FUZZ=ON >/dev/null || exit 1
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(fuzz_exr fuzz_png fuzz_jpg fuzz_hdr fuzz_checkpoint fuzz_sequence)
cmake --build "$BUILD" -j "$(nproc)" --target fuzz_seeds "${HARNESSES[@]}" >"$BUILD/fuzz-build.log" 2>&1 ||
  { tail -n 30 "$BUILD/fuzz-build.log"; echo "fuzz: build failed ($BUILD/fuzz-build.log)"; exit 1; }
SEEDS="$BUILD/seeds"
rm -rf "$SEEDS" && "$BUILD/fuzz_seeds" "$SEEDS" || exit 1
STATUS=0
printf '%-16s %8s %12s %8s %8s %8s %s\n' harness seconds executions exec/s cov ft findings
for h in "${HARNESSES[@]}"; do
  kind=${h#fuzz_}
  seed="$SEEDS/$kind"
  extra=()
  case "$kind" in
    checkpoint) extra=(-dict=tests/fuzz/checkpoint.dict -max_len=16384) ;;
    sequence) extra=(-max_len=65536) ;;
    *) extra=(-max_len=32768) ;;
  esac
  corpus="$BUILD/corpus/$h"
  findings="$BUILD/findings/$h"
  mkdir -p "$corpus" "$findings"
  log="$BUILD/$h.log"
  # A small quarantine: ASan otherwise keeps up to gigabytes of freed image buffers, and the
  # run ends in an out-of-memory report that is not ours.
  ASAN_OPTIONS=quarantine_size_mb=32 \
  "$BUILD/$h" "$corpus" "$seed" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -n 1)
  execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
  speed=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{print $2}')
  cov=$(echo "$done_line" | grep -oE 'cov: [0-9]+' | awk '{print $2}')
  ft=$(echo "$done_line" | grep -oE 'ft: [0-9]+' | awk '{print $2}')
  found=$(find "$findings" -type f | wc -l)
  printf '%-16s %8s %12s %8s %8s %8s %s\n' "$h" "$SECONDS_EACH" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "$found$([ "$rc" != 0 ] && echo " (exit $rc, see $log)")"
  [ "$rc" = 0 ] && [ "$found" = 0 ] || STATUS=1
done
exit "$STATUS"
