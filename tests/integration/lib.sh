# tests/integration/lib.sh — shared helpers for integration tests, sourced by
# each test script. Owns: creating network namespaces and veth pairs for real
# weftd nodes, starting nodes inside them, bounded waits, assertions, and
# removing everything the test made on any exit (success, failure, signal).
#
# Invariants: every namespace, veth and process a test makes is recorded here
# and removed by weft_cleanup (installed as the EXIT trap). Addresses are only
# the test's own 10.231.N.0/24: traffic never leaves this machine.

set -euo pipefail

WEFT_BUILD=${WEFT_BUILD:?WEFT_BUILD must name the build directory}
WEFTD=$WEFT_BUILD/control/weftd
WEFTCTL=$WEFT_BUILD/client/weftctl
WEFT_TMP=$(mktemp -d /tmp/weft-it.XXXXXX)

_namespaces=()
_links=()
_pids=()
_failures=0
_checks=0

_interrupted=0
# 1: a failed test prints the tail of every log of $WEFT_TMP at exit (a
# runner that keeps its logs elsewhere sets 0).
_dump_logs=1

weft_remove_network() {
  for l in "${_links[@]}"; do ip link del "$l" 2>/dev/null || true; done
  for n in "${_namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}

# Removes everything the test made. On a signal it hurries: a test runner
# that times a test out sends SIGTERM and SIGKILLs the group half a second
# later, so the nodes are killed outright and the network removed before
# anything waits. On a normal exit nodes get to stop cleanly first.
weft_cleanup() {
  local rc=$?
  if [ $_interrupted -ne 0 ]; then
    for pid in "${_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    weft_remove_network
  fi
  for pid in "${_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${_pids[@]}"; do
    # bounded: a node gets 10 s to stop cleanly, then is killed
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  weft_remove_network
  if { [ $rc -ne 0 ] || [ $_failures -ne 0 ]; } && [ "$_dump_logs" = 1 ]; then
    for f in "$WEFT_TMP"/*.log; do
      [ -f "$f" ] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$WEFT_TMP"
  exit $rc
}
trap weft_cleanup EXIT
trap '_interrupted=1; exit 130' INT TERM

weft_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: integration tests need root (network namespaces)"
    exit 77
  fi
}

# weft_veth_ns NAME: a namespace NAME holding the veth end "NAME-n" (no
# address: weftd drives it through af_packet); the host end "NAME-h" is up
# and left to the caller to address or enslave.
weft_veth_ns() {
  local name=$1
  ip netns add "$name"; _namespaces+=("$name")
  ip link add "$name-h" type veth peer name "$name-n"; _links+=("$name-h")
  ip link set "$name-n" netns "$name"
  ip link set "$name-h" up
  ip -n "$name" link set lo up
  ip -n "$name" link set "$name-n" up
}

# weft_netns NAME SUBNET: weft_veth_ns whose host end gets SUBNET.1/24 (the
# node answers for SUBNET.2).
weft_netns() {
  weft_veth_ns "$1"
  ip addr add "$2.1/24" dev "$1-h"
}

# weft_bridge BR SUBNET: a Linux bridge BR holding SUBNET.1/24 for the host,
# with multicast snooping off (cluster discovery floods its group).
weft_bridge() {
  local br=$1 subnet=$2
  ip link add "$br" type bridge; _links+=("$br")
  ip link set "$br" type bridge mcast_snooping 0
  ip addr add "$subnet.1/24" dev "$br"
  ip link set "$br" up
}

# weft_netns_bridged NAME BR: weft_veth_ns whose host end is a port of BR.
weft_netns_bridged() {
  weft_veth_ns "$1"
  ip link set "$1-h" master "$2"
}

# weft_start_node NAME NS BIND [weftd args...]: starts weftd in NS on the
# namespace's veth; logs to $WEFT_TMP/NAME.log; sets NODE_PID.
weft_start_node() {
  local name=$1 ns=$2 bind=$3; shift 3
  ip netns exec "$ns" "$WEFTD" --port "af_packet:$ns-n" --bind "$bind" \
    --home "$WEFT_TMP/$name-home" "$@" >"$WEFT_TMP/$name.log" 2>&1 &
  NODE_PID=$!
  _pids+=("$NODE_PID")
}

# weft_wait_ready ADDR PID [SECONDS]: waits (bounded, default 30 s: EAL start
# takes seconds beside busy processes) until the node answers a ping.
weft_wait_ready() {
  local addr=$1 pid=$2 limit=${3:-30}
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { echo "node $pid exited before it was ready"; return 1; }
    "$WEFTCTL" -s "$addr" --timeout 200 ping >/dev/null 2>&1 && return 0
  done
  echo "node at $addr not ready after ${limit}s"
  return 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds
# (returns 0) or SECONDS have passed (returns 1). The bounded way to wait for
# a condition; never a sleep standing in for one.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# check DESCRIPTION COMMAND...: runs COMMAND, counts a pass or a failure.
check() {
  local what=$1; shift
  _checks=$((_checks + 1))
  if "$@"; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    _failures=$((_failures + 1))
  fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
  _checks=$((_checks + 1))
  if [ "$2" = "$3" ]; then
    echo "ok   - $1"
  else
    echo "FAIL - $1: expected '$2', got '$3'"
    _failures=$((_failures + 1))
  fi
}

# expect_status DESCRIPTION EXPECTED_EXIT COMMAND...
expect_status() {
  local what=$1 want=$2; shift 2
  local got=0
  "$@" >/dev/null 2>&1 || got=$?
  expect_eq "$what (exit $want)" "$want" "$got"
}

# stat_value ADDR NAME: one counter from `weftctl stats` (0 if absent).
stat_value() {
  "$WEFTCTL" -s "$1" stats | awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# drops_total ADDR: sum of the node's per-reason drop counters.
drops_total() {
  "$WEFTCTL" -s "$1" stats | awk '$1 ~ /^total\.drop\./ { n += $2 } END { print n + 0 }'
}

weft_finish() {
  echo "$((_checks - _failures)) passed, $_failures failed"
  [ $_failures -eq 0 ]
}
