#!/usr/bin/env bash
# What sources/nginx/module/build.sh needs to build ngx_http_eventstorm_module for the
# installed nginx: a C toolchain, the headers nginx's configure and libeventstorm want
# (PCRE2, zlib, OpenSSL, libzmq, libbson), dpkg-dev for `apt-get source`, a deb-src entry
# for the running Debian suite, and ab (apache2-utils) for the module's benchmark; and what
# scripts/libzmq.sh needs besides: a C++ compiler and libsodium's headers.
#
#   scripts/nginx_module.sh install     install them if missing (root)
#   scripts/nginx_module.sh source DIR  unpack Debian's source of the installed nginx under
#                                       DIR (once; prints the nginx-X.Y.Z directory)
#
# Idempotent: `install` returns at once when everything is there; `source` reuses DIR.
set -euo pipefail

PACKAGES=(gcc make cmake libc6-dev libpcre2-dev zlib1g-dev libssl-dev libzmq3-dev libbson-dev
  dpkg-dev pkg-config apache2-utils curl g++ libsodium-dev)
SOURCES_FILE=/etc/apt/sources.list.d/eventstorm-deb-src.sources

die() {
  echo "nginx_module.sh: $*" >&2
  exit 1
}

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

suite() {
  # shellcheck disable=SC1091
  (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

has_deb_src() {
  grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}

add_deb_src() {
  local codename
  codename=$(suite)
  [ -n "$codename" ] || die "cannot tell the Debian suite from /etc/os-release"
  cat >"$SOURCES_FILE" <<EOF
# Written by eventstorm's scripts/nginx_module.sh: Debian's source packages, so that the
# nginx module can be built against the source of the installed nginx.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@"
}

cmd_install() {
  local want
  mapfile -t want < <(missing_packages)
  if [ ${#want[@]} -eq 0 ] && has_deb_src; then return 0; fi
  [ "$(id -u)" = 0 ] || die "need root to install ${want[*]:-a deb-src entry}"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get (the module is built from Debian's nginx source)"
  local updated=0
  if ! has_deb_src; then
    add_deb_src
    apt update >/dev/null
    updated=1
  fi
  [ ${#want[@]} -eq 0 ] && return 0
  if ! apt install -y --no-install-recommends "${want[@]}" >/dev/null 2>&1; then
    [ "$updated" = 1 ] || apt update >/dev/null
    apt install -y --no-install-recommends "${want[@]}" >/dev/null
  fi
}

nginx_bin() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

cmd_source() {
  local dir=${1:?DIR} bin version source_version
  bin=$(nginx_bin)
  [ -n "$bin" ] || die "nginx is not installed (run: scripts/nginx.sh install)"
  version=$("$bin" -v 2>&1 | sed -n 's|^nginx version: nginx/\([0-9.]*\).*|\1|p')
  [ -n "$version" ] || die "cannot read the version of $bin"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/nginx-$version/configure" ]; then
    echo "$dir/nginx-$version"
    return 0
  fi
  # The Debian revision of the binary's package, so the source carries the same patches.
  local package
  package=$(dpkg-query -S "$bin" 2>/dev/null | cut -d: -f1 | head -n 1)
  source_version=$(dpkg-query -W -f='${source:Version}' "${package:-nginx}" 2>/dev/null || true)
  local work candidates=() v unpacked=""
  work=$(mktemp -d "$dir/.fetch.XXXXXX")
  # The exact revision first; a mirror may lack it (security pool), then another
  # revision of the same upstream version: Debian's patches do not touch the module ABI.
  [ -n "$source_version" ] && candidates+=("$source_version")
  mapfile -t -O "${#candidates[@]}" candidates < <(apt-cache showsrc nginx 2>/dev/null |
    sed -n "s/^Version: \($version-.*\)/\1/p" | grep -vxF "${source_version:-none}" || true)
  for v in "${candidates[@]}"; do
    rm -f "$work"/*.dsc
    if (cd "$work" && apt-get source -q --download-only "nginx=$v" >/dev/null 2>&1) &&
      (cd "$work" && dpkg-source -x --no-check ./*.dsc "nginx-$version" >/dev/null 2>&1); then
      unpacked=1
      break
    fi
    rm -rf "${work:?}/nginx-$version"
  done
  if [ -z "$unpacked" ] && [ -f "$work/nginx_$version.orig.tar.gz" ]; then
    # Only the upstream tarball came through: the same nginx release without Debian's patches.
    tar -xzf "$work/nginx_$version.orig.tar.gz" -C "$work" && unpacked=1
  fi
  [ -n "$unpacked" ] ||
    { rm -rf "$work"; die "apt-get source nginx $version failed (is there a deb-src entry? run: $0 install)"; }
  rm -rf "${dir:?}/nginx-$version"
  mv "$work/nginx-$version" "$dir/nginx-$version"
  rm -rf "$work"
  [ -f "$dir/nginx-$version/configure" ] || die "no configure in $dir/nginx-$version"
  echo "$dir/nginx-$version"
}

case "${1:-}" in
install) cmd_install ;;
source) shift && cmd_source "$@" ;;
*)
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
