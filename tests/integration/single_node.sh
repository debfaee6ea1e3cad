#!/usr/bin/env bash
# single_node.sh — one real weftd on a veth (net_af_packet) inside a network
# namespace this test creates: ARP + ping, every cache op through weftctl and
# libweft (test_client_ops), a 1 MiB value byte-exact, TTL expiry, a burst of
# garbage datagrams after which the node still serves, counted drops, and a
# clean SIGTERM shutdown. Removes everything it made, even on failure.
. "$(dirname "$0")/lib.sh"
weft_require_root

ns=wt$$
subnet=10.231.1
node=$subnet.2
weft_netns "$ns" "$subnet"
weft_start_node n1 "$ns" "$node" --lcores 1
pid=$NODE_PID
weft_wait_ready "$node" "$pid"

ctl() { "$WEFTCTL" -s "$node" "$@"; }

check "kernel ping reaches the node (ARP + ICMP echo)" ping -c 2 -W 2 -q "$node"
check "node id kept in the home" test -s "$WEFT_TMP/n1-home/data/node-id"

# put / get / del
check "put" ctl put c k1 hello
expect_eq "get returns the value's bytes exactly" "hello" "$(ctl get c k1)"
expect_status "get of a missing key" 1 ctl get c nope
check "del" ctl del c k1
expect_status "get after del" 1 ctl get c k1
expect_status "del of a missing key" 1 ctl del c k1

# incr
expect_eq "incr creates a counter" "1" "$(ctl incr c n)"
expect_eq "incr by 41" "42" "$(ctl incr c n 41)"
expect_eq "incr by -2" "40" "$(ctl incr c n -- -2)"
expect_eq "counter readable with get" "40" "$(ctl get c n)"
ctl put c word notanumber
expect_status "incr of a non-numeric value is an error" 2 ctl incr c word

# a 1 MiB value, binary, byte-exact both ways
head -c 1048576 /dev/urandom >"$WEFT_TMP/big"
check "put of a 1 MiB value from stdin" ctl put c big - <"$WEFT_TMP/big"
ctl get c big >"$WEFT_TMP/big.out"
check "1 MiB value round-trips byte-exact" cmp -s "$WEFT_TMP/big" "$WEFT_TMP/big.out"
head -c 1048577 /dev/zero >"$WEFT_TMP/toobig"
expect_status "a value over 1 MiB is refused" 2 ctl put c toobig - <"$WEFT_TMP/toobig"

# TTL: present at once, gone after expiry (bounded wait, never returned late)
check "put with --ttl 1" ctl put c ttl soon --ttl 1
expect_eq "TTL entry readable before expiry" "soon" "$(ctl get c ttl)"
deadline=$((SECONDS + 5)); gone=no
while [ $SECONDS -lt $deadline ]; do
  if ! ctl get c ttl >/dev/null 2>&1; then gone=yes; break; fi
  sleep 0.2
done
expect_eq "TTL entry expires within 5 s" "yes" "$gone"

# every op through libweft
check "libweft: every cache op (test_client_ops)" \
  "$WEFT_BUILD/tests/integration/test_client_ops" "$node"

# weft-perf drives the node: every request answered, every preloaded key hit
perf_json=$("$WEFT_BUILD/perf/weft-perf" --server "$node" --keys 2000 --preload \
  --requests 20000 --timeout-ms 1000 --json | tail -n 1)
json_field() { echo "$perf_json" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
expect_eq "weft-perf: every request completed" "20000" "$(json_field completed)"
expect_eq "weft-perf: no errors" "0" "$(json_field errors)"
expect_eq "weft-perf: no misses after preload" "0" "$(json_field misses)"

# garbage: answerable cases get their status, the rest are counted drops
drops_before=$(drops_total "$node")
garbage_out=$("$WEFT_BUILD/tests/integration/garbage" "$node" 7700 2000) || _failures=$((_failures + 1))
echo "$garbage_out" | sed 's/^/    /'
unanswerable=$(echo "$garbage_out" | awk '/^unanswerable/ { print $2 }')
drops_after=$(drops_total "$node")
check "unanswerable garbage is counted as drops ($drops_before -> $drops_after)" \
  test $((drops_after - drops_before)) -ge "${unanswerable:-1}"
check "node still alive after garbage" kill -0 "$pid"
expect_eq "node still serves after garbage" "40" "$(ctl get c n)"
check "stats lists per-lcore and per-cache counters" \
  bash -c "'$WEFTCTL' -s $node stats | grep -q '^lcore\.' && '$WEFTCTL' -s $node stats | grep -q '^cache\.c\.'"

# clean shutdown on SIGTERM, bounded
kill -TERM "$pid"
deadline=$((SECONDS + 10)); stopped=no
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$pid" 2>/dev/null || { stopped=yes; break; }
  sleep 0.1
done
expect_eq "weftd stops on SIGTERM within 10 s" "yes" "$stopped"
rc=0; wait "$pid" || rc=$?
expect_eq "weftd exits 0 after SIGTERM" "0" "$rc"

weft_finish
