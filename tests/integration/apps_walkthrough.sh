#!/usr/bin/env bash
# apps_walkthrough.sh — the tutorial's "Deploy an Application" walkthrough
# (issue 6, README "Deploy an application") on 2 real nodes (--clustered),
# with the example app examples/cluster-example (cluster-example.so: queue
# /queue/msg, a listener printing "received: N", cache "counters", the
# singleton daemon "counter" printing "sending: N"). Every observation is
# read from the nodes' output (their logs) or from weftctl:
#  1. hot deploy: the .so copied into n1's deployments/ is loaded (weftctl
#     apps) and runs: n1 prints "sending: 1" (fresh cache) and receives;
#     removing the file undeploys it: the daemon says "counter: stopped".
#  2. `weftctl deploy --all`: both nodes load it; exactly one prints
#     "sending: N" (N continues after the hot deploy's last count), both
#     print "received: N"; `weftctl daemons` names the node that sends.
#  3. kill -9 of that node (right after its count was stored): within
#     10 s the other prints "sending: M" with M > the last N before the
#     kill (the count continues from the cache, no restart from 1);
#     `weftctl daemons` names the survivor.
#  4. the killed node restarted (same home): it gets the app again (through
#     the replicated cache weft.apps), receives messages again, and the
#     daemon does not move back (the restarted node prints no "sending",
#     the survivor keeps sending, daemons still names the survivor).
#  5. a bad app (no weft_app_init) deployed to one node with weftctl is
#     refused with a log line naming it, is not listed as loaded, and the
#     node keeps serving (ping, get) and receiving.
#  6. `weftctl undeploy --all`: both nodes drop the app, the daemon stops
#     ("counter: stopped") and nothing sends any more.
# Uses only 10.231.60.0/24. Removes every namespace, veth, bridge and
# process it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

APP=cluster-example
APP_SO=$WEFT_BUILD/examples/cluster-example/$APP.so
BAD_SO=$WEFT_BUILD/tests/integration/app-no-init.so
DAEMON=$APP/counter
sub=10.231.60
[ -f "$APP_SO" ] && [ -f "$BAD_SO" ] || { echo "no $APP_SO or $BAD_SO: build first"; exit 1; }

cl_net aw "$sub"
for i in 1 2; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "2 nodes form one view" wait_view 30 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
check "the view is rebalanced on both" wait_rebalanced 30 "${addr[n1]}" "${addr[n2]}"

# --- reading the nodes' output ----------------------------------------------------

nlog() { echo "$WEFT_TMP/$1.log"; }
# mark NAME: how many lines NAME's output has now (read later with since).
mark() { wc -l <"$(nlog "$1")"; }
# since NAME MARK: NAME's output after line MARK.
since() { tail -n "+$(($2 + 1))" "$(nlog "$1")"; }
# nums NAME MARK WORD: the N of each "WORD: N" line after MARK, one a line.
nums() { since "$1" "$2" | sed -n "s/^$3: \([0-9][0-9]*\)\$/\1/p"; }
count_of() { nums "$@" | wc -l; }
at_least() { local want=$1; shift; [ "$(count_of "$@")" -ge "$want" ]; }
first_of() { nums "$@" | head -n 1; }
last_of() { nums "$@" | tail -n 1; }
# increasing NAME MARK: the "sending" numbers after MARK strictly increase.
increasing() { nums "$1" "$2" sending | awk 'NR > 1 && $1 <= p { exit 1 } { p = $1 }'; }
said() { since "$1" "$2" | grep -q -- "$3"; }
# sent_after_stop NAME MARK: "sending" lines after NAME's first
# "counter: stopped" past MARK.
sent_after_stop() {
  since "$1" "$2" | awk '/^counter: stopped/ { s = 1 } s && /^sending: / { n++ } END { print n + 0 }'
}

# loaded ADDR: ADDR lists "app cluster-example loaded ..." (weftctl apps).
loaded() { ctl "$1" apps 2>/dev/null | grep -q "^app $APP loaded "; }
not_loaded() { ctl "$1" apps >/dev/null 2>&1 && ! loaded "$1"; }
# runner_of ADDR: the NODE column of the daemon's row in ADDR's
# `weftctl daemons` ("DAEMON KIND NODE STATE EPOCH SINCE").
runner_of() { ctl "$1" daemons 2>/dev/null | awk -v d="$DAEMON" '$1 == d { print $3 }'; }
runner_is() { [ "$(runner_of "$1")" = "$2" ]; }
# no_daemon ADDR: ADDR answers `weftctl daemons` with no row for the daemon.
no_daemon() {
  local t
  t=$(ctl "$1" daemons 2>/dev/null) || return 1
  ! awk -v d="$DAEMON" '$1 == d { f = 1 } END { exit !f }' <<<"$t"
}
# running_on ADDR: the members whose row of `daemons --all` says running.
running_on() {
  ctl "$1" daemons --all 2>/dev/null |
    awk -v d="$DAEMON" '$2 == d && $5 == "running" { print $1 }' | sort | paste -sd, -
}
running_is() { [ "$(running_on "$1")" = "$2" ]; }
show_daemons() { ctl "$1" daemons --all 2>&1 | sed 's/^/     /' || true; }

# --- 1. hot deploy through n1's deployments/ ----------------------------------------

dep=$WEFT_TMP/n1-home/deployments
mkdir -p "$dep"
m1=$(mark n1)
# Copied under another name, then renamed: the runtime never sees half a file.
cp "$APP_SO" "$dep/.$APP.tmp" && mv "$dep/.$APP.tmp" "$dep/$APP.so"
check "hot deploy: n1 loads $APP.so from deployments/ (weftctl apps)" \
  wait_for 10 loaded "${addr[n1]}"
ctl "${addr[n1]}" apps | sed 's/^/     n1: /' || true
check "hot deploy: n1 prints 'sending: N' and 'received: N' (2 of each)" \
  wait_for 15 eval 'at_least 2 n1 "$m1" sending && at_least 2 n1 "$m1" received'
expect_eq "hot deploy: the first count is 1 (cache 'counters' was empty)" 1 "$(first_of n1 "$m1" sending)"
check "hot deploy: n2, without the app, neither sends nor receives" \
  eval '! at_least 1 n2 0 sending && ! at_least 1 n2 0 received'
rm -f "$dep/$APP.so"
check "hot undeploy: removing the file unloads it from n1" wait_for 10 not_loaded "${addr[n1]}"
check "hot undeploy: the daemon was stopped ('counter: stopped')" \
  wait_for 10 said n1 "$m1" "^counter: stopped"
hot_last=$(last_of n1 "$m1" sending)
echo "     hot deploy sent 1..$hot_last"

# --- 2. deploy --all -------------------------------------------------------------------

declare -A mk
mk[n1]=$(mark n1); mk[n2]=$(mark n2)
out=$(ctl "${addr[n1]}" deploy "$APP_SO" --all 2>&1) || true
echo "     $out"
check "deploy --all: weftctl reports it deployed" grep -q "^deployed $APP " <<<"$out"
check "deploy --all: n1 and n2 load it" \
  wait_for 15 eval 'loaded "${addr[n1]}" && loaded "${addr[n2]}"'
check "deploy --all: 3 counts sent, and both nodes receive" \
  wait_for 30 eval '[ $(( $(count_of n1 "${mk[n1]}" sending) + $(count_of n2 "${mk[n2]}" sending) )) -ge 3 ] &&
                    at_least 1 n1 "${mk[n1]}" received && at_least 1 n2 "${mk[n2]}" received'
senders=""
for n in n1 n2; do at_least 1 "$n" "${mk[$n]}" sending && senders="$senders $n"; done
senders=${senders# }
echo "     sending on: '$senders'"
check "deploy --all: exactly one node sends" test -n "$senders" -a "$senders" = "${senders%% *}"
runner=${senders%% *}
[ -n "$runner" ] || { echo "     no node sends: cannot go on"; exit 1; }
mr=${mk[$runner]}
first=$(first_of "$runner" "$mr" sending)
check "deploy --all: the count goes on from the cache ($first > $hot_last)" \
  test "${first:-0}" -gt "${hot_last:-0}"
check "deploy --all: $runner's counts strictly increase" increasing "$runner" "$mr"
show_daemons "${addr[n1]}"
check "weftctl daemons (n1 and n2) names $runner as the node running $DAEMON" \
  wait_for 10 eval 'runner_is "${addr[n1]}" "$runner" && runner_is "${addr[n2]}" "$runner"'
check "weftctl daemons --all: running on $runner only" wait_for 10 running_is "${addr[n1]}" "$runner"

# --- 3. kill -9 of the daemon's node ------------------------------------------------------

if [ "$runner" = n1 ]; then other=n2; else other=n1; fi
# stored RUNNER MARK: the cache holds the count after RUNNER's last
# "sending: N" (N + 1): the kill then falls in the daemon's sleep, not
# between its send and its store.
stored() {
  local n v
  n=$(last_of "$1" "$2" sending)
  v=$(ctl "${addr[$other]}" get counters value 2>/dev/null) || return 1
  [ -n "$n" ] && [ "$v" = $((n + 1)) ]
}
check "the count after $runner's last send is stored" wait_for 10 stored "$runner" "$mr"
mo=$(mark "$other")
kill -KILL "${pid[$runner]}"
t_kill=$(date +%s%N)
wait_exit "${pid[$runner]}" 10
last=$(last_of "$runner" "$mr" sending)
echo "     killed $runner (last sent: $last); $other takes over?"
check "after the kill, $other prints 'sending: M' within 10 s" \
  wait_for 10 at_least 1 "$other" "$mo" sending
t_first=$(date +%s%N)
echo "     $other's first send $(( (t_first - t_kill) / 1000000 )) ms after the kill"
m_first=$(first_of "$other" "$mo" sending)
check "the count continues from the cache: $m_first > $last (no restart from 1)" \
  test "${m_first:-0}" -gt "${last:-0}"
check "$other keeps counting (3 more) and receives" \
  wait_for 15 eval 'at_least 3 "$other" "$mo" sending && at_least 2 "$other" "$mo" received'
check "$other's counts strictly increase" increasing "$other" "$mo"
check "weftctl daemons on $other names $other" wait_for 10 runner_is "${addr[$other]}" "$other"

# --- 4. the killed node comes back ------------------------------------------------------

cp "$(nlog "$runner")" "$WEFT_TMP/$runner.before-kill.log"
weft_start_node "$runner" "$CL_NS-$runner" "${addr[$runner]}" --node-name "$runner" --lcores 1 --clustered
pid[$runner]=$NODE_PID
weft_wait_ready "${addr[$runner]}" "${pid[$runner]}"
check "$runner rejoins: one view of 2" wait_view 30 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
mo=$(mark "$other")
check "$runner loads the app again (weft.apps)" wait_for 20 loaded "${addr[$runner]}"
check "$runner receives messages again (2)" wait_for 30 at_least 2 "$runner" 0 received
check "$other keeps sending meanwhile (3 more)" wait_for 15 at_least 3 "$other" "$mo" sending
expect_eq "the daemon does not move back: $runner printed no 'sending'" 0 "$(count_of "$runner" 0 sending)"
check "weftctl daemons still names $other (asked of both)" \
  eval 'runner_is "${addr[n1]}" "$other" && runner_is "${addr[n2]}" "$other"'
check "weftctl daemons --all: running on $other only" running_is "${addr[n1]}" "$other"
show_daemons "${addr[n1]}"

# --- 5. a bad app ------------------------------------------------------------------------

mo=$(mark "$other")
out=$(ctl "${addr[$other]}" deploy "$BAD_SO" 2>&1) || true
echo "     $out"
check "weftctl deploy of app-no-init.so to $other is sent" grep -q "^deployed app-no-init " <<<"$out"
refused() { since "$other" "$mo" | grep -i "app-no-init" | grep -qiE "refus|reject"; }
check "$other refuses app-no-init with a log line naming it" wait_for 15 refused
since "$other" "$mo" | grep -i "app-no-init" | head -n 3 | sed 's/^/     log: /'
check "app-no-init is not listed as loaded" \
  eval '! ctl "${addr[$other]}" apps 2>/dev/null | grep -q "^app app-no-init loaded"'
check "$other still answers ping" eval 'ctl "${addr[$other]}" ping >/dev/null'
check "$other still serves get counters value" eval 'ctl "${addr[$other]}" get counters value >/dev/null'
check "$other still runs the daemon (2 more sends)" wait_for 15 at_least 2 "$other" "$mo" sending
expect_status "weftctl undeploy app-no-init" 0 ctl "${addr[$other]}" undeploy app-no-init
expect_status "weftctl undeploy of an app not deployed there" 1 ctl "${addr[$other]}" undeploy app-no-init

# --- 6. undeploy --all ---------------------------------------------------------------------

mk[n1]=$(mark n1); mk[n2]=$(mark n2)
expect_status "weftctl undeploy $APP --all" 0 ctl "${addr[n1]}" undeploy "$APP" --all
check "undeploy: neither node lists the app" \
  wait_for 15 eval 'not_loaded "${addr[n1]}" && not_loaded "${addr[n2]}"'
check "undeploy: the daemon on $other stopped ('counter: stopped')" \
  wait_for 10 said "$other" "${mk[$other]}" "^counter: stopped"
check "undeploy: weftctl daemons lists no $DAEMON" \
  wait_for 10 eval 'no_daemon "${addr[n1]}" && no_daemon "${addr[n2]}"'
expect_eq "undeploy: $other sent nothing after its daemon stopped" 0 \
  "$(sent_after_stop "$other" "${mk[$other]}")"
expect_eq "undeploy: the daemon did not start on $runner meanwhile (no 'sending')" 0 \
  "$(count_of "$runner" "${mk[$runner]}" sending)"
mk[n1]=$(mark n1); mk[n2]=$(mark n2)
# An absence: watched for 3 periods of the daemon.
sleep 3
expect_eq "undeploy: no node sends any more" 0 \
  "$(( $(count_of n1 "${mk[n1]}" sending) + $(count_of n2 "${mk[n2]}" sending) ))"

weft_finish
