#!/usr/bin/env bash
# flood.sh — memory bounds under floods (issue 8 "Memory bounds"): one weftd
# (--mem 256, caches "flood" and "huge" bounded to 16 MiB each) takes, one
# after another,
#   1. a flood of new keys (weft-perf: 5 s of puts of never-seen keys),
#   2. huge values (40 puts of 1 MiB into "huge"),
#   3. half-finished 1 MiB multi-datagram messages from one hostile source
#      address (flood_sender.py in its own namespace, 10.235.1.3, many
#      ports), while a second client (the host, 10.235.1.1) keeps pinging,
#      reading and putting 1 MiB values.
# Throughout, a sampler reads the node's VmRSS from /proc. Checks: RSS never
# passes RSS_BOUND_MB (below); the second client's every ping, get and 1 MiB
# put succeeds during the reassembly flood; the counters show the bounds at
# work (cache evictions, cache bytes <= its bound, reassembly BUSY for the
# flooder's source, timeouts that empty the table afterwards).
#
# RSS bound: the EAL's --mem 256 MiB (touched as mbufs and rings are used)
# + the reassembly table's 64 MiB + the response memory's 64 MiB + the
# 16 MiB caches with their index + allocator and binary slack: 512 MiB; a weftd
# built with AddressSanitizer adds its quarantine (256 MiB), shadow (1/8
# of the heap) and a redzone around every allocation (the caches' many
# small entries): 1024 MiB then (809 MiB seen in CI). A leak or an unbounded table passes it within
# seconds at these rates (without the per-source bound the second client's
# requests fail; without timeouts the table never empties).
# Bounded: ~20 s (~25 s under ASan); every wait has a deadline. Subnet
# 10.235.1.0/24 on a bridge joining the host, the node and the flooder.
. "$(dirname "$0")/lib.sh"
weft_require_root

RSS_BOUND_MB=512
if readelf -d "$WEFTD" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
  RSS_BOUND_MB=1024 # ASan's quarantine, shadow memory and redzones
fi
ns=wf$$
fns=wff$$ # the flooder's own namespace
subnet=10.235.1
node=$subnet.2
flooder=$subnet.3
weft_bridge "wfb$$" "$subnet"
weft_netns_bridged "$ns" "wfb$$"
weft_netns_bridged "$fns" "wfb$$"
ip -n "$fns" addr add "$flooder/24" dev "$fns-n"
weft_start_node n1 "$ns" "$node" --lcores 1 --mem 256
pid=$NODE_PID
weft_wait_ready "$node" "$pid"

ctl() { "$WEFTCTL" -s "$node" "$@"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0; }

# The sampler: the node's RSS every 0.2 s into a file, until told to stop.
rss_log=$WEFT_TMP/rss
: >"$rss_log"
( while [ ! -e "$WEFT_TMP/stop-sampler" ]; do rss_kb >>"$rss_log"; sleep 0.2; done ) &
sampler=$!
_pids+=("$sampler") # the cleanup stops it on any exit
echo "RSS at start: $(( $(rss_kb) / 1024 )) MiB"

check "open caches flood and huge, 16 MiB each" \
  bash -c "'$WEFTCTL' -s $node open flood --max-bytes 16777216 &&
           '$WEFTCTL' -s $node open huge --max-bytes 16777216"
check "open cache c" ctl open c

# 1. new keys: 5 s of puts of never-seen 1000-byte keys (weft-perf, 2
# threads). How many get through depends on the node's per-source reply
# limits (docs/SECURITY.md); what must hold is the cache's bound.
perf_json=$("$WEFT_BUILD/perf/weft-perf" --server "$node" --cache flood --get-ratio 0 \
  --keys 10000000 --sequential --duration 5 --value-size 1000 --threads 2 --depth 32 \
  --timeout-ms 500 --json | tail -n 1)
json_field() { echo "$perf_json" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
echo "    weft-perf: completed=$(json_field completed) errors=$(json_field errors)"
check "new-key flood: puts answered" test "$(json_field completed)" -gt 0
cache_bytes=$(stat_value "$node" cache.flood.bytes)
check "cache bytes within its bound ($cache_bytes <= 16777216)" test "$cache_bytes" -le 16777216

# 2. huge values: 40 puts of 1 MiB into a 16 MiB cache. Each is answered:
# OK, or NO_MEMORY when eviction could not free a whole MiB in one put
# (cache.h: a put evicts a bounded amount); never a timeout.
head -c 1048576 /dev/urandom >"$WEFT_TMP/big"
huge_ok=0 huge_nomem=0
for i in $(seq 40); do
  if ctl put huge "huge-$i" - <"$WEFT_TMP/big" >/dev/null 2>"$WEFT_TMP/put.err"; then
    huge_ok=$((huge_ok + 1)); last_ok=$i
  elif grep -q NO_MEMORY "$WEFT_TMP/put.err"; then
    huge_nomem=$((huge_nomem + 1))
  else
    echo "    put huge-$i: $(cat "$WEFT_TMP/put.err")"
  fi
done
echo "    1 MiB puts: $huge_ok OK, $huge_nomem NO_MEMORY"
expect_eq "every 1 MiB put answered (OK or NO_MEMORY)" 40 $((huge_ok + huge_nomem))
check "1 MiB puts stored ($huge_ok)" test "$huge_ok" -ge 1
evictions=$(( $(stat_value "$node" cache.flood.evictions) + $(stat_value "$node" cache.huge.evictions) ))
check "the caches evicted to stay in their bounds ($evictions evictions)" test "$evictions" -gt 0
cache_bytes=$(stat_value "$node" cache.huge.bytes)
check "cache bytes still within its bound ($cache_bytes)" test "$cache_bytes" -le 16777216
ctl get huge "huge-${last_ok:-0}" >"$WEFT_TMP/big.out"
check "the last 1 MiB value stored reads back byte-exact" cmp -s "$WEFT_TMP/big" "$WEFT_TMP/big.out"

# 3. half-finished 1 MiB messages from one source, 400 a second for 12 s,
# while the other client works.
busy_before=$(stat_value "$node" reasm.src_refused)
ip netns exec "$fns" python3 "$(dirname "$0")/flood_sender.py" "$flooder" "$node" 7700 12 400 3 \
  >"$WEFT_TMP/flood.out" 2>&1 &
flood_pid=$!
_pids+=("$flood_pid")
# The probes run against a full share: first wait for the flooder's BUSY.
share_full() { [ "$(stat_value "$node" reasm.src_refused)" -gt "$busy_before" ]; }
check "the flooder fills its share within 5 s" wait_for 5 share_full
probes=0 probe_fail=0
deadline=$((SECONDS + 10))
while [ $SECONDS -lt $deadline ]; do
  probes=$((probes + 1))
  ctl --timeout 1000 ping >/dev/null 2>&1 || { probe_fail=$((probe_fail + 1)); echo "    ping failed"; }
  ctl --timeout 1000 put c "p$probes" - <"$WEFT_TMP/big" >/dev/null 2>&1 ||
    { probe_fail=$((probe_fail + 1)); echo "    1 MiB put failed"; }
  [ "$(ctl --timeout 1000 get c "p$probes" 2>/dev/null | cmp -s - "$WEFT_TMP/big" && echo same)" = same ] ||
    { probe_fail=$((probe_fail + 1)); echo "    get failed"; }
done
wait "$flood_pid" || true
sed 's/^/    /' "$WEFT_TMP/flood.out"
expect_eq "other client: every ping, 1 MiB put and get during the flood succeeded ($probes rounds)" \
  0 "$probe_fail"
src_refused=$(stat_value "$node" reasm.src_refused)
check "the flooder's source got BUSY (reasm.src_refused $busy_before -> $src_refused)" \
  test "$src_refused" -gt "$busy_before"
busy_answers=$(sed -n 's/.*busy=\([0-9]*\).*/\1/p' "$WEFT_TMP/flood.out")
check "the flooder heard BUSY (${busy_answers:-0} answers)" test "${busy_answers:-0}" -gt 0
reasm_empty() { [ "$(stat_value "$node" reasm.entries)" -eq 0 ]; }
check "half-finished messages time out: the table empties within 5 s" wait_for 5 reasm_empty
check "timeouts counted ($(stat_value "$node" reasm.timeouts))" \
  test "$(stat_value "$node" reasm.timeouts)" -gt 0

touch "$WEFT_TMP/stop-sampler"
wait "$sampler" || true
max_kb=$(sort -n "$rss_log" | tail -n 1)
echo "RSS: max $((max_kb / 1024)) MiB over $(wc -l <"$rss_log") samples, now $(( $(rss_kb) / 1024 )) MiB"
check "RSS stayed under ${RSS_BOUND_MB} MiB (max $((max_kb / 1024)) MiB)" \
  test "$max_kb" -lt $((RSS_BOUND_MB * 1024))
check "node still alive" kill -0 "$pid"
check "node still answers a ping" ctl ping
weft_finish
