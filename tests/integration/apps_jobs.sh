#!/usr/bin/env bash
# apps_jobs.sh — a singleton cron job on 3 real nodes (issue 6, "Tests": a
# cron job every second fires once per second cluster-wide, not once per
# node, and keeps firing across a kill of its node with at most one missed
# or doubled fire around the failover; docs/jobs.md "Misfires").
#
# The app is tests/integration/apps/cron_job.c (cron-job.so, job "tick",
# "* * * * * ?"): each fire does weft_incr on a key of a distributed cache
# and prints "cj cron-job fire MS NODE epoch E n N" (MS: unix ms of the
# fire, N: the cluster's count after it). Steps:
#  1. `weftctl deploy --all cron-job.so`: the 3 nodes load it; over the 10
#     whole seconds after the first fire, every second has exactly one fire
#     (cluster-wide: the 3 nodes' outputs together), all on one node, and
#     the grid's count grows by one per fire.
#  2. `weftctl jobs`, asked of each node, names that node; asked of it, the
#     job is running with a next fire time within 2 s from now; `jobs
#     --all` shows it running there and idle on the others.
#  3. kill -9 of that node right after one of its fires: another node fires
#     within 5 s of the kill (the failover bound; failure detection takes
#     about a second, so a slot passes meanwhile and the new node's first
#     fire is that slot's late fire, at takeover); from the killed node's
#     last fire to 5 s after the new node's first, the fires differ from the
#     schedule's slots by at most one (missed or doubled), no second has
#     more than two, and every whole second after the takeover has exactly
#     one fire; `weftctl jobs` on a survivor names the new node with a next
#     fire time.
#  4. `weftctl undeploy cron-job --all`: no node lists the app, `weftctl
#     jobs` lists nothing, no other node fired meanwhile (the released claim
#     is not taken by a node whose copy of the app is about to go), and
#     watched for 3 s (3 slots) nothing fires.
#  5. over the whole test: no second has two fires except at most one in
#     the failover window, and the N of all fires are distinct.
# Uses only 10.231.62.0/24. Removes every namespace, veth, bridge and
# process it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

APP=cron-job
APP_SO=$WEFT_BUILD/tests/integration/apps/$APP.so
JOB=$APP/tick
FAILOVER_MS=5000
sub=10.231.62
[ -f "$APP_SO" ] || { echo "no $APP_SO: build first"; exit 1; }

now_ms() { date +%s%3N; }
past_ms() { [ "$(now_ms)" -ge "$1" ]; }

cl_net aj "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
all_addr=("${addr[n1]}" "${addr[n2]}" "${addr[n3]}")
check "3 nodes form one view" wait_view 30 "n1:alive,n2:alive,n3:alive" "${all_addr[@]}"
check "the view is rebalanced on all" wait_rebalanced 30 "${all_addr[@]}"

# --- reading the nodes' output ------------------------------------------------------
# Every node's output (a killed node's is kept); the fire lines name their node.

# fires: "MS NODE EPOCH N" of every fire of the cluster so far, by time.
fires() {
  cat "$WEFT_TMP"/*.log 2>/dev/null |
    awk -v a="$APP" '$1 == "cj" && $2 == a && $3 == "fire" { print $4, $5, $7, $9 }' | sort -n
}
n_fires() { fires | wc -l; }
n_fires_ge() { [ "$(n_fires)" -ge "$1" ]; }
# fires_of NODE: NODE's fires.
fires_of() { fires | awk -v n="$1" '$2 == n'; }
n_fires_of_ge() { [ "$(fires_of "$1" | wc -l)" -ge "$2" ]; }
# in_secs FROM TO: the fires in whole seconds FROM..TO (unix s, inclusive).
in_secs() { fires | awk -v a="$1" -v b="$2" '{ s = int($1 / 1000) } s >= a && s <= b'; }
# per_sec FROM TO: "SECOND COUNT" for each second FROM..TO.
per_sec() {
  in_secs "$1" "$2" | awk -v a="$1" -v b="$2" '{ c[int($1 / 1000)]++ }
    END { for (s = a; s <= b; s++) print s, c[s] + 0 }'
}
# one_each FROM TO: each second FROM..TO has exactly one fire.
one_each() { per_sec "$1" "$2" | awk '$2 != 1 { bad = 1 } END { exit bad }'; }
# late FROM TO: the largest delay of a fire after its whole second, in ms.
late() { in_secs "$1" "$2" | awk '{ d = $1 % 1000; if (d > m) m = d } END { print m + 0 }'; }

loaded() { ctl "$1" apps 2>/dev/null | grep -q "^app $APP loaded "; }
loaded_all() { for a in "${all_addr[@]}"; do loaded "$a" || return 1; done; }
# job_row ADDR: the job's row of ADDR's `weftctl jobs`
# ("JOB KIND NODE STATE EPOCH NEXT LAST RESULT FIRES").
job_row() { ctl "$1" jobs 2>/dev/null | awk -v j="$JOB" '$1 == j'; }
node_is() { for a in "${@:2}"; do [ "$(job_row "$a" | awk '{ print $3 }')" = "$1" ] || return 1; done; }
# scheduled_on NODE ADDR: ADDR's row names NODE, running, with a next fire
# time within [now - 1 s, now + 2 s].
scheduled_on() {
  local row next t now
  row=$(job_row "$2")
  read -r _ _ node state _ next _ <<<"$row" || return 1
  [ "$node" = "$1" ] && [ "$state" = running ] && [ "$next" != - ] || return 1
  t=$(date -u -d "$next" +%s 2>/dev/null) || return 1
  now=$(date +%s)
  [ "$t" -ge $((now - 1)) ] && [ "$t" -le $((now + 2)) ]
}
no_job() {
  local t
  t=$(ctl "$1" jobs 2>/dev/null) || return 1
  ! awk -v j="$JOB" '$1 == j { f = 1 } END { exit !f }' <<<"$t"
}
# states ADDR: "MEMBER:STATE,..." of `jobs --all`, sorted.
states() {
  ctl "$1" jobs --all 2>/dev/null | awk -v j="$JOB" '$2 == j { print $1 ":" $5 }' | sort | paste -sd, -
}
states_are() { [ "$(states "$1")" = "$2" ]; }
show_jobs() { ctl "$1" jobs --all 2>&1 | sed 's/^/     /' || true; }

# --- 1. once per second, cluster-wide ----------------------------------------------------

out=$(ctl "${addr[n1]}" deploy "$APP_SO" --all 2>&1) || true
echo "     $out"
check "deploy --all: the 3 nodes load $APP" wait_for 20 loaded_all
check "the job fires" wait_for 20 n_fires_ge 1
read -r first runner _ <<<"$(fires | head -n 1)" || true
[ -n "$runner" ] || { echo "     no fire: cannot go on"; exit 1; }
a=$(( first / 1000 + 1 )); b=$((a + 9))
echo "     first fire on $runner at $first; watching seconds $a..$b"
# The fire of second b, at b.000 plus its delay (500 ms is 10 times the
# delay seen on this 2-core box).
check "10 more seconds pass" wait_for 20 past_ms $(( (b + 1) * 1000 + 500 ))
w=$(in_secs "$a" "$b")
echo "     fires per second: $(per_sec "$a" "$b" | awk '{ printf "%s ", $2 }'); latest $(late "$a" "$b") ms into its second"
expect_eq "10 fires in the 10 seconds, cluster-wide" 10 "$(wc -l <<<"$w")"
check "each second has exactly one fire" one_each "$a" "$b"
expect_eq "all on one node" "$runner" "$(awk '{ print $2 }' <<<"$w" | sort -u | paste -sd, -)"
check "the grid's count grows by one per fire" \
  eval 'awk "NR > 1 && \$4 != p + 1 { exit 1 } { p = \$4 }" <<<"$w"'

# --- 2. weftctl jobs ----------------------------------------------------------------------

check "weftctl jobs, asked of each node, names $runner" wait_for 10 node_is "$runner" "${all_addr[@]}"
check "weftctl jobs on $runner: running, next fire within 2 s" \
  wait_for 10 scheduled_on "$runner" "${addr[$runner]}"
want=$(for n in n1 n2 n3; do [ "$n" = "$runner" ] && echo "$n:running" || echo "$n:idle"; done | paste -sd, -)
check "weftctl jobs --all: $want" wait_for 10 states_are "${addr[n1]}" "$want"
show_jobs "${addr[n1]}"

# --- 3. kill -9 of the job's node -----------------------------------------------------------

survivors=()
for n in n1 n2 n3; do [ "$n" = "$runner" ] || survivors+=("${addr[$n]}"); done
killed=$runner
k0=$(fires_of "$killed" | wc -l)
check "$killed fires once more" wait_for 5 n_fires_of_ge "$killed" $((k0 + 1))
kill -KILL "${pid[$killed]}"
t_kill=$(now_ms)
wait_exit "${pid[$killed]}" 10
last=$(fires_of "$killed" | tail -n 1 | awk '{ print $1 }')
echo "     killed $killed at $t_kill, $(( t_kill - last )) ms after its last fire ($last)"
newfire() { fires | awk -v k="$killed" -v t="$t_kill" '$1 > t && $2 != k' | grep -q .; }
check "another node fires (waited up to 10 s)" wait_for 10 newfire
read -r f runner _ <<<"$(fires | awk -v k="$killed" -v t="$t_kill" '$1 > t && $2 != k' | head -n 1)" || true
[ -n "$runner" ] || { echo "     no fire after the kill: cannot go on"; exit 1; }
failover=$((f - t_kill))
echo "     $runner fired first at $f, ${failover} ms after the kill"
check "the first fire after the kill came within ${FAILOVER_MS} ms (${failover} ms)" \
  test "$failover" -le "$FAILOVER_MS"
fa=$(( last / 1000 + 1 )); fs=$(( f / 1000 )); fb=$((fs + 5))
check "5 more seconds pass" wait_for 20 past_ms $(( (fb + 1) * 1000 + 500 ))
slots=$((fb - fa + 1))
got=$(in_secs "$fa" "$fb" | wc -l)
echo "     seconds $fa..$fb ($slots slots): $(per_sec "$fa" "$fb" | awk '{ printf "%s ", $2 }')=> $got fires, $((slots - got)) missed (negative: doubled)"
check "at most one fire missed or doubled around the failover ($got fires for $slots slots)" \
  test "$got" -ge $((slots - 1)) -a "$got" -le $((slots + 1))
check "no second has more than two fires" \
  eval 'per_sec "$fa" "$fb" | awk "\$2 > 2 { exit 1 }"'
check "every whole second after the takeover has one fire ($((fs + 1))..$fb)" one_each $((fs + 1)) "$fb"
expect_eq "after the takeover all fires are $runner's" "$runner" \
  "$(in_secs "$fs" "$fb" | awk '{ print $2 }' | sort -u | paste -sd, -)"
check "weftctl jobs on the survivors names $runner" wait_for 10 node_is "$runner" "${survivors[@]}"
check "weftctl jobs on $runner: running, next fire within 2 s" \
  wait_for 10 scheduled_on "$runner" "${addr[$runner]}"
want=$(for n in n1 n2 n3; do [ "$n" = "$runner" ] && echo "$n:running"; [ "$n" = "$runner" ] || [ "$n" = "$killed" ] || echo "$n:idle"; done | paste -sd, -)
check "weftctl jobs --all: $want" wait_for 10 states_are "${addr[$runner]}" "$want"
show_jobs "${addr[$runner]}"

# --- 4. undeploy --all --------------------------------------------------------------------

live=("${survivors[@]}")
unloaded_live() { for a in "${live[@]}"; do ctl "$a" apps >/dev/null 2>&1 && ! loaded "$a" || return 1; done; }
no_job_live() { for a in "${live[@]}"; do no_job "$a" || return 1; done; }
t_undeploy=$(now_ms)
expect_status "weftctl undeploy $APP --all" 0 ctl "${live[0]}" undeploy "$APP" --all
check "undeploy: no node lists the app" wait_for 15 unloaded_live
check "undeploy: weftctl jobs lists no $JOB" wait_for 10 no_job_live
# The app leaves every node (each within about a second): the runner's
# release must not hand the job to a node that still has the app.
expect_eq "undeploy --all: no other node fired meanwhile" "" \
  "$(fires | awk -v t="$t_undeploy" -v r="$runner" '$1 >= t && $2 != r')"
n_after=$(n_fires)
# An absence: watched for 3 slots of the schedule.
sleep 3
expect_eq "undeploy: nothing fires any more" "$n_after" "$(n_fires)"

# --- 5. the whole test ------------------------------------------------------------------------

all=$(fires)
doubled=$(awk '{ c[int($1 / 1000)]++ } END { for (s in c) if (c[s] > 1) print s }' <<<"$all" | sort -n)
echo "     $(wc -l <<<"$all") fires in all; seconds with two or more: ${doubled:-none}"
check "at most one second with two fires, and only around the failover" \
  eval '[ -z "$doubled" ] || { [ $(wc -l <<<"$doubled") -eq 1 ] && [ "$doubled" -ge "$fa" ] && [ "$doubled" -le "$((fs + 1))" ]; }'
check "the grid's counts of all fires are distinct" \
  eval '[ -z "$(awk "\$4 >= 0 { print \$4 }" <<<"$all" | sort | uniq -d)" ]'
echo "     failover: first fire ${failover} ms after kill -9; $((slots - got)) missed around it"

weft_finish
