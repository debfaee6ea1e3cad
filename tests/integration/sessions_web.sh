#!/usr/bin/env bash
# sessions_web.sh — replicated web sessions behind a real load balancer
# (issue 7, "An integration test"): 3 weftd nodes, one examples/web-sessions
# instance beside each (talking to its own node), nginx round robin over
# the three with no stickiness; a client with a cookie jar (curl).
#  1. 24 requests to /api/counter: every answer is 200 and the count goes
#     1, 2, ... 24 (+1 on every request, whichever instance served it);
#     the X-Instance header names at least 2 instances; the cookie never
#     changes. `weftctl session ID` shows the session's count; the session
#     store's entries are on exactly its two owners (from the segment
#     table: sess_owners), the primary served the SESSION requests (STATS
#     req.session, sessions_created) and `weftctl sessions` counts it.
#  2. kill -9 of the session's primary node and of one app instance (arg
#     "machine", the default: the app beside that node, as when a machine
#     dies; "split": the app of another node, so the dead node's own app
#     goes on through its libweft routing with its seed dead). The next 16
#     requests continue the count with no reset and no error seen by the
#     client: all 200, +1 each, none served by the dead instance. Prints
#     the failover gap (kill to the first answer, and the longest request).
#  3. idle expiry: the apps run with --timeout T (6 s); after the last
#     request `weftctl session ID` is polled (INFO: not an access) until it
#     answers NO_SESSION, bounded by T + slack + 10 s; it is gone no sooner
#     than T after the last request started and no later than T + slack +
#     3 s (the expiry pass runs every second); a `weftctl session-events`
#     listener subscribed before hears "expired ID"; the next request
#     starts a new session (count 1, a new cookie).
# Uses only 10.231.70.0/24 (split: 10.231.71.0/24) and a free 127.0.0.1
# port. Removes every namespace, veth, bridge and process (nodes, apps,
# nginx) it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/sessions/web_lib.sh"
weft_require_root

MODE=${1:-machine}
T=${SESS_TIMEOUT:-6}
N1=24
N2=16
case $MODE in
  machine) sub=10.231.70 ;;
  split) sub=10.231.71 ;;
  *) echo "usage: sessions_web.sh [machine|split]"; exit 2 ;;
esac
web_require

web_cluster sw "$sub"
start_apps() { for n in n1 n2 n3; do web_app "$n" "$T" || return 1; done; }
check "3 web-sessions instances (--timeout $T) answer on their nodes' IPs" start_apps
check "nginx runs the example's config with lb-config's upstream" web_nginx "${addr[n1]}"
[ $_failures -eq 0 ] || exit 1

jar=$WEFT_TMP/cookies.txt
declare -A served req

# run_requests N FIRST: N requests to /api/counter expecting counts FIRST,
# FIRST+1, ...; every one 200; counts served[instance], keeps MAX_MS (the
# longest request) and LAST_T0 (when the last good one started). Stops at
# the first bad answer, printing it.
run_requests() {
  local n=$1 want=$2 i
  for ((i = 0; i < n; i++, want++)); do
    web_req "$jar" /api/counter
    served[${REQ_INSTANCE:-none}]=$(( ${served[${REQ_INSTANCE:-none}]:-0} + 1 ))
    [ "$REQ_MS" -gt "$MAX_MS" ] && MAX_MS=$REQ_MS
    if [ "$REQ_CODE" != 200 ] || [ "$(count_of "$REQ_BODY")" != "$want" ]; then
      echo "     request $((i + 1)): status $REQ_CODE, count $(count_of "$REQ_BODY") (want $want)," \
        "from '${REQ_INSTANCE}'; body: $REQ_BODY"
      return 1
    fi
    LAST_T0=$REQ_T0
  done
}

# --- 1. the counter through nginx ----------------------------------------------------

MAX_MS=0
check "$N1 requests through nginx: all 200, count 1..$N1 (+1 each)" run_requests "$N1" 1
sid=$(cookie_of "$jar")
echo "     session $sid; served by: $(for k in "${!served[@]}"; do printf '%s=%s ' "$k" "${served[$k]}"; done)"
check "the WEFTSESSION cookie holds a 32-hex-digit id" grep -Eq '^[0-9a-f]{32}$' <<<"$sid"
check "X-Instance names at least 2 instances (${#served[@]})" test "${#served[@]}" -ge 2
check "no answer without X-Instance" test -z "${served[none]:-}"
lat1=$MAX_MS

out=$(ctl "${addr[n1]}" session "$sid" 2>&1) || true
echo "$out" | sed 's/^/     weftctl session: /'
expect_eq "weftctl session ID shows the count attribute" "$N1" "$(session_attr "${addr[n1]}" "$sid" count)"

read -r primary backup <<<"$(owners_of "$sid" "${addr[n1]}")" || true
[ -n "${primary:-}" ] || { echo "     no owners for $sid: cannot go on"; exit 1; }
echo "     primary $primary, backup ${backup:-none}"
check "the session has 2 owners" test -n "${backup:-}"
# The table's primary is the node that served the session: every request
# was a LOAD and a SET (the first a CREATE too) sent by the apps' clients
# straight to it; the others saw next to none.
for n in n1 n2 n3; do req[$n]=$(stat_value "${addr[$n]}" total.req.session); done
echo "     SESSION requests served: n1=${req[n1]} n2=${req[n2]} n3=${req[n3]}"
check "the primary $primary served >= $((2 * N1)) SESSION requests and created the session" \
  test "${req[$primary]}" -ge $((2 * N1)) -a "$(stat_value "${addr[$primary]}" total.sessions_created)" = 1
others_few() {
  local n
  for n in n1 n2 n3; do [ "$n" = "$primary" ] || [ "${req[$n]}" -lt "$N1" ] || return 1; done
}
check "each other node served fewer than $N1" others_few
for n in n1 n2 n3; do
  e=$(store_entries "${addr[$n]}")
  if [ "$n" = "$primary" ] || [ "$n" = "${backup:-}" ]; then
    expect_eq "$n (an owner) holds the session ($WEB_STORE entries)" 1 "$e"
  else
    expect_eq "$n (not an owner) holds no session" 0 "$e"
  fi
done
ctl "${addr[$primary]}" sessions 2>&1 | sed "s/^/     weftctl -s $primary sessions: /" || true
for n in n1 n2 n3; do
  want=0
  [ "$n" = "$primary" ] || [ "$n" = "${backup:-}" ] && want=1
  expect_eq "weftctl -s $n sessions: it holds $want, the cluster 2 copies of 1 session" \
    "$want 2 1" "$(sessions_of "${addr[$n]}")"
done

# --- 2. kill -9 of the primary node and an app instance ---------------------------------

if [ "$MODE" = machine ]; then
  app_victim=$primary
else
  for n in n1 n2 n3; do [ "$n" != "$primary" ] && { app_victim=$n; break; }; done
fi
live=()
for n in n1 n2 n3; do [ "$n" = "$primary" ] || live+=("${addr[$n]}"); done
retries0=$(nginx_retries)
t_kill=$(now_ms)
kill -KILL "${pid[$primary]}" "${apid[$app_victim]}"
# The next request goes at once: it meets the failover (SIGKILL is
# delivered at once; the kernel may take a while longer to tear the
# processes down, which is waited for after it).
declare -A served
served=()
web_req "$jar" /api/counter
first_ms=$(( $(now_ms) - t_kill ))
served[${REQ_INSTANCE:-none}]=1
MAX_MS=$REQ_MS
wait_exit "${pid[$primary]}" 10
st_node=$EXIT_ST
wait_exit "${apid[$app_victim]}" 10
echo "     killed node $primary (the session's primary) and app-$app_victim at $t_kill;" \
  "both gone $(( $(now_ms) - t_kill )) ms later"
check "node $primary and app-$app_victim are dead" test "$st_node" != running -a "$EXIT_ST" != running
check "the first request after the kill: 200 with count $((N1 + 1)) ($REQ_CODE, $(count_of "$REQ_BODY"), ${REQ_MS} ms, from $REQ_INSTANCE)" \
  test "$REQ_CODE" = 200 -a "$(count_of "$REQ_BODY")" = "$((N1 + 1))"
check "$((N2 - 1)) more requests: all 200, count $((N1 + 2))..$((N1 + N2)) (+1 each)" \
  run_requests $((N2 - 1)) $((N1 + 2))
echo "     after the kill, served by: $(for k in "${!served[@]}"; do printf '%s=%s ' "$k" "${served[$k]}"; done)"
check "the dead instance app-$app_victim served nothing" test -z "${served[app-$app_victim]:-}"
retries=$(( $(nginx_retries) - retries0 ))
check "nginx met the dead instance and went on to the next ($retries upstream errors since the kill)" \
  test "$retries" -ge 1
if [ "$MODE" = split ]; then
  check "app-$primary, whose node is dead, served requests (${served[app-$primary]:-0})" \
    test "${served[app-$primary]:-0}" -ge 1
fi
check "the cookie did not change" test "$(cookie_of "$jar")" = "$sid"
echo "     failover: first answer ${first_ms} ms after the kill; longest request ${MAX_MS} ms (before the kill: ${lat1} ms)"
check "the survivors drop $primary from the view" \
  wait_view 30 "$(for n in n1 n2 n3; do [ "$n" = "$primary" ] || echo "$n:alive"; done | paste -sd, -)" "${live[@]}"
out=$(ctl "${live[0]}" session "$sid" 2>&1) || true
echo "$out" | sed 's/^/     weftctl session: /'
expect_eq "weftctl session ID on a survivor shows the count" "$((N1 + N2))" \
  "$(session_attr "${live[0]}" "$sid" count)"

# --- 3. idle expiry ---------------------------------------------------------------------

slack=$(( T * 1000 / 8 < 1000 ? 1000 : T * 1000 / 8 ))
limit=$(( (T * 1000 + slack) / 1000 + 10 ))
# A listener of the store's events (weftctl session-events: a plain
# subscription to /topic/weft.sessions.events on the node it talks to),
# subscribed before the session is due.
events=$WEFT_TMP/events.out
"$WEFTCTL" -s "${live[0]}" --timeout 300 session-events --count 1 --wait $((limit + 5)) \
  >"$events" 2>"$WEFT_TMP/events.log" &
EV_PID=$!
_pids+=("$EV_PID")
check "an event listener is subscribed on ${live[0]}" \
  wait_for 10 eval '[ "$(topic_subs "${live[0]}" /topic/$WEB_STORE.events)" -ge 1 ]'
echo "     /topic/$WEB_STORE.events on ${live[0]}: $(topic_subs "${live[0]}" "/topic/$WEB_STORE.events") subscription(s)"
check "the idle session expires: weftctl session answers NO_SESSION (waited up to ${limit}s)" \
  wait_for "$limit" session_gone "${live[0]}" "$sid"
t_gone=$(now_ms)
idle=$(( t_gone - LAST_T0 ))
echo "     gone ${idle} ms after the last request started (timeout ${T} s, slack ${slack} ms)"
check "not before its timeout: ${idle} ms >= $((T * 1000)) ms" test "$idle" -ge $((T * 1000))
# the bound: the deadline (timeout + slack after the last access), the
# expiry pass's period (1 s), and 2 s for polling on a busy 2-core box
check "gone within timeout + slack + 3 s ($((T * 1000 + slack + 3000)) ms)" \
  test "$idle" -le $((T * 1000 + slack + 3000))
wait_exit "$EV_PID" 10
sed 's/^/     session-events: /' "$events"
expect_eq "the listener heard the session expire" "expired $sid" "$(head -n 1 "$events")"
web_req "$jar" /api/counter
check "the next request starts a new session: 200, count 1 ($REQ_CODE, $(count_of "$REQ_BODY"))" \
  test "$REQ_CODE" = 200 -a "$(count_of "$REQ_BODY")" = 1
sid2=$(cookie_of "$jar")
check "with a new cookie ($sid2)" test -n "$sid2" -a "$sid2" != "$sid"
expect_eq "weftctl sessions: the cluster holds 1 session (the new one), 2 copies" \
  "2 1" "$(sessions_of "${live[0]}" | cut -d' ' -f2-)"

echo "     nginx: $(wc -l <"$WEFT_TMP/nginx/access.log") requests logged, $(nginx_retries) upstream" \
  "errors logged (each an instance given up for the next):"
grep '\[error\].*upstream' "$WEFT_TMP/nginx/error.log" | sed 's/, client.*upstream: / -> /; s/^/       /' || true
weft_finish
