#!/usr/bin/env bash
# apps_singleton.sh — singleton daemons on 3 real nodes (issue 6, "Tests":
# never two running at once in a healthy cluster, checked by the daemons
# themselves through a cache CAS; failover within the bound after kill -9;
# no move back on rejoin; undeploy stops it everywhere).
#
# The app is tests/integration/apps/singleton_check.c (singleton-check.so,
# daemon "guard"): while it runs, every 200 ms it CASes key
# "holder.singleton-check" of cache "singleton-check" from the version it
# wrote last to "NODE EPOCH ROUND", and writes another key with
# weft_put_fenced under its epoch; it prints "overlap" when the CAS finds
# another run's value, "lost" when it finds an older value of its own,
# "fenced" when the fenced write is refused, and "run NODE epoch E start
# MS" / "stop MS" around each run. Steps:
#  0. the check works: the same daemon built to run on every node
#     (singleton-check-every.so) deployed on the 3 nodes prints "overlap"
#     on at least 2 of them; then it is undeployed.
#  1. `weftctl deploy --all singleton-check.so`: exactly one node starts
#     the daemon and it holds the key for 25 rounds (5 s) with no overlap;
#     `weftctl daemons` (asked of each node) names that node, and `daemons
#     --all` shows it running there only.
#  2. kill -9 of that node: another starts it within 5 s of the kill (the
#     issue's bound with default settings), with a larger epoch, and holds
#     the key for 15 rounds.
#  3. the killed node restarted (same home): it gets the app again (weft.
#     apps) and, watched until 8 s after its start (its join grace is 6 s,
#     claims are re-read every second) and for 10 more rounds of the
#     runner, it does not start the daemon; daemons --all shows it idle.
#  4. `weftctl undeploy singleton-check --all`: no node lists the app, the
#     run prints its stop line, no other node starts a run meanwhile (the
#     released claim is not taken by a node whose copy of the app is about
#     to go), `weftctl daemons` lists nothing and, watched for 2 s more (10
#     rounds), no node starts it again.
#  5. over the whole test, from every node's output: no overlap, lost or
#     fenced line; the runs' intervals [start, stop] (the killed run ends at
#     the kill) are disjoint, with no tolerance: every handover here is a
#     kill (the old run is dead before anyone can claim) or a release after
#     the run's stop line (the claim is released only once start has
#     returned), so in real time each start follows the previous end; and
#     epochs grow from run to run.
# Uses only 10.231.61.0/24. Removes every namespace, veth, bridge and
# process it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

APP=singleton-check
EVERY=singleton-check-every
APP_SO=$WEFT_BUILD/tests/integration/apps/$APP.so
EVERY_SO=$WEFT_BUILD/tests/integration/apps/$EVERY.so
DAEMON=$APP/guard
FAILOVER_MS=5000
sub=10.231.61
[ -f "$APP_SO" ] && [ -f "$EVERY_SO" ] || { echo "no $APP_SO or $EVERY_SO: build first"; exit 1; }

now_ms() { date +%s%3N; }

cl_net as "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
all_addr=("${addr[n1]}" "${addr[n2]}" "${addr[n3]}")
check "3 nodes form one view" wait_view 30 "n1:alive,n2:alive,n3:alive" "${all_addr[@]}"
check "the view is rebalanced on all" wait_rebalanced 30 "${all_addr[@]}"

# --- reading the nodes' output ------------------------------------------------------
# Every node's output, including a killed node's saved as NAME.before-kill.log;
# the app's lines name their node, so they are read all together.

sc() { cat "$WEFT_TMP"/*.log 2>/dev/null | awk -v a="$1" '$1 == "sc" && $2 == a'; }
# starts APP: "NODE EPOCH MS" of each run start.
starts() { sc "$1" | awk '$3 == "run" && $7 == "start" { print $4, $6, $8 }' | sort -k3,3n; }
stops() { sc "$1" | awk '$3 == "run" && $7 == "stop" { print $4, $6, $8 }' | sort -k3,3n; }
n_starts() { starts "$1" | wc -l; }
n_starts_ge() { [ "$(n_starts "$1")" -ge "$2" ]; }
# bad APP: its overlap, lost and fenced lines.
bad() { sc "$1" | awk '$3 == "overlap" || $3 == "lost" || $3 == "fenced"'; }
# held_round NODE EPOCH: the last round NODE's run of EPOCH reported held.
held_round() { sc "$APP" | awk -v n="$1" -v e="$2" '$3 == "held" && $4 == n && $6 == e { r = $8 } END { print r + 0 }'; }
held_ge() { [ "$(held_round "$1" "$2")" -ge "$3" ]; }
# overlap_nodes APP: how many nodes printed an overlap line.
overlap_nodes() { sc "$1" | awk '$3 == "overlap" { n[$4] = 1 } END { print length(n) }'; }
overlap_nodes_ge() { [ "$(overlap_nodes "$1")" -ge "$2" ]; }
# stopped_all APP: every run start has its stop line.
stopped_all() { [ "$(starts "$1" | wc -l)" = "$(stops "$1" | wc -l)" ]; }

loaded() { ctl "$1" apps 2>/dev/null | grep -q "^app $2 loaded "; }
loaded_all() { for a in "${all_addr[@]}"; do loaded "$a" "$1" || return 1; done; }
unloaded_all() {
  for a in "${all_addr[@]}"; do
    ctl "$a" apps >/dev/null 2>&1 && ! loaded "$a" "$1" || return 1
  done
}
# runner_of ADDR: the NODE column of the daemon's row in ADDR's
# `weftctl daemons` ("DAEMON KIND NODE STATE EPOCH SINCE").
runner_of() { ctl "$1" daemons 2>/dev/null | awk -v d="$DAEMON" '$1 == d { print $3 }'; }
runner_is() { for a in "${@:2}"; do [ "$(runner_of "$a")" = "$1" ] || return 1; done; }
# states ADDR: "MEMBER:STATE,..." of `daemons --all`, sorted.
states() {
  ctl "$1" daemons --all 2>/dev/null |
    awk -v d="$DAEMON" '$2 == d { print $1 ":" $5 }' | sort | paste -sd, -
}
states_are() { [ "$(states "$1")" = "$2" ]; }
no_daemon() {
  local t
  t=$(ctl "$1" daemons 2>/dev/null) || return 1
  ! awk -v d="$DAEMON" '$1 == d { f = 1 } END { exit !f }' <<<"$t"
}
no_daemon_all() { for a in "${all_addr[@]}"; do no_daemon "$a" || return 1; done; }
show_daemons() { ctl "$1" daemons --all 2>&1 | sed 's/^/     /' || true; }

# --- 0. the check sees two runs at once ------------------------------------------------

out=$(ctl "${addr[n1]}" deploy "$EVERY_SO" --all 2>&1) || true
echo "     $out"
check "every-node variant: the 3 nodes load $EVERY" wait_for 20 loaded_all "$EVERY"
check "every-node variant: the CAS check reports overlap on >= 2 nodes" \
  wait_for 10 overlap_nodes_ge "$EVERY" 2
echo "     $(sc "$EVERY" | awk '$3 == "overlap"' | wc -l) overlap lines on $(overlap_nodes "$EVERY") nodes, e.g.:"
sc "$EVERY" | awk '$3 == "overlap"' | head -n 2 | sed 's/^/       /'
expect_status "weftctl undeploy $EVERY --all" 0 ctl "${addr[n1]}" undeploy "$EVERY" --all
check "every-node variant: unloaded everywhere, each run stopped" \
  wait_for 15 eval 'unloaded_all "$EVERY" && stopped_all "$EVERY"'

# --- 1. one run in a healthy cluster -----------------------------------------------------

out=$(ctl "${addr[n1]}" deploy "$APP_SO" --all 2>&1) || true
echo "     $out"
check "deploy --all: the 3 nodes load $APP" wait_for 20 loaded_all "$APP"
check "a node starts the daemon" wait_for 20 n_starts_ge "$APP" 1
read -r runner epoch t_start <<<"$(starts "$APP" | head -n 1)" || true
[ -n "$runner" ] || { echo "     no run: cannot go on"; exit 1; }
echo "     $runner runs $DAEMON, epoch $epoch"
check "$runner holds the key for 25 rounds" wait_for 15 held_ge "$runner" "$epoch" 25
expect_eq "exactly one run started" 1 "$(n_starts "$APP")"
expect_eq "no overlap, lost or fenced line" "" "$(bad "$APP")"
check "weftctl daemons, asked of each node, names $runner" \
  wait_for 10 runner_is "$runner" "${all_addr[@]}"
want=$(for n in n1 n2 n3; do [ "$n" = "$runner" ] && echo "$n:running" || echo "$n:idle"; done | paste -sd, -)
check "weftctl daemons --all: $want" wait_for 10 states_are "${addr[n1]}" "$want"
show_daemons "${addr[n1]}"

# --- 2. kill -9 of the runner ---------------------------------------------------------------

survivors=()
for n in n1 n2 n3; do [ "$n" = "$runner" ] || survivors+=("${addr[$n]}"); done
killed=$runner
kill -KILL "${pid[$killed]}"
t_kill=$(now_ms)
wait_exit "${pid[$killed]}" 10
echo "     killed $killed (pid ${pid[$killed]}) at $t_kill"
check "another node starts the daemon (waited up to 10 s)" wait_for 10 n_starts_ge "$APP" 2
read -r runner epoch2 t_start2 <<<"$(starts "$APP" | sed -n 2p)" || true
[ -n "$runner" ] || { echo "     no second run: cannot go on"; exit 1; }
failover=$(( ${t_start2:-0} - t_kill ))
echo "     $runner started it ${failover} ms after the kill (epoch $epoch2)"
check "the new runner is a survivor ($runner)" test "${runner:-}" != "$killed"
check "it started within ${FAILOVER_MS} ms of the kill (${failover} ms)" \
  test "$failover" -ge 0 -a "$failover" -le "$FAILOVER_MS"
check "its epoch is larger ($epoch2 > $epoch)" test "${epoch2:-0}" -gt "$epoch"
check "$runner holds the key for 15 rounds" wait_for 10 held_ge "$runner" "$epoch2" 15
check "weftctl daemons on the survivors names $runner" \
  wait_for 10 runner_is "$runner" "${survivors[@]}"

# --- 3. the killed node comes back ----------------------------------------------------------

mv "$WEFT_TMP/$killed.log" "$WEFT_TMP/$killed.before-kill.log"
t_restart=$(now_ms)
weft_start_node "$killed" "$CL_NS-$killed" "${addr[$killed]}" --node-name "$killed" --lcores 1 --clustered
pid[$killed]=$NODE_PID
weft_wait_ready "${addr[$killed]}" "${pid[$killed]}"
check "$killed rejoins: one view of 3" wait_view 30 "n1:alive,n2:alive,n3:alive" "${all_addr[@]}"
check "$killed loads the app again (weft.apps)" wait_for 20 loaded "${addr[$killed]}" "$APP"
r0=$(held_round "$runner" "$epoch2")
# An absence, watched over the window in which a move back could happen:
# until 8 s after the restart (the join grace is 6 s, claims are re-read
# every second) and 10 more rounds of the runner.
watched() { [ $(( $(now_ms) - t_restart )) -ge 8000 ] && held_ge "$runner" "$epoch2" $((r0 + 10)); }
check "the runner goes on while $killed is back (watched 8 s after its start)" wait_for 30 watched
expect_eq "no move back: still 2 runs in all" 2 "$(n_starts "$APP")"
want=$(for n in n1 n2 n3; do [ "$n" = "$runner" ] && echo "$n:running" || echo "$n:idle"; done | paste -sd, -)
check "weftctl daemons --all: $want" wait_for 10 states_are "${addr[$killed]}" "$want"
show_daemons "${addr[$killed]}"
check "weftctl daemons, asked of each node, names $runner" \
  wait_for 10 runner_is "$runner" "${all_addr[@]}"

# --- 4. undeploy --all ------------------------------------------------------------------------

t_undeploy=$(now_ms)
expect_status "weftctl undeploy $APP --all" 0 ctl "${addr[$killed]}" undeploy "$APP" --all
check "undeploy: no node lists the app" wait_for 15 unloaded_all "$APP"
check "undeploy: the run printed its stop line" \
  wait_for 10 eval 'stops "$APP" | grep -q "^$runner $epoch2 "'
check "undeploy: weftctl daemons lists no $DAEMON" \
  wait_for 10 no_daemon_all
n_after=$(n_starts "$APP")
# The app leaves every node (each within about a second): the run's
# release must not hand the daemon to a node that still has the app.
expect_eq "undeploy --all: no node started a new run meanwhile" "" \
  "$(starts "$APP" | awk -v t="$t_undeploy" '$3 >= t')"
# An absence: watched for 10 rounds of the daemon.
sleep 2
expect_eq "undeploy: no node started it again" "$n_after" "$(n_starts "$APP")"
check "undeploy: every run that started has stopped (the killed one aside)" \
  eval '[ $(starts "$APP" | wc -l) -eq $(( $(stops "$APP" | wc -l) + 1 )) ]'

# --- 5. the whole test, from the nodes' output -------------------------------------------

echo "     runs (node epoch start stop):"
runs=$({ starts "$APP" | sed 's/^/start /'; stops "$APP" | sed 's/^/stop /'; } |
  awk -v k="$killed" -v ke="$epoch" -v tk="$t_kill" '
    $1 == "start" { s[$2 " " $3] = $4 }
    $1 == "stop" { e[$2 " " $3] = $4 }
    END { for (r in s) print r, s[r], (r in e) ? e[r] : (r == k " " ke ? tk : "open") }' |
  sort -k3,3n)
echo "$runs" | sed 's/^/       /'
expect_eq "no overlap, lost or fenced line over the whole test" "" "$(bad "$APP")"
check "no run is left open" eval '! grep -q " open$" <<<"$runs"'
check "runs are disjoint in time, each start after the previous end" \
  eval 'awk "NR > 1 && \$3 < p { exit 1 } { p = \$4 }" <<<"$runs"'
check "epochs grow from run to run" eval 'awk "NR > 1 && \$2 <= p { exit 1 } { p = \$2 }" <<<"$runs"'
echo "     other lines of the check: $(sc "$APP" | awk '$3 == "reversioned"' | wc -l) reversioned," \
  "$(sc "$APP" | awk '$3 == "error"' | wc -l) errors"
sc "$APP" | awk '$3 == "error" || $3 == "reversioned"' | head -n 5 | sed 's/^/       /'
echo "     failover: ${failover} ms after kill -9"

weft_finish
