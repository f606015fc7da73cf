#!/usr/bin/env bash
# Builds libzmq with eventstorm's patch (scripts/libzmq/whole-message-limit.patch): in it
# ZMQ_MAXMSGSIZE bounds a whole multipart message, not each frame alone, so no peer can
# make a receiver hold more than the limit (docs/security-notes.md#multipart-messages).
#
#   bash scripts/libzmq.sh OUTDIR
#
# Writes OUTDIR/libzmq.so.5, built from Debian's source package of the installed libzmq5
# (apt-get source, through the deb-src entry scripts/nginx_module.sh adds) with CURVE
# (libsodium). Run eventstorm with EVENTSTORM_LIBZMQ=OUTDIR/libzmq.so.5, or copy the file
# to /usr/local/lib/eventstorm/libzmq.so.5, where every eventstorm process looks first.
#
# The source and the build live in a cache ($ESTORM_LIBZMQ_CACHE, default
# ${XDG_CACHE_HOME:-~/.cache}/eventstorm-libzmq): a second run copies the built file.
set -euo pipefail

die() {
  echo "libzmq.sh: $*" >&2
  exit 1
}
log() { echo "libzmq.sh: $*" >&2; }

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
[ $# -eq 1 ] || {
  echo "usage: bash scripts/libzmq.sh OUTDIR (--help says more)" >&2
  exit 2
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATCH="$ROOT/scripts/libzmq/whole-message-limit.patch"
mkdir -p "$1" || die "cannot create $1"
OUT=$(cd "$1" && pwd)
CACHE=${ESTORM_LIBZMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventstorm-libzmq}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

if [ "$(id -u)" = 0 ]; then
  bash "$ROOT/scripts/nginx_module.sh" install
fi
for tool in c++ cmake pkg-config dpkg-source; do
  command -v "$tool" >/dev/null || die "$tool is missing (run as root: scripts/nginx_module.sh install)"
done
pkg-config --exists libsodium || die "libsodium's headers are missing (apt-get install libsodium-dev)"

# The exact Debian revision of the installed library, so the build differs from it by
# the patch alone.
VERSION=$(dpkg-query -W -f='${source:Version}' libzmq5 2>/dev/null) ||
  die "libzmq5 is not installed"
BUILD="$CACHE/zeromq3-$VERSION-$(sha256sum "$PATCH" | cut -c1-12)"
if [ ! -f "$BUILD/lib/libzmq.so.5" ]; then
  SOURCE="$CACHE/zeromq3-$VERSION"
  if [ ! -f "$SOURCE/CMakeLists.txt" ]; then
    log "fetching Debian's source of libzmq $VERSION"
    work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    (cd "$work" && apt-get source -q --download-only "zeromq3=$VERSION" >"$work/fetch.log" 2>&1) ||
      { cat "$work/fetch.log" >&2; die "apt-get source zeromq3=$VERSION failed (is there a deb-src entry?)"; }
    (cd "$work" && dpkg-source -x --no-check ./*.dsc tree >"$work/unpack.log" 2>&1) ||
      { cat "$work/unpack.log" >&2; die "dpkg-source could not unpack zeromq3 $VERSION"; }
    rm -rf "$SOURCE"
    mv "$work/tree" "$SOURCE"
    rm -rf "$work"
  fi
  tree=$(mktemp -d "$CACHE/.build.XXXXXX")
  cp -a "$SOURCE/." "$tree/src-tree"
  (cd "$tree/src-tree" && patch -p1 -s <"$PATCH") || die "the patch does not apply to libzmq $VERSION"
  log "building libzmq $VERSION with the whole-message limit"
  cmake -S "$tree/src-tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release -DWITH_LIBSODIUM=ON \
    -DENABLE_CURVE=ON -DENABLE_DRAFTS=OFF -DBUILD_TESTS=OFF -DBUILD_STATIC=OFF -DWITH_DOCS=OFF \
    -DWITH_PERF_TOOL=OFF >"$tree/cmake.log" 2>&1 || { tail -n 30 "$tree/cmake.log" >&2; die "cmake failed"; }
  cmake --build "$tree/build" --target libzmq -j "$(nproc 2>/dev/null || echo 2)" >"$tree/build.log" 2>&1 ||
    { grep -m 20 -B 2 -A 4 "error" "$tree/build.log" >&2; die "the build failed"; }
  mkdir -p "$tree/lib"
  cp -L "$tree/build/lib/libzmq.so.5" "$tree/lib/libzmq.so.5"
  rm -rf "$BUILD"
  mkdir -p "$(dirname "$BUILD")"
  mv "$tree/lib" "$BUILD.new" && mkdir -p "$BUILD" && mv "$BUILD.new" "$BUILD/lib"
  rm -rf "$tree"
fi
cp "$BUILD/lib/libzmq.so.5" "$OUT/libzmq.so.5.tmp"
mv "$OUT/libzmq.so.5.tmp" "$OUT/libzmq.so.5"
echo "$OUT/libzmq.so.5"
