#!/usr/bin/env bash
# ports.sh — weftd on the laptop port types besides af_packet (which
# single_node.sh covers): net_af_xdp on a veth and net_tap, each serving a
# put/get round trip and answering ping; and the clear refusals: virtio_user
# without /dev/vhost-net, an unknown port spec, an interface that does not
# exist. Removes everything it made, even on failure.
. "$(dirname "$0")/lib.sh"
weft_require_root

# af_xdp on a veth (queue 0; libxdp falls back to a single program without bpffs)
ns=wx$$
subnet=10.231.2
weft_netns "$ns" "$subnet"
ip netns exec "$ns" "$WEFTD" --port "af_xdp:$ns-n" --bind "$subnet.2" \
  --home "$WEFT_TMP/xdp-home" >"$WEFT_TMP/xdp.log" 2>&1 &
pid=$!; _pids+=("$pid")
weft_wait_ready "$subnet.2" "$pid"
check "af_xdp: ping" ping -c 1 -W 2 -q "$subnet.2"
check "af_xdp: put" "$WEFTCTL" -s "$subnet.2" put c k via-xdp
expect_eq "af_xdp: get" "via-xdp" "$("$WEFTCTL" -s "$subnet.2" get c k)"

# tap: weftd creates the tap inside its namespace; the namespace's kernel
# side of the tap gets an address and the client runs in the namespace too.
tns=wp$$
ip netns add "$tns"; _namespaces+=("$tns")
ip -n "$tns" link set lo up
ip netns exec "$tns" "$WEFTD" --port tap:wtap0 --bind 10.231.3.2 \
  --home "$WEFT_TMP/tap-home" >"$WEFT_TMP/tap.log" 2>&1 &
pid=$!; _pids+=("$pid")
deadline=$((SECONDS + 30))
until ip -n "$tns" link show wtap0 >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "tap never appeared"; exit 1; }
  kill -0 "$pid" 2>/dev/null || { echo "weftd on tap exited"; exit 1; }
  sleep 0.1
done
ip -n "$tns" addr add 10.231.3.1/24 dev wtap0
ip -n "$tns" link set wtap0 up
tctl() { ip netns exec "$tns" "$WEFTCTL" -s 10.231.3.2 "$@"; }
deadline=$((SECONDS + 30))
until tctl --timeout 200 ping >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "weftd on tap not ready"; exit 1; }
done
check "tap: ping" ip netns exec "$tns" ping -c 1 -W 2 -q 10.231.3.2
check "tap: put" tctl put c k via-tap
expect_eq "tap: get" "via-tap" "$(tctl get c k)"

# af_packet with 2 worker lcores: the PMD's fanout spreads flows over both
# queues; 16 client sockets (16 flows) all hashing to one queue has odds of
# 2^-15, so both workers must have served requests.
ns2=wq$$
weft_netns "$ns2" 10.231.5
weft_start_node two-lcores "$ns2" 10.231.5.2 --lcores 2
weft_wait_ready 10.231.5.2 "$NODE_PID"
perf_json=$("$WEFT_BUILD/perf/weft-perf" --server 10.231.5.2 --threads 16 --depth 4 \
  --keys 1000 --requests 16000 --timeout-ms 1000 --json | tail -n 1)
expect_eq "2 lcores: every request completed" "16000" \
  "$(echo "$perf_json" | sed -n 's/.*"completed":\([0-9]*\).*/\1/p')"
check "2 lcores: worker 1 served requests" test "$(stat_value 10.231.5.2 lcore.1.req.get)" -gt 0
check "2 lcores: worker 2 served requests" test "$(stat_value 10.231.5.2 lcore.2.req.get)" -gt 0

# refusals: a clear message and a non-zero exit, never a hang
refuses() {  # description expected-message port-spec
  local out rc=0
  out=$(timeout 60 "$WEFTD" --port "$3" --bind 10.231.4.2 --home "$WEFT_TMP/bad-home" 2>&1) || rc=$?
  check "$1: exits non-zero" test "$rc" -ne 0 -a "$rc" -ne 124
  check "$1: says '$2'" grep -q -- "$2" <<<"$out"
}
if [ ! -e /dev/vhost-net ]; then
  refuses "virtio_user without /dev/vhost-net" "needs /dev/vhost-net" virtio_user
fi
refuses "unknown port spec" "bad port spec" bogus:x
refuses "missing interface" "no port came up" af_packet:wtnone$$

weft_finish
