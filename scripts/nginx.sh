#!/usr/bin/env bash
# nginx and goaccess for the nginx source's tests and benchmark.
#
#   scripts/nginx.sh install                 install nginx (light) and goaccess if missing
#   scripts/nginx.sh start DIR PORT BACKEND  run nginx with its prefix, config and logs in DIR,
#                                            the front on 127.0.0.1:PORT, a backend server
#                                            block on 127.0.0.1:BACKEND (proxied under /api/,
#                                            and under /multi/ after a dead upstream so that
#                                            $upstream_* hold lists)
#   scripts/nginx.sh reopen DIR              reopen the log files (what logrotate's postrotate does)
#   scripts/nginx.sh reload DIR              re-read the config (new workers, old ones finish)
#   scripts/nginx.sh stop DIR                stop the instance started in DIR
#
# With NGINX_SYSLOG=HOST:PORT (UDP) or NGINX_SYSLOG=unix:PATH (a Unix datagram socket) in the
# environment, `start` also sends the access log in the same format to syslog there, tag nginx.
#
# Everything is idempotent: `install` returns at once when both programs are there, `start`
# on a running instance does nothing, `stop` on a stopped one does nothing.
#
# The access log is DIR/access.log in the `eventstorm` format below; the same format is
# printed by `scripts/nginx.sh format`.
#
# Environment for `start`: NGINX_MAIN_CONF (directives before `events`, e.g. load_module),
# NGINX_HTTP_CONF (directives at the top of `http`), NGINX_SERVER_CONF (directives of the
# front server block), NGINX_WORKERS (default 1).
set -euo pipefail

LOG_FORMAT_NAME=eventstorm
# Keep in one line per string: the tests read this format back from DIR/nginx.conf.
LOG_FORMAT_LINES=(
  "'\$remote_addr - \$remote_user [\$time_local] \"\$request\" '"
  "'\$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\" '"
  "'rt=\$request_time uct=\"\$upstream_connect_time\" urt=\"\$upstream_response_time\" '"
  "'us=\"\$upstream_status\" \$request_length \$bytes_sent \$connection \$connection_requests \$msec'"
)

die() {
  echo "nginx.sh: $*" >&2
  exit 1
}

nginx_bin() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

apt_install() {
  local lock_wait=(-o DPkg::Lock::Timeout=300)
  # The package lists may be missing or stale on a fresh machine: update once, then retry.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${lock_wait[@]}" "$@" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q "${lock_wait[@]}" >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${lock_wait[@]}" "$@" >/dev/null
  fi
}

cmd_install() {
  local want=()
  [ -n "$(nginx_bin)" ] || want+=(nginx-light)
  command -v goaccess >/dev/null 2>&1 || want+=(goaccess)
  [ ${#want[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install ${want[*]}"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get to install ${want[*]}"
  if ! apt_install "${want[@]}"; then
    # Newer Debian releases fold nginx-light into nginx.
    [ -n "$(nginx_bin)" ] || apt_install nginx
    command -v goaccess >/dev/null 2>&1 || apt_install goaccess
  fi
  [ -n "$(nginx_bin)" ] || die "nginx did not install"
  command -v goaccess >/dev/null 2>&1 || die "goaccess did not install"
}

cmd_format() {
  printf '%s\n' "${LOG_FORMAT_LINES[@]}"
}

write_conf() {
  local dir=$1 port=$2 backend=$3 user_line=""
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  local indent=$'\n                     '
  local joined
  joined=$(printf "%s${indent}" "${LOG_FORMAT_LINES[@]}")
  joined=${joined%"$indent"}
  cat >"$dir/nginx.conf" <<EOF
# Written by scripts/nginx.sh for eventstorm tests.
$user_line
${NGINX_MAIN_CONF:-}
worker_processes ${NGINX_WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 256; }
http {
    # Everything the workers write stays under the instance's directory.
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;
    log_format $LOG_FORMAT_NAME $joined;
    access_log $dir/access.log $LOG_FORMAT_NAME;
    ${NGINX_SYSLOG:+access_log syslog:server=$NGINX_SYSLOG,tag=nginx $LOG_FORMAT_NAME;}
    keepalive_timeout 30s;
    ${NGINX_HTTP_CONF:-}

    upstream backend { server 127.0.0.1:$backend; }
    upstream multi {
        # The dead server is tried first (on most requests: it never gets marked down), so \$upstream_*
        # variables hold lists like "0.000, 0.001". Port 1 (tcpmux) is privileged and unused: a
        # free port picked at random may be bound meanwhile by another test's listener (a ZeroMQ
        # socket there answered with its greeting, which nginx passed on as an HTTP/0.9 reply).
        server 127.0.0.1:1 max_fails=0;
        server 127.0.0.1:$backend max_fails=0;
    }

    server {
        listen 127.0.0.1:$port;
        server_name front;
        ${NGINX_SERVER_CONF:-}
        location / { return 200 "front \$request_uri\n"; }
        location /missing/ { return 404; }
        location /api/ { proxy_pass http://backend; }
        location /multi/ { proxy_pass http://multi; }
    }
    server {
        listen 127.0.0.1:$backend;
        server_name backend;
        access_log off;
        location / { return 200 "backend \$request_uri\n"; }
        location /api/teapot { return 418 "teapot\n"; }
    }
}
EOF
}

wait_port() {
  local port=$1 deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

running() {
  local dir=$1
  [ -s "$dir/nginx.pid" ] && kill -0 "$(cat "$dir/nginx.pid")" 2>/dev/null
}

cmd_start() {
  local dir=${1:?DIR} port=${2:?PORT} backend=${3:?BACKEND}
  local bin
  bin=$(nginx_bin)
  [ -n "$bin" ] || die "nginx is not installed (run: scripts/nginx.sh install)"
  mkdir -p "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  running "$dir" && return 0
  write_conf "$dir" "$port" "$backend"
  "$bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -t -q ||
    die "bad config $dir/nginx.conf"
  "$bin" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
  wait_port "$port" || die "nginx did not listen on 127.0.0.1:$port (see $dir/error.log)"
  wait_port "$backend" || die "nginx did not listen on 127.0.0.1:$backend"
}

cmd_signal() {
  local dir=${1:?DIR} signal=$2
  dir=$(cd "$dir" && pwd)
  running "$dir" || return 0
  "$(nginx_bin)" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -s "$signal"
}

cmd_stop() {
  local dir=${1:?DIR}
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  running "$dir" || return 0
  local pid
  pid=$(cat "$dir/nginx.pid")
  cmd_signal "$dir" stop
  local deadline=$((SECONDS + 20))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
}

case "${1:-}" in
install) cmd_install ;;
format) cmd_format ;;
start) shift && cmd_install && cmd_start "$@" ;;
reopen) cmd_signal "${2:?DIR}" reopen ;;
reload) cmd_signal "${2:?DIR}" reload ;;
stop) cmd_stop "${2:?DIR}" ;;
*)
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
