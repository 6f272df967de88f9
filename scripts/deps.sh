#!/usr/bin/env bash
# Installs the Debian packages Steady needs that are missing; a no-op when all are present.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
pkgs=(cmake make g++ doctest-dev libstb-dev libopenexr-dev libopenblas-openmp-dev libdnnl-dev
      nlohmann-json3-dev ffmpeg python3-matplotlib openmpi-bin libopenmpi-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
