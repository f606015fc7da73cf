#!/usr/bin/env bash
# Builds ngx_http_eventstorm_module for the installed nginx.
#
#   bash sources/nginx/module/build.sh OUTDIR
#
# Writes OUTDIR/ngx_http_eventstorm_module.so, to be loaded into the distribution's own
# nginx with `load_module /path/to/ngx_http_eventstorm_module.so;`. It takes Debian's
# source package of the installed nginx version (apt-get source, through a deb-src entry
# that scripts/nginx_module.sh adds), configures it `--with-compat --add-dynamic-module`
# and runs `make modules`; libeventstorm (sources/c) is built with CMake and linked in
# statically, so the module needs only libzmq and libbson at run time.
#
# Everything but OUTDIR lives in a cache ($ESTORM_NGINX_CACHE, default
# ${XDG_CACHE_HOME:-~/.cache}/eventstorm-nginx-module): a second run only recompiles
# what changed. Missing build packages are installed when run as root.
set -euo pipefail

die() {
  echo "build.sh: $*" >&2
  exit 1
}

[ $# -eq 1 ] && [ "$1" != "-h" ] && [ "$1" != "--help" ] || {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 1 ] && exit 0
  exit 2
}

MODULE_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$MODULE_DIR/../../.." && pwd)
mkdir -p "$1" || die "cannot create $1"
OUT=$(cd "$1" && pwd)
CACHE=${ESTORM_NGINX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventstorm-nginx-module}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

if [ "$(id -u)" = 0 ]; then
  bash "$ROOT/scripts/nginx_module.sh" install
fi
for tool in cc make cmake pkg-config; do
  command -v "$tool" >/dev/null || die "$tool is missing (run as root: scripts/nginx_module.sh install)"
done

log() { echo "build.sh: $*" >&2; }

# 1. nginx's source, once per version.
SOURCE=$(bash "$ROOT/scripts/nginx_module.sh" source "$CACHE/source")
VERSION=$(basename "$SOURCE")

# 2. libeventstorm as a position-independent static archive.
# One build directory per checkout: a CMake cache is bound to its source directory, and
# worktrees, clones and copies of the cache must not meet a cache made for another one.
LIB_BUILD="$CACHE/libeventstorm-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
if [ ! -f "$LIB_BUILD/CMakeCache.txt" ] ||
  ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT/sources/c" "$LIB_BUILD/CMakeCache.txt"; then
  rm -rf "$LIB_BUILD"
  log "configuring libeventstorm"
  cmake -S "$ROOT/sources/c" -B "$LIB_BUILD" -DES_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
    >"$CACHE/libeventstorm.log" 2>&1 || { cat "$CACHE/libeventstorm.log" >&2; die "cmake failed"; }
fi
cmake --build "$LIB_BUILD" --target eventstorm_static -j "$JOBS" >"$CACHE/libeventstorm.log" 2>&1 ||
  { cat "$CACHE/libeventstorm.log" >&2; die "building libeventstorm failed"; }
LIB="$LIB_BUILD/libeventstorm.a"
[ -f "$LIB" ] || die "no $LIB after the build"

# 3. nginx configured for this module: again only when the addon config or the paths change.
TREE="$CACHE/$VERSION-build"
STAMP="$TREE/.eventstorm-configure"
want_stamp=$(printf '%s\n' "$MODULE_DIR" "$LIB" "$ROOT/sources/c/include" \
  "$(sha256sum "$MODULE_DIR/config" | cut -d' ' -f1)")
if [ ! -f "$TREE/objs/Makefile" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want_stamp" ]; then
  log "configuring $VERSION --with-compat --add-dynamic-module=$MODULE_DIR"
  rm -rf "$TREE"
  cp -a "$SOURCE" "$TREE"
  (cd "$TREE" && ESTORM_LIB="$LIB" ESTORM_INCLUDE="$ROOT/sources/c/include" \
    ./configure --with-compat --add-dynamic-module="$MODULE_DIR" \
    --with-cc-opt="-O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2" \
    >"$CACHE/configure.log" 2>&1) || { tail -n 30 "$CACHE/configure.log" >&2; die "nginx's configure failed"; }
  printf '%s' "$want_stamp" >"$STAMP"
fi

# 4. The module. The archive is a link flag, not a make dependency: relink every time.
rm -f "$TREE/objs/ngx_http_eventstorm_module.so"
make -C "$TREE" -j "$JOBS" modules >"$CACHE/make.log" 2>&1 ||
  { grep -E "error|Error" -A3 "$CACHE/make.log" | head -n 40 >&2; die "make modules failed (see $CACHE/make.log)"; }
cp "$TREE/objs/ngx_http_eventstorm_module.so" "$OUT/ngx_http_eventstorm_module.so.tmp"
mv "$OUT/ngx_http_eventstorm_module.so.tmp" "$OUT/ngx_http_eventstorm_module.so"
echo "$OUT/ngx_http_eventstorm_module.so"
