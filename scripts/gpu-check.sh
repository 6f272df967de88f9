#!/usr/bin/env bash
# One-call check of the CUDA path on a machine with a GPU: configure with -DSTEADY_CUDA=ON, build,
# run the whole ctest suite, time the ops and the conv-stack step (bench_ops, and PyTorch's peer
# in its eager, channels_last, torch.compile and CUDA-graph modes when torch is there) and the
# models' training steps (bench_step and its PyTorch peer), and write the logs and JSON results
# to OUTDIR.
#
#   scripts/gpu-check.sh [OUTDIR]        (default: BUILD_DIR/gpu-check)
#
# cuDNN is taken from the CUDA toolkit when it has it (/usr/local/cuda), else from the pip
# packages nvidia-cudnn-cu13 or nvidia-cudnn-cu12 in $PYTHON's site-packages (their include/ and
# lib/; CMake finds lib/libcudnn.so.9 by name and the binaries' RUNPATH points there, so they
# also run by hand). Set CUDNN_ROOT to choose one yourself, or CUDNN_SOURCE=system|pip.
#
# A machine without the Debian build dependencies (OpenEXR, OpenBLAS, oneDNN, doctest, stb,
# nlohmann-json) and without a package mirror can build from .deb files brought along: DEBS=DIR,
# a folder made by scripts/download-debs.sh, unpacked into BUILD_DIR/deps.
#
# Every phase has a time limit (seconds, overridable) and the whole fits in 9 minutes:
#   build 180 (GPU_CHECK_BUILD_S), ldd check, ctest 90 (GPU_CHECK_TEST_S, CUDA_LAUNCH_BLOCKING=1
#   so a fault names its kernel), bench_ops and bench_step twice (batch 16 at 128x128, batch 4
#   at 64x64 with graph replay) 30 each (GPU_CHECK_BENCH_S, cuDNN's choices logged with
#   STEADY_CUDNN_LOG=1), bench_step as 2 MPI ranks on the device 30 (GPU_CHECK_DP_S), four
#   PyTorch peer runs 40 each (GPU_CHECK_PEER_S): 550 s at most.
# The benchmarks write their JSON after every case: a case that fails or a phase that runs out of
# time keeps every case measured before it. A failing phase never stops the later ones.
#
# Environment: BUILD_DIR (default build-gpu-check), JOBS (default nproc), DEBS, PYTHON (default
# python3). For testing this script without a GPU (tests/gpu_check_script.sh):
# GPU_CHECK_SKIP_BUILD=1 uses BUILD_DIR as it is, GPU_CHECK_TESTS=REGEX limits ctest,
# GPU_CHECK_DEVICE=cpu runs the benchmarks on the CPU, GPU_CHECK_OPS_ARGS and GPU_CHECK_STEP_ARGS
# add arguments to bench_ops and bench_step, GPU_CHECK_PEERS=0 leaves out the PyTorch peers.
# Writes a small fixed set of files, easy to copy off a remote machine: summary.txt (the
# environment, each phase's outcome and time, the benchmarks' error messages), build.log, ldd.txt,
# ctest.log, bench_ops.json, bench_step.json (batch 16, 128x128), bench_step_b4.json (batch 4,
# 64x64), bench_step_dp.json (2 ranks), cudnn.log, torch_ops.json, torch_step.json, torch_step_compile.json, torch_step_b4.json
# and bench_compare.md (every comparison).
# Exit status: 0 when the build and every test passed, the GPU tests really ran and every
# benchmark case ran.
set -uo pipefail

# OUTDIR is relative to where the script is called from; everything else to the repository.
OUTDIR=${1:-}
if [ -n "$OUTDIR" ]; then
  mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || exit 1
fi
if [ -n "${DEBS:-}" ]; then
  DEBS=$(cd "$DEBS" && pwd) || exit 1
fi
cd "$(dirname "$0")/.." || exit 1
BUILD_DIR=${BUILD_DIR:-build-gpu-check}
JOBS=${JOBS:-$(nproc)}
PYTHON=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
START=$(date +%s)
if [ -z "$OUTDIR" ]; then
  mkdir -p "$BUILD_DIR/gpu-check" && OUTDIR=$(cd "$BUILD_DIR/gpu-check" && pwd) || exit 1
fi
SUMMARY="$OUTDIR/summary.txt"
: >"$SUMMARY"

say() { echo "gpu-check: [$(($(date +%s) - START))s] $*" | tee -a "$SUMMARY"; }
# The first of its arguments that exists (unmatched globs stay literal and do not exist).
first_existing() {
  local f
  for f in "$@"; do
    [ -e "$f" ] && { echo "$f"; return; }
  done
}
die() { say "FAILED: $*"; exit 1; }
# phase LIMIT_S LOG CMD...: runs CMD with its output in LOG, killed after LIMIT_S seconds (and
# 10 more if it ignores SIGTERM). Returns CMD's status; 124 means it ran out of time.
phase() {
  local limit=$1 log=$2
  shift 2
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
}
# The words for a phase's status.
outcome() {
  case "$1" in
    0) echo ok ;;
    124 | 137) echo "TIMED OUT" ;;
    *) echo "FAILED (status $1)" ;;
  esac
}

# ---------------------------------------------------------------- toolkit
if ! command -v nvcc >/dev/null 2>&1; then
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
fi
command -v nvcc >/dev/null 2>&1 || die "nvcc not found (no CUDA toolkit on PATH or in /usr/local/cuda)"

# ---------------------------------------------------------------- cuDNN
# Prints the folder holding include/cudnn.h and lib*/libcudnn.so[.9]; nothing when none is found.
find_cudnn_root() {
  local source=${CUDNN_SOURCE:-auto}
  if [ "$source" != pip ]; then
    for root in /usr/local/cuda /usr; do
      if [ -f "$root/include/cudnn.h" ] &&
         [ -n "$(first_existing "$root"/lib*/libcudnn.so* "$root"/lib/*-linux-gnu/libcudnn.so*)" ]; then
        echo "$root"
        return
      fi
    done
  fi
  [ "$source" = system ] && return
  local pkg
  pkg=$("$PYTHON" -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null) || return
  [ -f "$pkg/include/cudnn.h" ] && [ -n "$(first_existing "$pkg"/lib/libcudnn.so*)" ] && echo "$pkg"
}

CUDNN_ROOT=${CUDNN_ROOT:-$(find_cudnn_root)}
[ -n "$CUDNN_ROOT" ] || die "cuDNN not found: install nvidia-cudnn-cu13 (pip) or set CUDNN_ROOT"
CUDNN_SO=$(first_existing "$CUDNN_ROOT"/lib*/libcudnn.so* "$CUDNN_ROOT"/lib/*-linux-gnu/libcudnn.so*)
[ -n "$CUDNN_SO" ] || die "no lib/libcudnn.so* under CUDNN_ROOT=$CUDNN_ROOT"
say "cuDNN from $CUDNN_ROOT ($CUDNN_SO)"

# ---------------------------------------------------------------- environment
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(uname -a)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null) $(git status --short 2>/dev/null | wc -l) changed files"
  echo "nvcc: $(nvcc --version | tail -n 1)"
  grep -hE '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$CUDNN_ROOT"/include/cudnn_version.h 2>/dev/null
  echo "CUDNN_ROOT=$CUDNN_ROOT"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  echo "STEADY_TF32=${STEADY_TF32:-} STEADY_DETERMINISTIC=${STEADY_DETERMINISTIC:-} STEADY_CUDA_GRAPH=${STEADY_CUDA_GRAPH:-}"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  else
    echo "nvidia-smi: not found"
  fi
} >>"$SUMMARY" 2>&1
GPU_PRESENT=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && GPU_PRESENT=1

# ---------------------------------------------------------------- dependencies from .debs
CMAKE_ARGS=()
if [ -n "${DEBS:-}" ]; then
  ls "$DEBS"/*.deb >/dev/null 2>&1 || die "DEBS=$DEBS holds no .deb files (see scripts/download-debs.sh)"
  DEPS_ROOT="$(mkdir -p "$BUILD_DIR" && cd "$BUILD_DIR" && pwd)/deps"
  # Unpacked again only when the .debs changed: fresh headers would rebuild everything.
  STAMP=$(ls -l "$DEBS"/*.deb | md5sum)
  if [ "$(cat "$DEPS_ROOT.stamp" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$DEPS_ROOT" "$DEPS_ROOT.stamp" && mkdir -p "$DEPS_ROOT"
    for deb in "$DEBS"/*.deb; do
      dpkg-deb -x "$deb" "$DEPS_ROOT" || die "cannot unpack $deb"
    done
    echo "$STAMP" >"$DEPS_ROOT.stamp"
  fi
  # Absolute links (libz.so -> /lib/.../libz.so.1.2.13) point at the packages' own system:
  # aim them into DEPS_ROOT when the file is there, else at this system's library of that name.
  while IFS= read -r link; do
    target=$(readlink "$link")
    case "$target" in /*) ;; *) continue ;; esac
    if [ -e "$DEPS_ROOT$target" ]; then
      ln -sfn "$DEPS_ROOT$target" "$link"
    elif [ ! -e "$target" ]; then
      soname=$(basename "$link")
      system=$(ldconfig -p | awk -v n="$soname." 'index($1, n) == 1 {print $NF; exit}')
      [ -n "$system" ] && ln -sfn "$system" "$link"
    fi
  done < <(find "$DEPS_ROOT" -type l)
  # After the system's own: the build's RUNPATH already names the libraries it links directly;
  # this finds what they need (OpenBLAS's libgfortran) where the system lacks it.
  LIBDIRS=$(find "$DEPS_ROOT" -name '*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}${LIBDIRS%:}"
  CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$DEPS_ROOT/usr")
  say "dependencies from $(ls "$DEBS"/*.deb | wc -l) .deb files in $DEBS, unpacked into $DEPS_ROOT"
fi
# Make is CMake's default generator; machines with only ninja use that.
if ! command -v make >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
  CMAKE_ARGS+=(-G Ninja)
fi

# ---------------------------------------------------------------- configure and build
STATUS=0
if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
  say "build: skipped (GPU_CHECK_SKIP_BUILD=1), using $BUILD_DIR as it is"
else
  phase "${GPU_CHECK_BUILD_S:-180}" "$OUTDIR/build.log" bash -c '
    cmake -S . -B "$0" -DSTEADY_CUDA=ON -DCMAKE_BUILD_TYPE=Release -DCUDNN_ROOT="$1" "${@:3}" &&
      cmake --build "$0" -j "$2"' "$BUILD_DIR" "$CUDNN_ROOT" "$JOBS" ${CMAKE_ARGS[@]+"${CMAKE_ARGS[@]}"}
  rc=$?
  [ "$rc" = 0 ] || die "configure/build $(outcome $rc), see build.log (last lines below)
$(tail -n 30 "$OUTDIR/build.log")"
  WARNINGS=$(grep -c -i 'warning' "$OUTDIR/build.log" || true)
  say "build: ok ($WARNINGS lines mentioning warnings)"
fi

# ---------------------------------------------------------------- libraries
# Every binary must find every library by itself (RUNPATH), as when it is run by hand.
: >"$OUTDIR/ldd.txt"
MISSING=0
for bin in "$BUILD_DIR"/bench_ops "$BUILD_DIR"/bench_step "$BUILD_DIR"/train_hdr "$BUILD_DIR"/gpu_*; do
  [ -x "$bin" ] || continue
  { echo "== $bin"; ldd "$bin"; } >>"$OUTDIR/ldd.txt" 2>&1
  if ldd "$bin" 2>&1 | grep -q "not found"; then
    say "ldd: $(basename "$bin") misses $(ldd "$bin" 2>&1 | grep 'not found' | awk '{print $1}' | tr '\n' ' ')"
    MISSING=1
  fi
done
if [ "$MISSING" = 0 ]; then
  say "ldd: every binary finds its libraries ($(grep -o 'libcudnn[^ ]*' "$OUTDIR/ldd.txt" | head -n 1 || echo 'no cuDNN linked'))"
else
  STATUS=1
fi

# ---------------------------------------------------------------- tests
CTEST_ARGS=()
if [ -n "${GPU_CHECK_TESTS:-}" ]; then
  CTEST_ARGS+=(-R "$GPU_CHECK_TESTS")
elif ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  CTEST_ARGS+=(-E '^test_video$')
  say "no ffmpeg/ffprobe here: test_video (video files, CPU only) is left out"
fi
(
  cd "$BUILD_DIR" || exit 1
  export CUDA_LAUNCH_BLOCKING=1
  phase "${GPU_CHECK_TEST_S:-90}" "$OUTDIR/ctest.log" \
    ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS[@]+"${CTEST_ARGS[@]}"}
)
rc=$?
say "ctest: $(outcome $rc): $(grep -E 'tests passed|tests failed' "$OUTDIR/ctest.log" | tail -n 1)"
[ "$rc" = 0 ] || STATUS=1
SKIPPED=$(grep -E '^\s*[0-9]+ - gpu_.*\(Skipped\)' "$OUTDIR/ctest.log" || true)
if [ -n "$SKIPPED" ]; then
  say "GPU tests were skipped (no device seen by CUDA):"
  say "$SKIPPED"
  [ "$GPU_PRESENT" = 1 ] && say "but nvidia-smi sees a GPU: check the driver and CUDA_VISIBLE_DEVICES"
  STATUS=1
fi

# ---------------------------------------------------------------- benchmarks
# bench NAME LIMIT_S ARGS...: one benchmark, its JSON written case by case into NAME.json.
bench() {
  local name=$1 limit=$2
  shift 2
  local json="$OUTDIR/$name.json"
  rm -f "$json"
  STEADY_CUDNN_LOG=1 phase "$limit" "$OUTDIR/$name.log" "$BUILD_DIR/$name" --device "$DEVICE" \
    --out "$json" "$@"
  local rc=$?
  local cases
  cases=$("$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(len(r), 'cases,', sum('error' in x for x in r), 'failed')" "$json" 2>/dev/null || echo "no JSON")
  say "$name: $(outcome $rc) ($cases)"
  grep "^$name: " "$OUTDIR/$name.log" >>"$SUMMARY"  # the failed cases' messages
  grep '^cudnn: ' "$OUTDIR/$name.log" >>"$OUTDIR/cudnn.log"
  [ "$rc" = 0 ] || STATUS=1
}
: >"$OUTDIR/cudnn.log"
# shellcheck disable=SC2086  # the extra arguments are words
bench bench_ops "${GPU_CHECK_BENCH_S:-30}" --repeat 20 ${GPU_CHECK_OPS_ARGS:-}
# The step targets: batch 16 at 128x128 (against eager and torch.compile), and graph replay at
# batch 4, 64x64 (where launch overhead dominates).
# shellcheck disable=SC2086
bench bench_step "${GPU_CHECK_BENCH_S:-30}" --steps 20 --batch 16 --size 128 ${GPU_CHECK_STEP_ARGS:-}
if [ -z "${GPU_CHECK_STEP_ARGS:-}" ]; then
  cp "$OUTDIR/bench_step.json" "$OUTDIR/bench_step_b16.json" 2>/dev/null
  bench bench_step "${GPU_CHECK_BENCH_S:-30}" --steps 20 --batch 4 --size 64
  mv "$OUTDIR/bench_step.json" "$OUTDIR/bench_step_b4.json" 2>/dev/null
  mv "$OUTDIR/bench_step_b16.json" "$OUTDIR/bench_step.json" 2>/dev/null
fi
say "cuDNN algorithm choices: $(wc -l <"$OUTDIR/cudnn.log") (cudnn.log)"

# Data parallelism on the device: 2 ranks (mpirun) sharing it, their gradients summed through
# the host (STEADY_NCCL=0: NCCL refuses two ranks on one GPU), into bench_step_dp.json.
if command -v mpirun >/dev/null 2>&1; then
  phase "${GPU_CHECK_DP_S:-30}" "$OUTDIR/bench_step_dp.log" env OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 --oversubscribe -x STEADY_NCCL=0 \
    "$BUILD_DIR/bench_step" --device "$DEVICE" --size 64 --batch 4 --steps 5 --regs none,trans-inv \
    --out "$OUTDIR/bench_step_dp.json"
  rc=$?
  say "bench_step, 2 ranks on one device: $(outcome $rc)"
  [ "$rc" = 0 ] || STATUS=1
else
  say "no mpirun here: data parallelism not checked"
fi

# peer NAME LIMIT_S SCRIPT ARGS...: a PyTorch peer into NAME.json, compared with ours.
peer() {
  local name=$1 limit=$2 script=$3 ours=$4
  shift 4
  if phase "$limit" "$OUTDIR/$name.err" "$PYTHON" "$script" --device "$DEVICE" "$@" --out "$OUTDIR/$name.json"; then
    if [ -s "$OUTDIR/$ours.json" ] &&
       "$PYTHON" bench/compare.py "$OUTDIR/$ours.json" "$OUTDIR/$name.json" >>"$OUTDIR/bench_compare.md" 2>>"$SUMMARY"; then
      echo >>"$OUTDIR/bench_compare.md"
      say "$name: ok (bench_compare.md)"
    else
      say "$name: ok, but no comparison (see above)"
    fi
  else
    say "$name: $(outcome $?) (last lines of $name.err below)"
    tail -n 5 "$OUTDIR/$name.err" >>"$SUMMARY"
  fi
}
: >"$OUTDIR/bench_compare.md"
if [ "${GPU_CHECK_PEERS:-1}" = 0 ]; then
  say "PyTorch peers: left out (GPU_CHECK_PEERS=0)"
elif "$PYTHON" -c "import torch, sys; sys.exit(0 if sys.argv[1] == 'cpu' or torch.cuda.is_available() else 1)" "$DEVICE" >/dev/null 2>&1; then
  MODES=eager,channels_last,compile,graph
  [ "$DEVICE" = cpu ] && MODES=eager,channels_last
  peer torch_ops "${GPU_CHECK_PEER_S:-40}" bench/torch_ops.py bench_ops --repeat 20 --modes "$MODES"
  peer torch_step "${GPU_CHECK_PEER_S:-40}" bench/torch_step.py bench_step --steps 20 --batch 16 --size 128
  if [ "$DEVICE" = cuda ]; then
    peer torch_step_compile "${GPU_CHECK_PEER_S:-40}" bench/torch_step.py bench_step --steps 20 \
      --batch 16 --size 128 --compile
    peer torch_step_b4 "${GPU_CHECK_PEER_S:-40}" bench/torch_step.py bench_step_b4 --steps 20 \
      --batch 4 --size 64
  fi
else
  say "PyTorch peers: skipped (no torch with $DEVICE in $PYTHON)"
fi

say "total $(($(date +%s) - START)) s"
if [ "$STATUS" = 0 ]; then say "PASS"; else say "FAIL"; fi
exit "$STATUS"
