#!/bin/sh
# cmake/check_layers.cmake passes the tree and refuses an include from a lower layer to a higher
# one (the build runs the same check before compiling the engine).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
cmake -DROOT="$src" -P "$src/cmake/check_layers.cmake"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for bad in 'data/a.cpp:tools/lib/cli.h' 'engine/a.h:kernels/warp_math.h' \
           'kernels/a.cu:models/model.h' 'losses/a.cpp:data/color.h'; do
  file=${bad%%:*}; inc=${bad#*:}
  rm -rf "$tmp/tree"; mkdir -p "$tmp/tree/$(dirname "$file")"
  printf '#include <vector>\n#include "%s"\n' "$inc" > "$tmp/tree/$file"
  if cmake -DROOT="$tmp/tree" -P "$src/cmake/check_layers.cmake" > "$tmp/out" 2>&1; then
    echo "FAIL: $file including $inc was accepted"; exit 1
  fi
  grep -q "$file: #include \"$inc\"" "$tmp/out" || { echo "FAIL: no message naming $file"; cat "$tmp/out"; exit 1; }
done
echo "layers: the tree passes, 4 forbidden includes refused"
