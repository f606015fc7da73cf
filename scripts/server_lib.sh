# Shell helpers of the scripts that run a test server (cassandra.sh, ferretdb.sh): sourced,
# not run.

# port_open PORT [ADDRESS]: succeeds once something accepts TCP connections there (default
# 127.0.0.1).
port_open() {
  (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
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

# pid_alive PIDFILE: the process the file names is running.
pid_alive() {
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}
