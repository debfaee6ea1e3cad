#!/usr/bin/env bash
# admin.sh — the admin plane (docs/admin.md) of 3 real nodes:
#  - each node's namespace has a second veth, a kernel interface apart from
#    the DPDK port, with a management address 10.236.1.1N on the host's
#    management bridge; n1 and n2 serve the admin there (--admin
#    10.236.1.1N:9190), n3 on its default, 127.0.0.1:9190 in its namespace;
#  - the nodes form one view (--peers, --partition-handling quorum); a
#    cache and a queue are opened and written;
#  - /health is 200 "ok" everywhere; /metrics is accepted by promtool
#    (Debian's prometheus package: required, the test fails without it) and
#    shows the view id weftctl shows, 3 alive members, the cache, per-lcore
#    request counters; /api/* are valid JSON (python3) with the members
#    (3 alive), the cache, the queue, a 256-segment table; 404, 405 (with
#    Allow), 413 for a body, HEAD without a body, an over-long request
#    refused; / serves the console page;
#  - kill -9 n3: n1's /api/members and /metrics show 2 alive and n3 dead or
#    gone, /health stays 200 (2 of 3 is a quorum); kill -9 n2: n1's /health
#    turns 503 "no quorum ..." and /metrics still passes promtool;
#  - with 127.0.0.1:9190 held by another listener, a node with the default
#    admin warns and serves; an explicit --admin there, or on an address the
#    node does not have, ends weftd with status 1 and a line naming the
#    address and the cause.
# Uses only 10.236.0.0/24 (data) and 10.236.1.0/24 (management). Removes
# every namespace, veth, bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/admin_lib.sh"
weft_require_root

if ! command -v promtool >/dev/null 2>&1; then
  echo "FAIL - promtool is required (Debian package prometheus; scripts/setup installs it)"
  exit 1
fi
command -v curl >/dev/null 2>&1 || { echo "FAIL - curl is required"; exit 1; }

sub=10.236.0
check "3 nodes answer (--peers, --partition-handling quorum)" \
  adm_cluster ad "$sub" 10.236.1 --partition-handling quorum
[ $_failures -eq 0 ] || exit 1
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"

json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' ; }

# jq-like reads with python3: jget NODE PATH EXPR (EXPR over d, the document)
jget() {
  hget "$1" "$2" | python3 -c "import json,sys; d=json.load(sys.stdin); print($3)"
}

ctl "${addr[n1]}" --direct put admincache k1 v1 >/dev/null
ctl "${addr[n1]}" publish /queue/adminq hello >/dev/null
view=$(view_of "${addr[n1]}"); view=${view%% *}

alive_is() { [ "$(jget "$1" /api/members 'd["members"]["alive"]' 2>/dev/null)" = "$2" ]; }
check "n1's /api/members shows 3 alive" wait_for 10 alive_is n1 3
healthy() { local b; b=$(hget "$1" /health || true); [ "$(status) $b" = "200 ok" ]; }
for n in n1 n2 n3; do
  # each node's snapshot (once a second) catches up with its view
  check "$n /health: 200 ok (within 5 s)" wait_for 5 healthy "$n"
done

# The admin renders from a snapshot taken once a second: wait (bounded)
# for the first one taken after the put.
cache_in_metrics() {
  hget n1 /metrics >"$WEFT_TMP/n1.metrics" &&
    grep -q '^weft_cache_info{cache="admincache",mode="distributed"} 1$' "$WEFT_TMP/n1.metrics"
}
check "n1's /metrics shows the cache admincache, distributed (within 5 s)" \
  wait_for 5 cache_in_metrics
expect_eq "n1 /metrics: 200" "200" "$(status)"
lines=$(wc -l <"$WEFT_TMP/n1.metrics")
echo "     n1 /metrics: $lines lines"
check "promtool check metrics accepts n1's /metrics" \
  promtool check metrics <"$WEFT_TMP/n1.metrics"
metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
expect_eq "/metrics: weft_view_id is weftctl's view" "$view" \
  "$(metric "$WEFT_TMP/n1.metrics" weft_view_id)"
expect_eq "/metrics: 3 alive members" "3" \
  "$(metric "$WEFT_TMP/n1.metrics" 'weft_members{state="alive"}')"
puts=$(metric "$WEFT_TMP/n1.metrics" 'weft_lcore_requests_total{lcore="1",op="put"}')
check "/metrics: n1's lcore 1 counted the put (${puts:-none})" test "${puts:-0}" -ge 1
check "/metrics: per-member state gauges" \
  grep -q '^weft_member_state{member="n2",state="alive"} 1$' "$WEFT_TMP/n1.metrics"
check "/metrics: drops by reason" grep -q '^weft_lcore_drops_total{lcore="1",reason=' \
  "$WEFT_TMP/n1.metrics"
check "/metrics: rebalancing progress" grep -q '^weft_rebalance_moves_pending ' \
  "$WEFT_TMP/n1.metrics"
check "/metrics: the probe's latency histogram" \
  grep -q '^weft_probe_ping_seconds_bucket{le="+Inf"} [1-9]' "$WEFT_TMP/n1.metrics"
hget n3 /metrics >"$WEFT_TMP/n3.metrics"
check "promtool check metrics accepts n3's /metrics (default 127.0.0.1:9190)" \
  promtool check metrics <"$WEFT_TMP/n3.metrics"

for p in status members topology caches destinations apps daemons jobs stats history; do
  check "n1 /api/$p is valid JSON" json_ok < <(hget n1 "/api/$p")
done
expect_eq "/api/members: view id" "$view" "$(jget n1 /api/members 'd["members"]["view"]')"
expect_eq "/api/members: names and states" "n1:alive n2:alive n3:alive" \
  "$(jget n1 /api/members '" ".join(sorted(m["name"]+":"+m["state"] for m in d["members"]["members"]))')"
expect_eq "/api/topology: 256 segments, 2 owners, a full table" "256 2 256" \
  "$(jget n1 /api/topology '"%d %d %d" % (d["topology"]["segments"], d["topology"]["owners"], len(d["topology"]["table"]))')"
has_cache() { jget "$1" /api/caches '"admincache" in [c["name"] for c in d["caches"]]' | grep -qx True; }
check "/api/caches of n1 (holding admincache) lists it" wait_for 5 has_cache n1
has_queue() {
  for n in n1 n2 n3; do
    jget "$n" /api/destinations '[x["depth"] for x in d["destinations"] if x["name"]=="/queue/adminq" and x["role"]=="primary"]' |
      grep -qx '\[1\]' && return 0
  done
  return 1
}
check "/api/destinations: the queue's primary shows depth 1 (within 5 s)" wait_for 5 has_queue
expect_eq "/api/status: healthy" "True ok n1" "$(jget n1 /api/status 'd["status"]["healthy"], d["status"]["reason"], d["node"]' | tr -d "(),'")"
expect_eq "/api/daemons, /api/jobs: none deployed" "[] []" \
  "$(jget n1 /api/daemons 'd["daemons"]') $(jget n1 /api/jobs 'd["jobs"]')"

hdrs=$(curl -sS --max-time 5 -D - -o "$WEFT_TMP/console.html" "http://${admin[n1]}/" || true)
check "GET /: the console page (HTML, a content security policy)" \
  bash -c "grep -qi '^content-type: text/html' <<<\"\$1\" && grep -qi '^content-security-policy: ' <<<\"\$1\" && grep -q '<title>weft console</title>' '$WEFT_TMP/console.html'" _ "$hdrs"

# HTTP edges
body=$(hget n1 /nope || true)
expect_eq "GET /nope: 404" "404" "$(status)"
check "404 body names the path" grep -q "not found: /nope" <<<"$body"
hdrs=$(curl -sS --max-time 5 -o /dev/null -D - -X POST "http://${admin[n1]}/metrics" || true)
check "POST /metrics: 405 with Allow: GET, HEAD" \
  grep -qi '^allow: GET, HEAD' <<<"$hdrs"
check "POST /metrics: status 405" grep -q '^HTTP/1.1 405' <<<"$hdrs"
hget n1 /health -X GET --data-binary 'x' >/dev/null || true
expect_eq "GET with a body: 413" "413" "$(status)"
size=$(curl -sS --max-time 5 -I -o /dev/null -w '%{size_download} %{http_code}' "http://${admin[n1]}/metrics" || true)
expect_eq "HEAD /metrics: 200, no body" "0 200" "$size"
long=$(head -c 40000 /dev/zero | tr '\0' a)
hget n1 "/$long" >/dev/null || true
st=$(status)
check "a 40 KB request line is refused ($st)" test "$st" -ge 400 -a "$st" -lt 500

# failures
kill -KILL "${pid[n3]}"
check "kill -9 n3: n1 and n2 drop it from their view" \
  wait_view 10 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
check "n1's /api/members shows 2 alive" wait_for 10 alive_is n1 2
hget n1 /metrics >"$WEFT_TMP/n1.metrics"
expect_eq "n1 /metrics: 2 alive members" "2" \
  "$(metric "$WEFT_TMP/n1.metrics" 'weft_members{state="alive"}')"
check "n1 /metrics: n3 no longer alive" \
  bash -c "! grep -q '^weft_member_state{member=\"n3\",state=\"alive\"} 1$' '$WEFT_TMP/n1.metrics'"
body=$(hget n1 /health || true)
expect_eq "n1 /health with 2 of 3 (a quorum): 200 ok" "200 ok" "$(status) $body"

kill -KILL "${pid[n2]}"
unhealthy() { body=$(hget n1 /health || true); [ "$(status)" = 503 ]; }
check "kill -9 n2: n1's /health turns 503" wait_for 15 unhealthy
echo "     n1 /health: $(status) $body"
check "the 503 says why (no quorum)" grep -q "no quorum" <<<"$body"
hget n1 /metrics >"$WEFT_TMP/n1.metrics"
check "promtool still accepts n1's /metrics" promtool check metrics <"$WEFT_TMP/n1.metrics"
expect_eq "/metrics: weft_healthy 0, weft_no_quorum 1" "0 1" \
  "$(metric "$WEFT_TMP/n1.metrics" weft_healthy) $(metric "$WEFT_TMP/n1.metrics" weft_no_quorum)"

# An admin address that cannot be had: a listener (SO_REUSEPORT, so a
# node that shared the port would not be refused) holds 127.0.0.1:9190 in
# the namespace x. The default admin is then skipped with a warning and the
# node serves; an explicit --admin ends weftd with status 1 and a clear line.
weft_netns_bridged "$CL_NS-x" "$CL_BR"
ip netns exec "$CL_NS-x" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 9190)); s.listen(); time.sleep(300)' &
_pids+=("$!")
held() { ip netns exec "$CL_NS-x" ss -Hltn 'sport = :9190' | grep -q LISTEN; }
check "a listener holds 127.0.0.1:9190 in namespace x" wait_for 5 held
weft_start_node x1 "$CL_NS-x" "$sub.20" --node-name x1 --lcores 1
check "default admin port taken: the node still serves" weft_wait_ready "$sub.20" "$NODE_PID"
check "... and says it runs without its admin plane" \
  grep -q "admin plane cannot listen on 127.0.0.1:9190: Address already in use (running without it" \
  "$WEFT_TMP/x1.log"
kill -TERM "$NODE_PID"; wait_exit "$NODE_PID" 30
weft_start_node x2 "$CL_NS-x" "$sub.20" --node-name x2 --lcores 1 --admin 127.0.0.1:9190
wait_exit "$NODE_PID" 60
expect_eq "--admin on a port in use: exit 1" "1" "$EXIT_ST"
check "its log names the address and the cause" \
  grep -q "admin plane cannot listen on 127.0.0.1:9190: Address already in use$" "$WEFT_TMP/x2.log"
weft_start_node x3 "$CL_NS-x" "$sub.20" --node-name x3 --lcores 1 --admin 10.236.9.9:9190
wait_exit "$NODE_PID" 60
expect_eq "--admin on an address the node lacks: exit 1" "1" "$EXIT_ST"
check "its log names the address and the cause" \
  grep -q "admin plane cannot listen on 10.236.9.9:9190: Cannot assign requested address" \
  "$WEFT_TMP/x3.log"

weft_finish
