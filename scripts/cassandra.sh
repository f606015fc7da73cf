#!/usr/bin/env bash
# Apache Cassandra (single node, loopback) for the cassandra sink tests.
#
#   scripts/cassandra.sh install          fetch the server jars once into the cache; prints lib dir
#   scripts/cassandra.sh start DIR PORT   run a node with CQL on 127.0.0.1:PORT, state in DIR
#   scripts/cassandra.sh stop DIR         stop the node started with DIR
#
# The jars come from Maven Central (cassandra-all and its runtime dependencies); the config
# templates and JVM flags live in scripts/cassandra/, so no Cassandra distribution is needed.
set -euo pipefail

CASSANDRA_VERSION="${CASSANDRA_VERSION:-5.0.9}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF="$HERE/cassandra"
CACHE="${EVENTSTORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventstorm}"
LIB="$CACHE/cassandra/$CASSANDRA_VERSION/lib"
HEAP="${CASSANDRA_HEAP:-768m}"

die() {
  echo "cassandra.sh: $*" >&2
  exit 1
}

install() {
  if [[ -f "$LIB/.complete" ]]; then
    echo "$LIB"
    return
  fi
  command -v mvn >/dev/null || die "mvn is not on PATH"
  command -v java >/dev/null || die "java is not on PATH"
  rm -rf "$LIB"
  mkdir -p "$LIB"
  mvn -B -q -f "$CONF/pom.xml" \
    -Dcassandra.version="$CASSANDRA_VERSION" \
    dependency:copy-dependencies \
    -DincludeScope=runtime \
    -DoutputDirectory="$LIB" >&2 || die "maven could not fetch cassandra-all $CASSANDRA_VERSION"
  # Native builds for other platforms are dead weight on the classpath.
  find "$LIB" \( -name '*-osx-*.jar' -o -name '*-windows-*.jar' \) -delete
  [[ -f "$LIB/cassandra-all-$CASSANDRA_VERSION.jar" ]] || die "cassandra-all jar missing"
  touch "$LIB/.complete"
  echo "$LIB"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Succeeds when the port speaks CQL: an OPTIONS request (protocol v4) gets a SUPPORTED reply.
cql_answers() {
  local reply
  reply="$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf '\x04\x00\x00\x00\x05\x00\x00\x00\x00' >&3
    timeout 5 head -c 9 <&3 | od -An -tx1 | tr -d ' \n'
  )" || return 1
  # Header: version 0x84 (response, v4), flags, stream 0000, opcode 0x06 SUPPORTED.
  [[ "$reply" == 84??000006* ]]
}

# A port nobody listens on, for the inter-node storage port that tests never see.
free_port() {
  local p tries
  for ((tries = 0; tries < 50; tries++)); do
    p=$((20000 + RANDOM % 30000))
    if ! port_open "$p"; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

# With EVENTSTORM_OWNER_PID set, the server is stopped once that process is gone, so a test
# run that dies before its cleanup leaves no server behind.
watch_owner() {
  local owner="${EVENTSTORM_OWNER_PID:-}" pid="$1"
  [[ -n "$owner" ]] || return 0
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  nohup bash -c 'while kill -0 "$0" && kill -0 "$1"; do sleep 2; done 2>/dev/null
    kill -TERM "$1" 2>/dev/null' "$owner" "$pid" </dev/null >/dev/null 2>&1 &
}

pid_alive() {
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

start() {
  local dir="${1:?usage: start DIR PORT}" port="${2:?usage: start DIR PORT}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  install >/dev/null
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local pidfile="$dir/cassandra.pid" log="$dir/cassandra.log"
  if pid_alive "$pidfile"; then
    die "already running with pid $(cat "$pidfile") in $dir"
  fi
  if port_open "$port"; then
    die "port $port is already in use"
  fi
  mkdir -p "$dir"/{data,commitlog,hints,saved_caches,cdc_raw,triggers}
  local storage_port
  storage_port="$(free_port)"
  sed -e "s|@DIR@|$dir|g" -e "s|@NATIVE_PORT@|$port|g" -e "s|@STORAGE_PORT@|$storage_port|g" \
    "$CONF/cassandra.yaml.in" >"$dir/cassandra.yaml"

  local -a jvm=()
  local line
  while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    jvm+=("$line")
  done <"$CONF/jvm17.options"
  local jamm
  jamm="$(find "$LIB" -maxdepth 1 -name 'jamm-*.jar' | head -n 1)"
  [[ -n "$jamm" ]] && jvm+=("-javaagent:$jamm")
  # Extra flags for experiments, split on whitespace.
  local -a extra=()
  read -r -a extra <<<"${CASSANDRA_JVM_OPTS:-}"

  # No JMX port is configured, so Cassandra starts no JMX server and parallel nodes cannot clash.
  # Run from DIR so crash files (hs_err_pid*.log) land there, not in the caller's directory.
  cd "$dir"
  nohup java "${jvm[@]}" \
    -Xms"$HEAP" -Xmx"$HEAP" \
    -Dcassandra.config="file://$dir/cassandra.yaml" \
    -Dcassandra.storagedir="$dir" \
    -Dcassandra.logdir="$dir" \
    -Dcassandra.triggers_dir="$dir/triggers" \
    -Dlogback.configurationFile="$CONF/logback.xml" \
    -Dcassandra-foreground=yes \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.superuser_setup_delay_ms=0 \
    -Dcassandra.shutdown_announce_in_ms=0 \
    "${extra[@]}" \
    -cp "$LIB/*" \
    org.apache.cassandra.service.CassandraDaemon \
    </dev/null >"$log" 2>&1 &
  echo $! >"$pidfile"
  watch_owner "$(cat "$pidfile")"

  local deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180}))
  until cql_answers "$port"; do
    if ! pid_alive "$pidfile"; then
      tail -n 30 "$log" >&2 || true
      rm -f "$pidfile"
      die "cassandra exited during startup (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$log" >&2 || true
      stop "$dir"
      die "cassandra did not answer CQL on port $port in time (log: $log)"
    fi
    sleep 0.5
  done
  echo "cassandra $CASSANDRA_VERSION answering CQL on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

stop() {
  local dir="${1:?usage: stop DIR}"
  local pidfile="$dir/cassandra.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + ${CASSANDRA_STOP_TIMEOUT:-30}))
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
