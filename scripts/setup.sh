#!/usr/bin/env bash
# Installs everything the test suite talks to: libzmq (the tests load both the system
# library and the copy inside npm zeromq), nginx + goaccess, Postfix + pflogsumm,
# Chromium, a C compiler and Ruby for the protocol clients, FerretDB (built from the
# Go module proxy) and Cassandra (jars from Maven Central). Idempotent and quick when
# everything is already there. Needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }
started=$(date +%s)

# The Go and Maven downloads do not need apt: run them beside it.
log "FerretDB and Cassandra in the background"
bash scripts/ferretdb.sh install >/tmp/eventstorm-setup-ferretdb.log 2>&1 &
ferretdb_pid=$!
bash scripts/cassandra.sh install >/tmp/eventstorm-setup-cassandra.log 2>&1 &
cassandra_pid=$!

if ! dpkg -s libzmq5 >/dev/null 2>&1; then
  log "libzmq5"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq || true
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq libzmq5 >/dev/null
fi
# `ip`, for the Cassandra cluster's loopback addresses where 127.0.0.0/8 is not all local.
if ! command -v ip >/dev/null; then
  log "iproute2"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq iproute2 >/dev/null ||
    { apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq iproute2 >/dev/null; }
fi
log "nginx and goaccess"
bash scripts/nginx.sh install
log "nginx module build tools and nginx's source entry"
bash scripts/nginx_module.sh install
log "postfix and pflogsumm"
bash scripts/postfix.sh install
log "systemd-journal-remote (journald source tests)"
bash scripts/journald.sh install
log "rsyslog (syslog source tests)"
bash scripts/rsyslog.sh install
log "chromium"
bash scripts/chromium.sh install
log "C and Ruby protocol clients"
bash scripts/clients.sh

status=0
wait "$ferretdb_pid" || { log "FerretDB install failed:"; tail -n 20 /tmp/eventstorm-setup-ferretdb.log >&2; status=1; }
wait "$cassandra_pid" || { log "Cassandra install failed:"; tail -n 20 /tmp/eventstorm-setup-cassandra.log >&2; status=1; }
log "done in $(($(date +%s) - started))s"
exit "$status"
