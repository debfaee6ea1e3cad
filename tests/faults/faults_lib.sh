# tests/faults/faults_lib.sh — the fault scenarios' helpers, sourced by
# tests/faults/run after tests/integration/lib.sh and cluster_lib.sh. Owns:
# the impaired topology (per node: its namespace's veth, weft-netem between
# the host end and a second veth pair whose peer is a port of the
# scenario's bridge), starting / killing / restarting nodes, setting a
# node's link impairments, the register and queue loads and the verdict
# (weft-history-check's CHECK line turned into the FAULTS line).
#
# Invariants: every namespace, link and process is recorded in lib.sh's
# arrays, so weft_cleanup removes it on any exit; fx_teardown removes a
# scenario's own at its end and forgets their pids. Addresses are only
# 10.232.S.0/24 (S: the scenario's number). Every wait is bounded.

FC=$WEFT_BUILD/tests/faults/weft-faults-client
NETEM=$WEFT_BUILD/tests/faults/weft-netem
CHECKER=$WEFT_BUILD/tests/faults/check/weft-history-check
SINGLETON_SO=$WEFT_BUILD/tests/integration/apps/singleton-check.so

declare -A ifid netem_pid netem_gen
FX_NODES=()   # the scenario's node names, n1..nN
FX_ADDRS=()   # their addresses

fx_forget_pid() {
  local keep=() p
  for p in "${_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  _pids=("${keep[@]}")
}

# fx_net S: the scenario's bridge fx<id>b holding 10.232.S.1 for the host.
fx_net() {
  FX_SUB=10.232.$1
  FX_ID=$(( $$ % 100000 ))s$1
  FX_BR=f${FX_ID}b
  weft_bridge "$FX_BR" "$FX_SUB"
  ethtool -K "$FX_BR" tx off >/dev/null 2>&1 || true
  FX_NODES=() FX_ADDRS=()
}

_quiet_link() {
  sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null || true
  ethtool -K "$1" tx off >/dev/null 2>&1 || true
  ip link set "$1" up
}

# fx_link NAME I: node I's namespace and links, and its weft-netem:
#   ns veth f<id>n<I>  <->  f<id>h<I>  [weft-netem]  f<id>p<I>  <->  f<id>q<I> (bridge port)
fx_link() {
  local name=$1 i=$2 pre=f$FX_ID ns=fx$$-$FX_ID-$1
  ip netns add "$ns"; _namespaces+=("$ns")
  ip link add "${pre}h$i" type veth peer name "${pre}n$i"; _links+=("${pre}h$i")
  ip link add "${pre}p$i" type veth peer name "${pre}q$i"; _links+=("${pre}p$i")
  ip link set "${pre}n$i" netns "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "${pre}n$i" up
  for l in "${pre}h$i" "${pre}p$i" "${pre}q$i"; do _quiet_link "$l"; done
  ip link set "${pre}q$i" master "$FX_BR"
  ifid[$name]=$i
  local ctlf=$WEFT_TMP/netem-$name.ctl
  echo "gen 0" >"$ctlf"
  netem_gen[$name]=0
  "$NETEM" --a "${pre}h$i" --b "${pre}p$i" --ctl "$ctlf" --seed "$((FX_SEED + i))" \
    2>"$WEFT_TMP/netem-$name.log" &
  netem_pid[$name]=$!
  _pids+=("$!")
  wait_for 5 grep -qsx "gen 0 ok" "$ctlf.applied"
}

# fx_start NAME [weftd args...]: starts (or restarts: same home) weftd for
# NAME in its namespace; its output is appended to $WEFT_TMP/NAME.log.
fx_start() {
  local name=$1; shift
  local i=${ifid[$name]}
  ip netns exec "fx$$-$FX_ID-$name" "$WEFTD" --port "af_packet:f${FX_ID}n$i" \
    --bind "$FX_SUB.1$i" --home "$WEFT_TMP/$FX_ID-$name-home" --node-name "$name" \
    --lcores 1 --clustered "${FX_WEFTD_ARGS[@]}" "$@" >>"$WEFT_TMP/$name.log" 2>&1 &
  pid[$name]=$!
  addr[$name]=$FX_SUB.1$i
  _pids+=("$!")
}

fx_members() { local n out=""; for n in "${FX_NODES[@]}"; do out+="${out:+,}$n:alive"; done; echo "$out"; }

# fx_cluster S N [weftd args...]: N nodes n1..nN on scenario S's network,
# one view, rebalanced. The args go to every start of every node.
fx_cluster() {
  local s=$1 n=$2; shift 2
  FX_WEFTD_ARGS=("$@")
  fx_net "$s"
  for i in $(seq "$n"); do
    fx_link "n$i" "$i"
    FX_NODES+=("n$i") FX_ADDRS+=("$FX_SUB.1$i")
  done
  for i in $(seq "$n"); do fx_start "n$i"; done
  for i in $(seq "$n"); do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}" 60 || return 1; done
  wait_view 60 "$(fx_members)" "${FX_ADDRS[@]}" >/dev/null || return 1
  wait_rebalanced 60 "${FX_ADDRS[@]}" >/dev/null
}

# fx_healthy [SECONDS]: every node in one view with every member alive and
# rebalanced (bounded, default 60 s).
fx_healthy() {
  local limit=${1:-60}
  wait_view "$limit" "$(fx_members)" "${FX_ADDRS[@]}" >/dev/null &&
    wait_rebalanced "$limit" "${FX_ADDRS[@]}" >/dev/null
}

# fx_kill9 NAME / fx_restart NAME: kill -9 (reaped), then start again and
# wait until it answers.
fx_kill9() {
  kill -KILL "${pid[$1]}" 2>/dev/null || true
  wait "${pid[$1]}" 2>/dev/null || true
  fx_forget_pid "${pid[$1]}"
}
fx_restart() { fx_start "$1"; weft_wait_ready "${addr[$1]}" "${pid[$1]}" 60; }

# fx_stop NAME: SIGTERM and wait (bounded 30 s, then kill -9).
fx_stop() {
  kill -TERM "${pid[$1]}" 2>/dev/null || true
  wait_exit "${pid[$1]}" 30
  [ "$EXIT_ST" = running ] && fx_kill9 "$1"
  fx_forget_pid "${pid[$1]}"
}

# fx_impair NAME A2B B2A: node NAME's link settings (netem.h fields) for
# its egress (a2b) and ingress (b2a); waits until weft-netem applied them.
fx_impair() {
  local name=$1 ctlf=$WEFT_TMP/netem-$1.ctl g=$(( ${netem_gen[$1]} + 1 ))
  netem_gen[$name]=$g
  printf 'gen %s\na2b %s\nb2a %s\n' "$g" "$2" "$3" >"$ctlf.tmp"
  mv "$ctlf.tmp" "$ctlf"
  kill -HUP "${netem_pid[$name]}"
  wait_for 5 grep -qsx "gen $g ok" "$ctlf.applied" || { echo "     netem $name: $(cat "$ctlf.applied")"; return 1; }
}
fx_impair_all() { local n; for n in "${FX_NODES[@]}"; do fx_impair "$n" "$1" "$2" || return 1; done; }
fx_heal_all() { fx_impair_all "" ""; }

# fx_block NAME IP,...: NAME's link drops every frame to or from those IPs.
fx_block() { fx_impair "$1" "block=$2" "block=$2"; }

# fx_teardown: kills the scenario's nodes (kill -9: the verdict is in, a
# graceful hand-off would only cost time) and stops its netems (their
# counters go to their logs); removes its namespaces and links.
fx_teardown() {
  local n
  for n in "${FX_NODES[@]}"; do fx_kill9 "$n"; done
  for n in "${FX_NODES[@]}"; do
    kill -TERM "${netem_pid[$n]}" 2>/dev/null || true
    wait_exit "${netem_pid[$n]}" 10
    [ "$EXIT_ST" = running ] && kill -KILL "${netem_pid[$n]}" 2>/dev/null
    fx_forget_pid "${netem_pid[$n]}"
  done
  weft_remove_network
  _links=() _namespaces=()
}

# --- loads ------------------------------------------------------------------------

# fx_register_start HIST SECONDS [client args...]: the register load in the
# background on every node's address; sets REG_PID.
fx_register_start() {
  local hist=$1 secs=$2; shift 2
  "$FC" register --servers "$(IFS=,; echo "${FX_ADDRS[*]}")" --cache reg --out "$hist" \
    --seconds "$secs" --seed "$FX_SEED" "$@" 2>>"$WEFT_TMP/client.log" &
  REG_PID=$!
  _pids+=("$!")
}

# fx_queue_start HIST SECONDS [client args...]: the queue load; sets Q_PID.
fx_queue_start() {
  local hist=$1 secs=$2; shift 2
  "$FC" queue --servers "$(IFS=,; echo "${FX_ADDRS[*]}")" --dest /queue/faults --out "$hist" \
    --seconds "$secs" --tag q "$@" 2>>"$WEFT_TMP/client.log" &
  Q_PID=$!
  _pids+=("$!")
}

# fx_session_start HIST SECONDS [client args...]: the session load (sessions
# of the default store read and written as registers); sets S_PID.
fx_session_start() {
  local hist=$1 secs=$2; shift 2
  "$FC" session --servers "$(IFS=,; echo "${FX_ADDRS[*]}")" --cache weft.sessions \
    --out "$hist" --seconds "$secs" --seed "$FX_SEED" --tag z "$@" 2>>"$WEFT_TMP/client.log" &
  S_PID=$!
  _pids+=("$!")
}

# fx_wait_client PID SECONDS: waits for a load to end by itself (bounded;
# SIGTERM then).
fx_wait_client() {
  wait_exit "$1" "$2"
  if [ "$EXIT_ST" = running ]; then
    kill -TERM "$1" 2>/dev/null || true
    wait_exit "$1" 15
  fi
  fx_forget_pid "$1"
}

# fx_running PID: the load is still running.
fx_running() { kill -0 "$1" 2>/dev/null; }

# fx_oks HIST: acknowledged operations in a history so far.
fx_oks() { grep -c ' ok ' "$1" 2>/dev/null || true; }
fx_oks_ge() { [ "$(fx_oks "$1")" -ge "$2" ]; }
# fx_progress HIST N SECONDS: waits (bounded) for N more acked ops.
fx_progress() { local want=$(( $(fx_oks "$1") + $2 )); wait_for "$3" fx_oks_ge "$1" "$want"; }

# fx_verify HIST [--direct ADDR]: the verify pass appended to HIST through
# every node (or ADDR alone, routing off); prints the VERIFY line.
fx_verify() {
  local hist=$1; shift
  local servers
  servers=$(IFS=,; echo "${FX_ADDRS[*]}")
  if [ "${1:-}" = --direct ]; then servers=$2; set -- --direct; fi
  "$FC" verify --servers "$servers" --cache reg --out "$hist" --keys "$FX_KEYS" \
    --tag "v$RANDOM" "$@" 2>>"$WEFT_TMP/client.log"
}

# --- verdict ----------------------------------------------------------------------

# fx_check NAME HIST [checker options]: runs the checker; sets CHECK_LINE, CHECK_RC and the
# fields ck[ops], ck[acked_writes], ... from its last line.
declare -A ck
fx_check() {
  local name=$1 hist=$2 out; shift 2
  CHECK_RC=0
  out=$("$CHECKER" "$@" "$hist" 2>&1) || CHECK_RC=$?
  CHECK_LINE=$(echo "$out" | grep '^CHECK ' | tail -n 1)
  if [ -z "$CHECK_LINE" ]; then
    echo "     checker said (exit $CHECK_RC):"; echo "$out" | tail -n 20 | sed 's/^/       /'
    CHECK_LINE="CHECK ops=0 keys=0 acked_writes=0 lost_writes=0 lost_messages=0 duplicates=0 phantoms=0 double_singletons=0 linearizable=unknown"
    CHECK_RC=2
  fi
  echo "$out" | grep -v '^CHECK ' | head -n 40 | sed 's/^/     /'
  ck=()
  local kv
  for kv in ${CHECK_LINE#CHECK }; do ck[${kv%%=*}]=${kv#*=}; done
  mkdir -p "$FX_RESULTS"
  cp "$hist" "$FX_RESULTS/$name.history" 2>/dev/null || true
}

# Scenarios that still reach a weft bug that is understood but not fixed
# yet (docs/faults.md "Known bugs"): their failure is printed as KNOWN-BUG
# with the bug's name and not counted, as the simulator's known-bug seeds;
# everything else they check (setup, bounded waits) still counts. Remove a
# name once its bug is fixed.
declare -A FX_KNOWN_BUGS=()

# Failed scenarios, "NAME: REASON (seed N)", listed again at the end of
# the run (a CI log shows its tail).
FX_FAILED=()

# fx_keep_logs NAME: copies the scenario's node and netem logs to
# $FX_RESULTS/NAME-logs (the run's temporary directory goes at exit).
fx_keep_logs() {
  local f
  mkdir -p "$FX_RESULTS/$1-logs"
  for f in "$WEFT_TMP"/*.log; do
    [ -f "$f" ] && cp "$f" "$FX_RESULTS/$1-logs/"
  done
  return 0
}

# fx_result NAME DOUBLE_SINGLETONS VERDICT REASON: prints the FAULTS line
# (and the reason when it fails); counts a failure unless VERDICT is ok or
# the scenario is a known bug's.
fx_result() {
  local name=$1 ds=$2 verdict=$3 why=$4
  echo "FAULTS scenario=$name ops=${ck[ops]} acked_writes=${ck[acked_writes]}" \
    "lost_writes=${ck[lost_writes]} lost_messages=${ck[lost_messages]}" \
    "duplicates=${ck[duplicates]} double_singletons=$ds linearizable=${ck[linearizable]}" |
    tee -a "$FX_RESULTS/FAULTS"
  _checks=$((_checks + 1))
  if [ "$verdict" = ok ]; then
    echo "ok   - $name${why:+ ($why)}"
  elif [ -n "${FX_KNOWN_BUGS[$name]:-}" ]; then
    echo "KNOWN-BUG - $name: $why (${FX_KNOWN_BUGS[$name]}; seed $FX_SEED; history kept in $FX_RESULTS/$name.history)"
    fx_keep_logs "$name"
  else
    echo "FAIL - $name: $why (seed $FX_SEED; history kept in $FX_RESULTS/$name.history)"
    _failures=$((_failures + 1))
    FX_FAILED+=("$name: $why (seed $FX_SEED)")
    fx_keep_logs "$name"
  fi
}

# fx_strict_verdict PHANTOM_OK: the verdict of a mode that promises no lost
# acknowledged write or message, no phantom and linearizability: sets
# VERDICT and WHY.
fx_strict_verdict() {
  VERDICT=ok WHY=""
  [ "${ck[lost_writes]}" = 0 ] || WHY+="lost acknowledged writes; "
  [ "${ck[lost_messages]}" = 0 ] || WHY+="lost acknowledged messages; "
  [ "${ck[phantoms]:-0}" = 0 ] || WHY+="phantom values; "
  [ "${ck[linearizable]}" != no ] || WHY+="not linearizable; "
  [ "$CHECK_RC" != 2 ] || WHY+="checker refused the history; "
  [ -z "$WHY" ] || VERDICT=fail
}
