#!/usr/bin/env bash
# Downloads the .deb files of Steady's build dependencies into DIR, for a machine that has the
# CUDA toolkit but neither these packages nor a package mirror (say, a GPU machine cut off from
# the network). There, `DEBS=DIR scripts/gpu-check.sh` unpacks them into the build folder and
# builds against them; nothing is installed.
#
#   scripts/download-debs.sh DIR        (about 15 MB)
#
# Run it on a Debian or Ubuntu machine whose release is no newer than the target's (the
# libraries need its C library at least). ffmpeg is not included: without it the video tests
# are left out of gpu-check's ctest run, and it says so.
set -euo pipefail
DIR=${1:?usage: scripts/download-debs.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if ls "$DIR"/*.deb >/dev/null 2>&1; then
  echo "download-debs: $DIR already holds .deb files; give an empty folder" >&2
  exit 1
fi
# The headers and CMake files (-dev) and the shared libraries they point at, with OpenBLAS's
# Fortran runtime. zlib's headers come too; its library is on every system.
pkgs=(doctest-dev libstb-dev nlohmann-json3-dev
      libopenexr-dev libimath-dev zlib1g-dev
      libopenblas-openmp-dev libopenblas0-openmp libgfortran5)
# apt-get download names runtime libraries by their package names, which carry the soname's
# version (libopenexr-3-1-30); ask apt which ones the -dev packages depend on.
for dev in libopenexr-dev libimath-dev; do
  while read -r dep; do pkgs+=("$dep"); done < <(
    apt-cache depends "$dev" | awk '/Depends: lib(openexr|imath)-[0-9]/ {print $2}')
done
echo "download-debs: ${pkgs[*]}"
# In a folder the _apt user cannot write to, apt downloads as root and only warns.
(cd "$DIR" && apt-get download "${pkgs[@]}" 2>&1 | grep -v 'unsandboxed' || true)
n=$(find "$DIR" -maxdepth 1 -name '*.deb' | wc -l)
[ "$n" -ge ${#pkgs[@]} ] || { echo "download-debs: only $n of ${#pkgs[@]} packages downloaded" >&2; exit 1; }
echo "download-debs: $n packages, $(du -sh "$DIR" | cut -f1) in $DIR"
