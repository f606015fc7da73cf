#!/usr/bin/env bash
# A small fleet of network namespaces on one machine, for tests/fleet_test.ts (needs root).
#
#   scripts/fleet.sh up PREFIX NET NAME...
#       a bridge PREFIX-br in the root namespace with NET.1/24, and per NAME a namespace
#       PREFIX-NAME joined to the bridge by a veth pair (PREFIX-vI in the root namespace, eth0
#       inside) with NET.(10+I)/24, I from 1; prints "NAME ADDRESS" per namespace.
#       NET is three octets, e.g. 10.77.3. Whatever an earlier run left under PREFIX is removed
#       first, so `up` can be repeated.
#   scripts/fleet.sh down PREFIX
#       removes every namespace PREFIX-* and link PREFIX-* (also what a crashed run left).
#   scripts/fleet.sh cut PREFIX I | mend PREFIX I
#       takes the root-side end of namespace I's veth down (or up again): the host is cut off
#       the network as if its cable were pulled, without it being told.
set -euo pipefail

die() {
  echo "fleet.sh: $*" >&2
  exit 2
}

check_prefix() {
  # Link names have at most 15 bytes: PREFIX-br, PREFIX-v99.
  [[ "$1" =~ ^[a-z][a-z0-9]{0,9}$ ]] || die "bad prefix (a-z0-9, at most 10): $1"
}

down() {
  local prefix="$1" ns link
  check_prefix "$prefix"
  for ns in $(ip netns list | awk '{print $1}'); do
    if [[ "$ns" == "$prefix-"* ]]; then
      # Whatever still runs inside would keep the namespace's sockets alive.
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      ip netns delete "$ns"
    fi
  done
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
    if [[ "$link" == "$prefix-"* ]]; then ip link delete "$link" 2>/dev/null || true; fi
  done
}

up() {
  local prefix="$1" net="$2"
  shift 2
  check_prefix "$prefix"
  [[ "$net" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "bad NET (three octets): $net"
  (($# > 0 && $# <= 200)) || die "give 1 to 200 namespace names"
  down "$prefix"
  ip link add "$prefix-br" type bridge
  ip addr add "$net.1/24" dev "$prefix-br"
  ip link set "$prefix-br" up
  local i=0 name ns
  for name in "$@"; do
    i=$((i + 1))
    ns="$prefix-$name"
    ip netns add "$ns"
    ip link add "$prefix-v$i" type veth peer name eth0 netns "$ns"
    ip link set "$prefix-v$i" master "$prefix-br" up
    ip -n "$ns" addr add "$net.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    echo "$name $net.$((10 + i))"
  done
}

case "${1:-}" in
up) up "${2:?usage: up PREFIX NET NAME...}" "${3:?usage: up PREFIX NET NAME...}" "${@:4}" ;;
down) down "${2:?usage: down PREFIX}" ;;
cut) ip link set "${2:?usage: cut PREFIX I}-v${3:?usage: cut PREFIX I}" down ;;
mend) ip link set "${2:?usage: mend PREFIX I}-v${3:?usage: mend PREFIX I}" up ;;
*) die "usage: fleet.sh up PREFIX NET NAME... | down PREFIX | cut PREFIX I | mend PREFIX I" ;;
esac
