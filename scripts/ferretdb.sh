#!/usr/bin/env bash
# FerretDB (MongoDB wire protocol over SQLite) for the mongodb sink tests.
#
#   scripts/ferretdb.sh install          build the binary once into the cache; prints its path
#   scripts/ferretdb.sh start DIR PORT   run it on 127.0.0.1:PORT with its state in DIR
#   scripts/ferretdb.sh stop DIR         stop the instance started with DIR
#
# The binary comes from the Go module proxy. Go >= 1.24 records the tool's own module as the
# main module, so FerretDB's version check then demands build/version/version.txt, a file the
# module zip lacks; we build from a vendored copy with that file added.
set -euo pipefail

FERRETDB_VERSION="v1.24.2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=server_lib.sh
source "$HERE/server_lib.sh"
CACHE="${EVENTSTORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventstorm}"
BIN="$CACHE/bin/ferretdb-$FERRETDB_VERSION"

die() {
  echo "ferretdb.sh: $*" >&2
  exit 1
}

install() {
  if [[ -x "$BIN" ]]; then
    echo "$BIN"
    return
  fi
  command -v go >/dev/null || die "go is not on PATH"
  mkdir -p "$CACHE/bin"
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" RETURN
  (
    cd "$work"
    export GOFLAGS="-buildvcs=false" GOWORK=off
    go mod init eventstorm.local/ferretdb-build >/dev/null 2>&1
    go get -tool "github.com/FerretDB/FerretDB/cmd/ferretdb@$FERRETDB_VERSION"
    go mod vendor
    echo "$FERRETDB_VERSION" >vendor/github.com/FerretDB/FerretDB/build/version/version.txt
    go build -mod=vendor -trimpath -o "$BIN.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
  ) >&2 || die "build failed"
  mv "$BIN.tmp" "$BIN"
  "$BIN" --version >/dev/null || die "built binary does not run"
  echo "$BIN"
}

start() {
  local dir="${1:?usage: start DIR PORT}" port="${2:?usage: start DIR PORT}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  install >/dev/null
  mkdir -p "$dir/sqlite"
  dir="$(cd "$dir" && pwd)"
  local pidfile="$dir/ferretdb.pid" log="$dir/ferretdb.log"
  if pid_alive "$pidfile"; then
    die "already running with pid $(cat "$pidfile") in $dir"
  fi
  if port_open "$port"; then
    die "port $port is already in use"
  fi
  # --debug-addr=- : the default debug listener (127.0.0.1:8088) would clash between instances.
  cd "$dir"
  nohup "$BIN" \
    --handler=sqlite \
    --sqlite-url="file:$dir/sqlite/" \
    --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=WARN \
    </dev/null >"$log" 2>&1 &
  echo $! >"$pidfile"
  watch_owner "$(cat "$pidfile")"
  local deadline=$((SECONDS + ${FERRETDB_START_TIMEOUT:-60}))
  until port_open "$port"; do
    if ! pid_alive "$pidfile"; then
      tail -n 20 "$log" >&2 || true
      rm -f "$pidfile"
      die "ferretdb exited during startup (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      stop "$dir"
      die "ferretdb did not listen on port $port in time (log: $log)"
    fi
    sleep 0.2
  done
  echo "ferretdb $FERRETDB_VERSION listening on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

stop() {
  local dir="${1:?usage: stop DIR}"
  local pidfile="$dir/ferretdb.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
install) install ;;
start)
  shift
  start "$@"
  ;;
stop)
  shift
  stop "$@"
  ;;
*) die "usage: $0 install | start DIR PORT | stop DIR" ;;
esac
