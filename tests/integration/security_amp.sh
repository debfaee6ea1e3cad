#!/usr/bin/env bash
# security_amp.sh — no reflection amplification (wire.h "Trailers",
# dataplane/dp_amp.c). A router namespace joins three subnets: the node's
# (weftd on a veth, af_packet), the victim's and the attacker's. The
# attacker (amp_tool.py attack, a raw IP_HDRINCL socket) sends weft requests
# whose IPv4 source is the victim's address; the node answers through the
# router to the victim, whose namespace counts every UDP byte from the node
# (amp_tool.py sniff, AF_PACKET). Checks: for a GET of a 100 KiB value
# (with a zero, a forged and no cookie), STATS, MULTI_GET, FETCH and
# TOPOLOGY the victim gets at most as many bytes as were sent, no datagram
# larger than its request; a flood of spoofed PINGs reaches the victim at
# most at --unverified-reply-rate per second, and the node's counters agree
# (answers + amp_rate_drops = requests); a real client (weftctl get of the
# same value, from the victim's own address) still works through the cookie
# round trip. Subnets 10.234.*; everything is removed on exit.
. "$(dirname "$0")/lib.sh"
weft_require_root

TOOL="$(dirname "$0")/amp_tool.py"
RATE=50
n=wan$$
r=war$$
v=wav$$
a=waa$$
node=10.234.1.2
victim=10.234.2.2
attacker=10.234.3.2

# The router and its three legs (each veth end moved out of the root
# namespace: nothing of this test is reachable from the host).
ip netns add "$r"; _namespaces+=("$r")
ip -n "$r" link set lo up
weft_veth_ns "$n"
ip link set "$n-h" netns "$r"
ip -n "$r" addr add 10.234.1.1/24 dev "$n-h"
ip -n "$r" link set "$n-h" up
for leg in "$v:$victim:10.234.2.1" "$a:$attacker:10.234.3.1"; do
  IFS=: read -r ns addr gw <<<"$leg"
  ip netns add "$ns"; _namespaces+=("$ns")
  ip link add "$ns-h" type veth peer name "$ns-n"; _links+=("$ns-h")
  ip link set "$ns-n" netns "$ns"
  ip link set "$ns-h" netns "$r"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "$ns-n"
  ip -n "$ns" link set "$ns-n" up
  ip -n "$ns" route add default via "$gw"
  ip -n "$r" addr add "$gw/24" dev "$ns-h"
  ip -n "$r" link set "$ns-h" up
done
ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
# The router forwards the attacker's spoofed source (a real network with
# no source filtering, BCP 38, is what reflection attacks need).
ip netns exec "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0
ip netns exec "$r" sysctl -qw "net.ipv4.conf.$a-h.rp_filter=0"

weft_start_node n1 "$n" "$node" --lcores 1 --unverified-reply-rate "$RATE"
pid=$NODE_PID
vctl() { ip netns exec "$v" "$WEFTCTL" -s "$node" "$@"; }
deadline=$((SECONDS + 30))
until vctl --timeout 200 ping >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { echo "node exited"; exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "node not ready after 30 s"; exit 1; }
done
stat() { vctl stats | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'; }

# The 100 KiB value, put by a verified client (the victim itself).
head -c 102400 /dev/urandom >"$WEFT_TMP/big"
check "a verified client puts a 100 KiB value" vctl put amp big - <"$WEFT_TMP/big"

# sniff_start / sniff_stop: the victim's byte counter around one phase.
sniff_start() {
  rm -f "$WEFT_TMP/stop" "$WEFT_TMP/seen"
  ip netns exec "$v" python3 "$TOOL" sniff "$v-n" "$node" "$WEFT_TMP/stop" \
    "$WEFT_TMP/seen" >"$WEFT_TMP/sniff.out" 2>&1 &
  sniff_pid=$!
  _pids+=("$sniff_pid")
  wait_for 10 grep -q ready "$WEFT_TMP/sniff.out" || echo "sniffer not ready"
}
sniff_stop() {
  touch "$WEFT_TMP/stop"
  wait "$sniff_pid" 2>/dev/null || true
}
# phase NAME COUNT SPREAD: spoofed requests of kind NAME over SPREAD
# seconds; the victim's totals.
phase() {
  local name=$1 count=$2 spread=$3
  sniff_start
  ip netns exec "$a" python3 "$TOOL" attack "$victim" "$node" "$name" "$count" "$spread" \
    "$WEFT_TMP/sent"
  sniff_stop # the sniffer ends once the answers stopped coming
  read -r op sent sent_bytes sent_max secs <"$WEFT_TMP/sent"
  got=$(awk '{ c += $2 } END { print c + 0 }' "$WEFT_TMP/seen")
  got_bytes=$(awk '{ b += $3 } END { print b + 0 }' "$WEFT_TMP/seen")
  got_max=$(awk '{ if ($4 > m) m = $4 } END { print m + 0 }' "$WEFT_TMP/seen")
  echo "    $name: sent $sent datagrams / $sent_bytes bytes (largest $sent_max) in ${secs}s;" \
    "victim got $got / $got_bytes bytes (largest $got_max)"
}

for p in get get-forged get-bare stats mget fetch topology; do
  before=$(stat total.cookies_sent)
  phase "$p" 20 0
  check "$p: the victim got no more bytes than were sent ($got_bytes <= $sent_bytes)" \
    test "$got_bytes" -le "$sent_bytes"
  check "$p: no answer larger than its request ($got_max <= $sent_max)" \
    test "$got_max" -le "$sent_max"
  after=$(stat total.cookies_sent)
  # (each weftctl run makes one cookie round trip of its own: the 2nd stat)
  check "$p: every spoofed request was answered COOKIE ($((after - before - 1)) = $sent)" \
    test $((after - before - 1)) -eq "$sent"
done
expect_eq "nothing answered larger than its request was dropped" 0 "$(stat total.amp_budget_drops)"

# A flood of spoofed PINGs (answerable at their own size) for 2 seconds:
# rate-limited (a bucket of one second's replies, refilled at RATE/s).
drops0=$(stat total.amp_rate_drops)
phase ping 3000 2
drops1=$(stat total.amp_rate_drops)
limit=$(awk -v r="$RATE" -v s="$secs" 'BEGIN { printf "%d", r * (s + 1) + 1 }')
check "flood: the victim got at most $RATE per second ($got <= $limit in ${secs}s)" \
  test "$got" -le "$limit"
check "flood: some answers went through ($got > 0)" test "$got" -gt 0
expect_eq "flood: answers + amp_rate_drops = requests" "$sent" "$((got + drops1 - drops0))"

# The real client, from the victim's own address: the cookie round trip.
vctl get amp big >"$WEFT_TMP/big.out"
check "weftctl get of the 100 KiB value through the cookie round trip" \
  cmp -s "$WEFT_TMP/big" "$WEFT_TMP/big.out"
check "the node verified the client's cookie" test "$(stat total.cookies_valid)" -gt 0
check "node still alive" kill -0 "$pid"
weft_finish
