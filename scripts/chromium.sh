#!/usr/bin/env bash
# Debian's chromium, for the dashboard's browser test (driven by playwright-core).
#
#   scripts/chromium.sh            install chromium if missing; prints its path
#
# Idempotent: returns at once when /usr/bin/chromium is there.
set -euo pipefail

BIN=/usr/bin/chromium

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: chromium is missing and installing it needs root" >&2
  exit 1
fi

lock_wait=(-o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: update once, then retry.
if ! apt-get install -y -q --no-install-recommends "${lock_wait[@]}" chromium fonts-dejavu-core \
  >/dev/null 2>&1; then
  apt-get update -q "${lock_wait[@]}" >/dev/null
  apt-get install -y -q --no-install-recommends "${lock_wait[@]}" chromium fonts-dejavu-core \
    >/dev/null
fi

[ -x "$BIN" ] || { echo "chromium.sh: installed, but $BIN is missing" >&2; exit 1; }
echo "$BIN"
