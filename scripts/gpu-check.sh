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
# packages nvidia-cudnn-cu13 or nvidia-cudnn-cu12 in python3's site-packages (their include/ and
# lib/; the pip lib/ holds only libcudnn.so.9, so BUILD_DIR/cudnn-shim provides the unversioned
# libcudnn.so that CMake's find_library needs). Set CUDNN_ROOT to choose one yourself, or
# CUDNN_SOURCE=system|pip to force a source.
#
# A machine without the Debian build dependencies (OpenEXR, OpenBLAS, doctest, stb, nlohmann-json)
# and without a package mirror can build from .deb files brought along: DEBS=DIR, a folder made
# by scripts/download-debs.sh. They are unpacked into BUILD_DIR/deps, which CMake searches first.
#
# Environment: BUILD_DIR (default build-gpu-check), JOBS (default nproc), DEBS.
# Writes a small fixed set of files, easy to copy off a remote machine: summary.txt (with the
# environment and the benchmarks' error messages), build.log, ctest.log, bench_ops.json,
# bench_step.json, torch_ops.json, torch_step.json and bench_compare.md (both comparisons).
# Exit status: 0 when the build and every test passed and the GPU tests really ran.
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
if [ -z "$OUTDIR" ]; then
  mkdir -p "$BUILD_DIR/gpu-check" && OUTDIR=$(cd "$BUILD_DIR/gpu-check" && pwd) || exit 1
fi
SUMMARY="$OUTDIR/summary.txt"
: >"$SUMMARY"

say() { echo "gpu-check: $*" | tee -a "$SUMMARY"; }
# The first of its arguments that exists (unmatched globs stay literal and do not exist).
first_existing() {
  local f
  for f in "$@"; do
    [ -e "$f" ] && { echo "$f"; return; }
  done
}
die() { say "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------- toolkit
if ! command -v nvcc >/dev/null 2>&1; then
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
fi
command -v nvcc >/dev/null 2>&1 || die "nvcc not found (no CUDA toolkit on PATH or in /usr/local/cuda)"

# ---------------------------------------------------------------- cuDNN
# Prints the folder holding include/cudnn.h and lib/libcudnn.so, creating a shim folder for a
# pip install whose lib/ has only the versioned library. Prints nothing when none is found.
find_cudnn_root() {
  local source=${CUDNN_SOURCE:-auto}
  if [ "$source" != pip ]; then
    for root in /usr/local/cuda /usr; do
      if [ -f "$root/include/cudnn.h" ] &&
         [ -n "$(first_existing "$root"/lib*/libcudnn.so "$root"/lib/*-linux-gnu/libcudnn.so)" ]; then
        echo "$root"
        return
      fi
    done
  fi
  [ "$source" = system ] && return
  local pkg
  pkg=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null) || return
  [ -f "$pkg/include/cudnn.h" ] || return
  local lib
  lib=$(first_existing "$pkg"/lib/libcudnn.so.[0-9]*)
  [ -n "$lib" ] || return
  if [ -e "$pkg/lib/libcudnn.so" ]; then
    echo "$pkg"
    return
  fi
  # The shim lives in the build folder: the build keeps pointing at it.
  local shim
  case "$BUILD_DIR" in
    /*) shim="$BUILD_DIR/cudnn-shim" ;;
    *) shim="$(pwd)/$BUILD_DIR/cudnn-shim" ;;
  esac
  rm -rf "$shim"
  mkdir -p "$shim/lib" || return
  ln -s "$pkg/include" "$shim/include"
  ln -s "$lib" "$shim/lib/libcudnn.so"
  ln -s "$lib" "$shim/lib/$(basename "$lib")"
  echo "$shim"
}

CUDNN_ROOT=${CUDNN_ROOT:-$(find_cudnn_root)}
[ -n "$CUDNN_ROOT" ] || die "cuDNN not found: install nvidia-cudnn-cu13 (pip) or set CUDNN_ROOT"
# The loader must find libcudnn.so.9 and the sub-libraries it opens (libcudnn_cnn.so.9, ...).
CUDNN_SO=$(first_existing "$CUDNN_ROOT"/lib*/libcudnn.so "$CUDNN_ROOT"/lib/*-linux-gnu/libcudnn.so)
[ -n "$CUDNN_SO" ] || die "no lib/libcudnn.so under CUDNN_ROOT=$CUDNN_ROOT"
CUDNN_LIBDIR=$(dirname "$(readlink -f "$CUDNN_SO")")
export LD_LIBRARY_PATH="$CUDNN_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
say "cuDNN from $CUDNN_ROOT (libraries in $CUDNN_LIBDIR)"

# ---------------------------------------------------------------- environment
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(uname -a)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null) $(git status --short 2>/dev/null | wc -l) changed files"
  echo "nvcc: $(nvcc --version | tail -n 1)"
  grep -hE '#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ' "$CUDNN_ROOT"/include/cudnn_version.h 2>/dev/null
  echo "CUDNN_ROOT=$CUDNN_ROOT"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
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
{
  cmake -S . -B "$BUILD_DIR" -DSTEADY_CUDA=ON -DCMAKE_BUILD_TYPE=Release -DCUDNN_ROOT="$CUDNN_ROOT" \
    ${CMAKE_ARGS[@]+"${CMAKE_ARGS[@]}"} &&
    cmake --build "$BUILD_DIR" -j "$JOBS"
} >"$OUTDIR/build.log" 2>&1 || die "configure/build, see build.log (last lines below)
$(tail -n 30 "$OUTDIR/build.log")"
WARNINGS=$(grep -c -i 'warning' "$OUTDIR/build.log" || true)
say "build: ok ($WARNINGS lines mentioning warnings)"

# ---------------------------------------------------------------- tests
STATUS=0
CTEST_ARGS=()
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  CTEST_ARGS+=(-E '^test_video$')
  say "no ffmpeg/ffprobe here: test_video (video files, CPU only) is left out"
fi
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS[@]+"${CTEST_ARGS[@]}"}) \
  >"$OUTDIR/ctest.log" 2>&1 || STATUS=1
say "ctest: $(grep -E 'tests passed|tests failed' "$OUTDIR/ctest.log" | tail -n 1)"
SKIPPED=$(grep -E '^\s*[0-9]+ - gpu_.*\(Skipped\)' "$OUTDIR/ctest.log" || true)
if [ -n "$SKIPPED" ]; then
  say "GPU tests were skipped (no device seen by CUDA):"
  say "$SKIPPED"
  [ "$GPU_PRESENT" = 1 ] && say "but nvidia-smi sees a GPU: check the driver and CUDA_VISIBLE_DEVICES"
  STATUS=1
fi
[ "$STATUS" = 0 ] || say "tests: FAILED, see ctest.log"

# ---------------------------------------------------------------- benchmarks
# With --json the benchmarks print only errors on stderr: those go to the summary.
if [ -x "$BUILD_DIR/bench_ops" ] && [ -x "$BUILD_DIR/bench_step" ]; then
  if "$BUILD_DIR/bench_ops" --device cuda --repeat 20 --json >"$OUTDIR/bench_ops.json" 2>>"$SUMMARY"; then
    say "bench_ops: ok (bench_ops.json)"
  else
    say "bench_ops: FAILED"
    STATUS=1
  fi
  if "$BUILD_DIR/bench_step" --device cuda --steps 20 --json >"$OUTDIR/bench_step.json" 2>>"$SUMMARY"; then
    say "bench_step: ok (bench_step.json)"
  else
    say "bench_step: FAILED"
    STATUS=1
  fi
  if python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
    COMPARE="$OUTDIR/bench_compare.md"
    : >"$COMPARE"
    if python3 bench/torch_ops.py --device cuda --repeat 20 --modes eager,channels_last,compile,graph \
         >"$OUTDIR/torch_ops.json" 2>>"$SUMMARY" &&
       python3 bench/compare.py "$OUTDIR/bench_ops.json" "$OUTDIR/torch_ops.json" >>"$COMPARE" 2>>"$SUMMARY"; then
      say "PyTorch ops peer: ok (torch_ops.json, bench_compare.md)"
    else
      say "PyTorch ops peer: failed"
    fi
    echo >>"$COMPARE"
    if python3 bench/torch_step.py --device cuda --steps 20 --json >"$OUTDIR/torch_step.json" 2>>"$SUMMARY" &&
       python3 bench/compare.py "$OUTDIR/bench_step.json" "$OUTDIR/torch_step.json" >>"$COMPARE" 2>>"$SUMMARY"; then
      say "PyTorch step peer: ok (torch_step.json, bench_compare.md)"
    else
      say "PyTorch step peer: failed"
    fi
  else
    say "PyTorch peers: skipped (no torch with CUDA in python3)"
  fi
else
  say "bench_ops/bench_step: not built, skipped"
fi

if [ "$STATUS" = 0 ]; then say "PASS"; else say "FAIL"; fi
exit "$STATUS"
