#!/usr/bin/env bash
# systemd-journal-remote for the journald source's tests: it writes real journal files
# from journal export streams (`systemd-journal-remote --output=FILE.journal EXPORT`).
#
#   scripts/journald.sh install     install journalctl and systemd-journal-remote if missing
#
# Idempotent: returns at once when both are there.
set -euo pipefail

die() {
  echo "journald.sh: $*" >&2
  exit 1
}

remote_bin() {
  for path in /lib/systemd/systemd-journal-remote /usr/lib/systemd/systemd-journal-remote; do
    [ -x "$path" ] && echo "$path" && return 0
  done
  return 0
}

cmd_install() {
  if [ -n "$(remote_bin)" ] && command -v journalctl >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || die "need root to install systemd-journal-remote"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get to install systemd-journal-remote"
  local lock_wait=(-o DPkg::Lock::Timeout=300)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${lock_wait[@]}" systemd systemd-journal-remote >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q "${lock_wait[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${lock_wait[@]}" systemd systemd-journal-remote >/dev/null
  fi
  [ -n "$(remote_bin)" ] || die "systemd-journal-remote did not install"
}

case "${1:-}" in
install) cmd_install ;;
remote-bin) remote_bin ;;
*)
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
