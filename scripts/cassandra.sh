#!/usr/bin/env bash
# Apache Cassandra (one node or a small cluster, loopback) for the cassandra sink tests.
#
#   scripts/cassandra.sh install          fetch the server jars once into the cache; prints lib dir
#   scripts/cassandra.sh start DIR PORT   run a node with CQL on 127.0.0.1:PORT, state in DIR
#   scripts/cassandra.sh stop DIR         stop the node started with DIR
#   scripts/cassandra.sh cluster start DIR PORT [NODES]
#                                         NODES nodes (default 2, at most 9) on 127.0.0.1,
#                                         127.0.0.2, ... each with CQL on PORT, state in
#                                         DIR/node1, ...; reuses the nodes already running there
#                                         with the same settings and starts only those that are
#                                         not (so it also restarts a killed node)
#   scripts/cassandra.sh cluster stop DIR stop every node of the cluster in DIR
#   scripts/cassandra.sh cluster pid DIR I
#                                         the pid of node I (1-based), for tests that signal it
#
# The jars come from Maven Central (cassandra-all and its runtime dependencies); the config
# templates and JVM flags live in scripts/cassandra/, so no Cassandra distribution is needed.
set -euo pipefail

CASSANDRA_VERSION="${CASSANDRA_VERSION:-5.0.9}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF="$HERE/cassandra"
# shellcheck source=server_lib.sh
source "$HERE/server_lib.sh"
CACHE="${EVENTSTORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventstorm}"
LIB="$CACHE/cassandra/$CASSANDRA_VERSION/lib"
HEAP="${CASSANDRA_HEAP:-768m}"
# Per node of a cluster: two JVMs share a test machine with everything else.
CLUSTER_HEAP="${CASSANDRA_CLUSTER_HEAP:-512m}"

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

# cql_answers PORT [ADDRESS]: succeeds when the port speaks CQL: an OPTIONS request
# (protocol v4) gets a SUPPORTED reply.
cql_answers() {
  local reply
  reply="$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1" || exit 1
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

start() {
  local dir="${1:?usage: start DIR PORT}" port="${2:?usage: start DIR PORT}"
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  install >/dev/null
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local pidfile="$dir/cassandra.pid"
  if pid_alive "$pidfile"; then
    die "already running with pid $(cat "$pidfile") in $dir"
  fi
  if port_open "$port"; then
    die "port $port is already in use"
  fi
  local storage_port
  storage_port="$(free_port)"
  launch "$dir" 127.0.0.1 "$port" "$storage_port" "127.0.0.1:$storage_port" 0 "$HEAP"
  watch_owner "$(cat "$pidfile")"
  await_cql "$dir" 127.0.0.1 "$port"
  echo "cassandra $CASSANDRA_VERSION answering CQL on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

# launch DIR ADDRESS PORT STORAGE_PORT SEEDS TOKEN HEAP: starts a node in the background and
# writes DIR/cassandra.pid; await_cql waits for it.
launch() {
  local dir="$1" address="$2" port="$3" storage_port="$4" seeds="$5" token="$6" heap="$7"
  local pidfile="$dir/cassandra.pid" log="$dir/cassandra.log"
  mkdir -p "$dir"/{data,commitlog,hints,saved_caches,cdc_raw,triggers,tmp}
  sed -e "s|@DIR@|$dir|g" -e "s|@NATIVE_PORT@|$port|g" -e "s|@STORAGE_PORT@|$storage_port|g" \
    -e "s|@ADDRESS@|$address|g" -e "s|@SEEDS@|$seeds|g" -e "s|@TOKEN@|$token|g" \
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
  # java.io.tmpdir: the compression libraries it unpacks (lz4, snappy) stay in DIR too.
  (
    cd "$dir"
    exec nohup java "${jvm[@]}" \
      -Xms"$heap" -Xmx"$heap" \
      -Dcassandra.config="file://$dir/cassandra.yaml" \
      -Dcassandra.storagedir="$dir" \
      -Dcassandra.logdir="$dir" \
      -Dcassandra.triggers_dir="$dir/triggers" \
      -Djava.io.tmpdir="$dir/tmp" \
      -Dlogback.configurationFile="$CONF/logback.xml" \
      -Dcassandra-foreground=yes \
      -Dcassandra.skip_wait_for_gossip_to_settle=0 \
      -Dcassandra.superuser_setup_delay_ms=0 \
      -Dcassandra.shutdown_announce_in_ms=0 \
      "${extra[@]}" \
      -cp "$LIB/*" \
      org.apache.cassandra.service.CassandraDaemon \
      </dev/null >"$log" 2>&1
  ) &
  echo $! >"$pidfile"
}

# await_cql DIR ADDRESS PORT: waits until the node in DIR answers CQL; stops it when it cannot.
await_cql() {
  local dir="$1" address="$2" port="$3"
  local pidfile="$dir/cassandra.pid" log="$dir/cassandra.log"
  local deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180}))
  until cql_answers "$port" "$address"; do
    if ! pid_alive "$pidfile"; then
      tail -n 30 "$log" >&2 || true
      rm -f "$pidfile"
      die "cassandra exited during startup (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$log" >&2 || true
      stop "$dir"
      die "cassandra did not answer CQL on $address:$port in time (log: $log)"
    fi
    sleep 0.5
  done
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

# The loopback address of node I of a cluster.
node_address() {
  echo "127.0.0.$1"
}

# Linux routes all of 127.0.0.0/8 to lo; where that is not so, add the address (needs root).
ensure_address() {
  command -v ip >/dev/null || return 0
  if [[ "$(ip route get "$1" 2>/dev/null)" == local* ]]; then return 0; fi
  ip addr add "$1/8" dev lo 2>/dev/null || die "cannot use $1: add it with 'ip addr add $1/8 dev lo'"
}

# What decides whether a running cluster can be reused.
cluster_settings() {
  local nodes="$1" port="$2"
  echo "version=$CASSANDRA_VERSION nodes=$nodes port=$port heap=$CLUSTER_HEAP" \
    "jvm=${CASSANDRA_JVM_OPTS:-} conf=$(cat "$CONF/cassandra.yaml.in" "$CONF/jvm17.options" |
      cksum | cut -d' ' -f1)"
}

# Node I's token: the ring split evenly, so each node owns the same share (num_tokens is 1).
node_token() {
  local i="$1" nodes="$2" step token=-9223372036854775807 k
  step=$((9223372036854775807 / nodes * 2))
  token=$((token - 1))
  for ((k = 1; k < i; k++)); do token=$((token + step)); done
  echo "$token"
}

# With EVENTSTORM_OWNER_PID set, the cluster stops CASSANDRA_CLUSTER_LINGER seconds (default
# 600) after its last owner is gone, so a rerun within that time finds it still running and
# a test run that dies leaves nothing behind for long. Each reusing start takes ownership.
cluster_watch() {
  local dir="$1"
  [[ -n "${EVENTSTORM_OWNER_PID:-}" ]] || return 0
  echo "$EVENTSTORM_OWNER_PID" >"$dir/owner"
  if pid_alive "$dir/watcher.pid"; then return 0; fi
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  nohup bash -c 'script="$0" dir="$1" linger="$2" last=$SECONDS
    while ((SECONDS - last < linger)); do
      owner="$(cat "$dir/owner" 2>/dev/null)"
      if [[ -n "$owner" ]] && kill -0 "$owner" 2>/dev/null; then last=$SECONDS; fi
      sleep 2
    done
    rm -f "$dir/watcher.pid"
    bash "$script" cluster stop "$dir"' "${BASH_SOURCE[0]}" "$dir" \
    "${CASSANDRA_CLUSTER_LINGER:-600}" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watcher.pid"
}

# Whether every other node shows as UP in the log of node I (the last word on each peer).
sees_peers() {
  local dir="$1" i="$2" nodes="$3" storage_port="$4" j state
  for ((j = 1; j <= nodes; j++)); do
    ((j == i)) && continue
    state="$(grep -o "/$(node_address "$j"):$storage_port is now [A-Z]*" \
      "$dir/node$i/cassandra.log" 2>/dev/null | tail -n 1)"
    [[ "$state" == *UP ]] || return 1
  done
}

cluster_start() {
  local dir="${1:?usage: cluster start DIR PORT [NODES]}" port="${2:?usage: cluster start DIR PORT [NODES]}"
  local nodes="${3:-2}" i
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
  [[ "$nodes" =~ ^[1-9]$ ]] || die "NODES must be 1 to 9, got $nodes"
  install >/dev/null
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  local settings
  settings="$(cluster_settings "$nodes" "$port")"
  if [[ -f "$dir/cluster.conf" && "$(head -n 1 "$dir/cluster.conf")" != "$settings" ]]; then
    echo "cassandra.sh: settings changed, starting the cluster in $dir afresh" >&2
    cluster_stop "$dir"
    rm -rf "$dir"/node* "$dir/cluster.conf"
  fi
  local storage_port
  if [[ -f "$dir/cluster.conf" ]]; then
    storage_port="$(sed -n 2p "$dir/cluster.conf")"
  else
    for ((i = 1; i <= nodes; i++)); do ensure_address "$(node_address "$i")"; done
    storage_port="$(free_port)"
    printf '%s\n%s\n' "$settings" "$storage_port" >"$dir/cluster.conf"
  fi
  local seeds="" address
  for ((i = 1; i <= nodes; i++)); do seeds+="${seeds:+,}$(node_address "$i"):$storage_port"; done

  # Every node is a seed and none bootstraps, so all of them start at once.
  local -a started=()
  for ((i = 1; i <= nodes; i++)); do
    address="$(node_address "$i")"
    if pid_alive "$dir/node$i/cassandra.pid"; then continue; fi
    if port_open "$port" "$address"; then die "port $port is already in use on $address"; fi
    mkdir -p "$dir/node$i"
    launch "$dir/node$i" "$address" "$port" "$storage_port" "$seeds" \
      "$(node_token "$i" "$nodes")" "$CLUSTER_HEAP"
    started+=("$i")
  done
  cluster_watch "$dir"
  for i in "${started[@]}"; do
    await_cql "$dir/node$i" "$(node_address "$i")" "$port"
  done
  local deadline=$((SECONDS + ${CASSANDRA_START_TIMEOUT:-180})) all
  while :; do
    all=1
    for ((i = 1; i <= nodes; i++)); do
      sees_peers "$dir" "$i" "$nodes" "$storage_port" || all=0
    done
    ((all)) && break
    ((SECONDS < deadline)) || die "the nodes in $dir did not all see each other in time"
    sleep 0.5
  done
  local points=""
  for ((i = 1; i <= nodes; i++)); do points+="${points:+,}$(node_address "$i"):$port"; done
  echo "cassandra $CASSANDRA_VERSION cluster of $nodes answering CQL on $points" \
    "(started: ${started[*]:-none})"
}

cluster_stop() {
  local dir="${1:?usage: cluster stop DIR}" node
  if pid_alive "$dir/watcher.pid"; then kill "$(cat "$dir/watcher.pid")" 2>/dev/null || true; fi
  rm -f "$dir/watcher.pid" "$dir/owner"
  for node in "$dir"/node*; do
    [[ -d "$node" ]] || continue
    # A stopped (SIGSTOP) node cannot handle SIGTERM.
    if pid_alive "$node/cassandra.pid"; then kill -CONT "$(cat "$node/cassandra.pid")" 2>/dev/null || true; fi
    stop "$node" &
  done
  wait
}

cluster() {
  case "${1:-}" in
  start)
    shift
    cluster_start "$@"
    ;;
  stop)
    shift
    cluster_stop "$@"
    ;;
  pid)
    local pidfile="${2:?usage: cluster pid DIR I}/node${3:?usage: cluster pid DIR I}/cassandra.pid"
    pid_alive "$pidfile" || die "node $3 is not running in $2"
    cat "$pidfile"
    ;;
  *) die "usage: $0 cluster start DIR PORT [NODES] | cluster stop DIR | cluster pid DIR I" ;;
  esac
}

case "${1:-}" in
install) install ;;
cluster)
  shift
  cluster "$@"
  ;;
start)
  shift
  start "$@"
  ;;
stop)
  shift
  stop "$@"
  ;;
*) die "usage: $0 install | start DIR PORT | stop DIR | cluster start|stop|pid ..." ;;
esac
