#!/usr/bin/env bash
# A loopback-only Postfix for tests (Debian, run as root).
#
#   scripts/postfix.sh install        install postfix and pflogsumm if missing
#   scripts/postfix.sh start LOGFILE  empty the queue, configure, log to LOGFILE,
#                                     start or reload
#   scripts/postfix.sh start syslog   the same, logging through syslog(3) to /dev/log,
#                                     as Postfix does by default
#   scripts/postfix.sh stop           stop postfix
#
# Mail never leaves the machine: every non-local domain is routed to Postfix's own
# error/retry transports, so tests see real bounces and deferrals without traffic.
# Addresses: reject.test is refused at RCPT time; user@bounce.test is accepted,
# then bounces (it is an alias of an unknown local user); every other non-local
# domain is deferred (its relay, 127.0.0.1:1, refuses connections) until it expires
# after 5s and returns to the sender. Local names alice, bob, carol and rcpt,
# 1rcpt..3rcpt (as `smtp-source -r 3 -t rcpt@localhost` numbers them) are aliases of
# root; other local names are unknown (rejected over SMTP, bounced via sendmail).
set -euo pipefail

install() {
  if command -v postfix >/dev/null && command -v pflogsumm >/dev/null &&
    command -v smtp-source >/dev/null; then
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string localhost
SEL
  if ! apt-get install -y -q --no-install-recommends postfix pflogsumm >/tmp/postfix-install.log 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q --no-install-recommends postfix pflogsumm >/tmp/postfix-install.log 2>&1 || {
      tail -20 /tmp/postfix-install.log >&2
      exit 1
    }
  fi
  # The package may start postfix through its init script; tests start it themselves.
  postfix stop >/dev/null 2>&1 || true
}

configure() {
  local logfile=$1
  if [ "$logfile" = syslog ]; then
    postconf -e "maillog_file="
  else
    local logdir
    logdir=$(dirname "$logfile")
    mkdir -p "$logdir"
    postconf -e "maillog_file=$logfile" "maillog_file_prefixes=/var, /dev/stdout, $logdir"
  fi
  postconf -e \
    "inet_interfaces=loopback-only" \
    "inet_protocols=ipv4" \
    "myhostname=localhost" \
    "mydomain=localdomain" \
    "myorigin=localhost" \
    "mydestination=localhost, localhost.localdomain" \
    "mynetworks=127.0.0.0/8" \
    "relayhost=" \
    "alias_maps=hash:/etc/aliases, inline:{ {alice=root}, {bob=root}, {carol=root}, {rcpt=root}, {1rcpt=root}, {2rcpt=root}, {3rcpt=root} }" \
    "virtual_alias_domains=bounce.test" \
    "virtual_alias_maps=inline:{ {user@bounce.test=nosuchuser@localhost} }" \
    "alias_database=hash:/etc/aliases" \
    'local_recipient_maps=proxy:unix:passwd.byname $alias_maps' \
    "smtpd_recipient_restrictions=check_recipient_access inline:{ {reject.test=REJECT test domain refuses mail} }, permit_mynetworks, reject_unauth_destination" \
    "transport_maps=" \
    "default_transport=smtp:[127.0.0.1]:1" \
    "relay_transport=smtp:[127.0.0.1]:1" \
    "maximal_queue_lifetime=5s" \
    "bounce_queue_lifetime=5s" \
    "smtpd_banner=\$myhostname ESMTP" \
    "biff=no" \
    "queue_run_delay=1s" \
    "minimal_backoff_time=1s" \
    "maximal_backoff_time=2s" \
    "compatibility_level=3.6"
  # Run every service outside the chroot: `postfix start` does not copy
  # /etc/resolv.conf and friends into the spool as Debian's init script does.
  postconf -F '*/*/chroot = n'
  if ! postconf -M postlog/unix-dgram >/dev/null 2>&1 || [ -z "$(postconf -M postlog/unix-dgram)" ]; then
    postconf -M postlog/unix-dgram="postlog unix-dgram n - n - 1 postlogd"
  fi
  [ -f /etc/aliases ] || echo "postmaster: root" >/etc/aliases
  newaliases
}

running() {
  postfix status >/dev/null 2>&1
}

case "${1:-}" in
install)
  install
  ;;
start)
  [ -n "${2:-}" ] || { echo "usage: $0 start LOGFILE|syslog" >&2; exit 2; }
  install
  # Mail left over from an earlier run would add lines the caller did not cause.
  postsuper -d ALL >/dev/null 2>&1 || true
  configure "$2"
  # postlogd or syslog(3) is chosen when the daemons start: a switch needs a restart.
  if running; then postfix stop >/dev/null 2>&1 || true; fi
  postfix start >/dev/null 2>&1
  # Wait until smtpd accepts connections.
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then exit 0; fi
    sleep 0.1
  done
  echo "postfix did not start listening on 127.0.0.1:25" >&2
  exit 1
  ;;
stop)
  if command -v postfix >/dev/null && running; then postfix stop >/dev/null 2>&1; fi
  ;;
*)
  echo "usage: $0 install | start LOGFILE|syslog | stop" >&2
  exit 2
  ;;
esac
