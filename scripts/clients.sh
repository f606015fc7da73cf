#!/usr/bin/env bash
# What the foreign-language protocol clients need: a C compiler with libzmq's and libbson's
# headers, CMake and pkg-config (libeventstorm, sources/c), clang with libFuzzer (its decoder's
# coverage-guided fuzz test), Ruby with the ffi-rzmq and bson gems from Debian (the Ruby
# example of docs/protocol.md), and pyzmq from PyPI (an independent CURVE peer: its wheel
# carries its own libzmq); ab and wrk for the Ruby benchmark.
#
#   scripts/clients.sh            install them if missing
#
# Idempotent: returns at once when everything is there.
set -euo pipefail

have_all() {
  command -v cc >/dev/null && [ -f /usr/include/zmq.h ] &&
    [ -f /usr/include/libbson-1.0/bson/bson.h ] && command -v cmake >/dev/null &&
    command -v pkg-config >/dev/null && command -v clang-14 >/dev/null &&
    [ -f "$(clang-14 -print-file-name=libclang_rt.fuzzer-$(uname -m).a)" ] &&
    ruby -e 'require "ffi-rzmq"; require "bson"; require "rack"; require "puma"; require "webrick"' \
      >/dev/null 2>&1 && command -v rspec >/dev/null && command -v ab >/dev/null &&
    command -v wrk >/dev/null &&
    python3 -c 'import zmq.auth' >/dev/null 2>&1
}

have_all && exit 0

install_pyzmq() {
  python3 -c 'import zmq.auth' >/dev/null 2>&1 ||
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore pyzmq >/dev/null
}

if [ "$(id -u)" != 0 ]; then
  echo "clients.sh: the C toolchain (gcc, clang-14 with libFuzzer, libzmq3-dev, libbson-dev, cmake, pkg-config), Ruby and its gems (ffi-rzmq, bson, rspec, rack, webrick, puma), ab or wrk are missing and installing them needs root" >&2
  exit 1
fi

packages=(gcc libc6-dev clang-14 libclang-rt-14-dev libzmq3-dev libbson-dev cmake pkg-config
  ruby ruby-ffi-rzmq ruby-bson ruby-rspec ruby-rack ruby-webrick puma apache2-utils wrk)
lock_wait=(-o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive
install_pyzmq
# The package lists may be missing or stale on a fresh machine: update once, then retry.
if ! apt-get install -y -q --no-install-recommends "${lock_wait[@]}" "${packages[@]}" \
  >/dev/null 2>&1; then
  apt-get update -q "${lock_wait[@]}" >/dev/null
  apt-get install -y -q --no-install-recommends "${lock_wait[@]}" "${packages[@]}" >/dev/null
fi
have_all
