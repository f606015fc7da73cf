#!/usr/bin/env bash
# Debian's rsyslog for the syslog source's tests: a private instance that reads a
# /dev/log-like Unix socket and forwards everything over TCP with RFC 6587 framing.
#
#   scripts/rsyslog.sh install                  install rsyslog if missing (and keep the
#                                               package's own daemon stopped)
#   scripts/rsyslog.sh start DIR PORT [FRAMING [SOCKET]]
#                                               run rsyslogd with its config, state and
#                                               pid in DIR, reading SOCKET (default
#                                               DIR/log.sock; /dev/log for real programs),
#                                               forwarding to 127.0.0.1:PORT over TCP;
#                                               FRAMING octet-counted (default) or traditional
#   scripts/rsyslog.sh stop DIR                 stop the instance started in DIR
#
# Messages keep the timestamp their sender wrote and the host name "mx1"; rsyslog also
# writes them, in its traditional file format, to DIR/messages.log.
set -euo pipefail

die() {
  echo "rsyslog.sh: $*" >&2
  exit 1
}

bin() {
  command -v rsyslogd 2>/dev/null || { [ -x /usr/sbin/rsyslogd ] && echo /usr/sbin/rsyslogd; } || true
}

cmd_install() {
  [ -n "$(bin)" ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install rsyslog"
  local lock_wait=(-o DPkg::Lock::Timeout=300)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${lock_wait[@]}" rsyslog >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q "${lock_wait[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${lock_wait[@]}" rsyslog >/dev/null
  fi
  [ -n "$(bin)" ] || die "rsyslog did not install"
}

running() {
  [ -s "$1/rsyslogd.pid" ] && kill -0 "$(cat "$1/rsyslogd.pid")" 2>/dev/null
}

cmd_start() {
  local dir=${1:?DIR} port=${2:?PORT} framing=${3:-octet-counted} socket=${4:-}
  [ -n "$(bin)" ] || die "rsyslog is not installed (run: scripts/rsyslog.sh install)"
  mkdir -p "$dir/work"
  dir=$(cd "$dir" && pwd)
  socket=${socket:-$dir/log.sock}
  running "$dir" && return 0
  # Another syslog daemon's socket is not ours to take over.
  if [ -S "$socket" ] && [ "$socket" != "$dir/log.sock" ] &&
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.connect(sys.argv[1])' "$socket" 2>/dev/null; then
    die "$socket is in use by another syslog daemon"
  fi
  cat >"$dir/rsyslog.conf" <<CONF
# Written by scripts/rsyslog.sh for eventstorm tests.
global(workDirectory="$dir/work" localHostName="mx1")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$socket" IgnoreTimestamp="off" UseSysTimeStamp="off" CreatePath="on" Unlink="on")
*.* action(type="omfile" file="$dir/messages.log" template="RSYSLOG_TraditionalFileFormat")
*.* action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp"
           TCP_Framing="$framing" template="RSYSLOG_ForwardFormat"
           action.resumeRetryCount="-1" action.resumeInterval="1"
           queue.type="LinkedList" queue.size="100000")
CONF
  "$(bin)" -N1 -f "$dir/rsyslog.conf" >/dev/null 2>&1 || die "bad config $dir/rsyslog.conf"
  "$(bin)" -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid"
  local deadline=$((SECONDS + 20))
  while [ ! -S "$socket" ] && ((SECONDS < deadline)); do sleep 0.1; done
  [ -S "$socket" ] || die "rsyslogd did not create $socket"
  printf '%s\n' "$socket" >"$dir/socket"
}

cmd_stop() {
  local dir=${1:?DIR}
  [ -d "$dir" ] || return 0
  running "$dir" || return 0
  local pid
  pid=$(cat "$dir/rsyslogd.pid")
  kill -TERM "$pid"
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  # A socket left at a shared path (/dev/log) would take programs' messages nowhere.
  if [ -s "$dir/socket" ]; then rm -f "$(cat "$dir/socket")"; fi
}

case "${1:-}" in
install) cmd_install ;;
start) shift && cmd_install && cmd_start "$@" ;;
stop) cmd_stop "${2:?DIR}" ;;
*)
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
