# tests/faults/scenarios.sh — the fault scenarios of tests/faults/run
# (sourced; docs/faults.md says what each does and what it promises).
# sc_NAME S runs scenario NAME on subnet 10.232.S and prints its FAULTS
# line; it returns 1 only when its setup or a bounded wait failed.
#
# Invariants: every fault loop ends when the load ends (its --seconds);
# after the faults every impairment is lifted and the cluster is waited
# back to one healthy view before the verify pass reads every key.

FX_KEYS=16
FX_PROCS=6
FX_PACE=20
FX_CLIENT_ARGS=()

# fx_hold SECONDS: lets the fault act for SECONDS, or until the load ends.
fx_hold() { wait_for "$1" gone "$REG_PID" || true; }

# reg_scenario NAME S NODES FAULT [weftd args...]: a cluster, the register
# load on it, FAULT (a function running while the load runs), heal, verify
# and the strict verdict (no lost acked write, linearizable).
reg_scenario() {
  local name=$1 s=$2 nodes=$3 fault=$4; shift 4
  FX_HIST=$WEFT_TMP/$name.hist
  fx_cluster "$s" "$nodes" "$@" || return 1
  ctl "${FX_ADDRS[0]}" open reg --mode distributed >/dev/null || return 1
  fx_register_start "$FX_HIST" "${FX_LOAD_SECS:-$FX_DUR}" --procs "$FX_PROCS" \
    --keys "$FX_KEYS" --pace-ms "$FX_PACE" "${FX_CLIENT_ARGS[@]}"
  fx_progress "$FX_HIST" 50 30 || { echo "     the load did not start"; return 1; }
  "$fault" "$nodes" || return 1
  fx_wait_client "$REG_PID" 60
  fx_heal_all || return 1
  fx_healthy 90 || echo "     the cluster did not come back to one healthy view"
  echo "     $(grep '^REGISTER' "$WEFT_TMP/client.log" | tail -n 1)"
  echo "     $(fx_verify "$FX_HIST")"
  "${FX_AFTER:-true}"
  fx_check "$name" "$FX_HIST"
  "${FX_VERDICT:-fx_strict_verdict}"
  fx_result "$name" 0 "$VERDICT" "$WHY"
}

# others NAME: every node but NAME, as "n1:alive,..." and as addresses.
others_members() { local n o=""; for n in "${FX_NODES[@]}"; do [ "$n" = "$1" ] || o+="${o:+,}$n:alive"; done; echo "$o"; }
others_addrs() { local n; for n in "${FX_NODES[@]}"; do [ "$n" = "$1" ] || echo "${addr[$n]}"; done; }

f_kill9() {
  local n=$1 victim
  while fx_running "$REG_PID"; do
    victim=n$(( RANDOM % n + 1 ))
    echo "     kill -9 $victim"
    fx_kill9 "$victim"
    # shellcheck disable=SC2046
    wait_view 20 "$(others_members "$victim")" $(others_addrs "$victim") >/dev/null ||
      echo "     the others did not drop $victim within 20 s"
    fx_progress "$FX_HIST" 50 10 || echo "     no progress without $victim"
    fx_restart "$victim" || return 1
    fx_healthy 60 || { echo "     no healthy view after restarting $victim"; return 1; }
    fx_progress "$FX_HIST" 100 15 || true
  done
}
sc_kill9() { reg_scenario kill9 "$1" 3 f_kill9; }

f_pause() {
  local n=$1 victim long=0
  while fx_running "$REG_PID"; do
    victim=n$(( RANDOM % n + 1 ))
    local secs=0.3
    [ $long = 1 ] && secs=4
    echo "     SIGSTOP $victim for ${secs}s"
    kill -STOP "${pid[$victim]}"
    sleep "$secs"   # the fault's length, not a synchronisation
    kill -CONT "${pid[$victim]}"
    fx_healthy 60 || { echo "     no healthy view after pausing $victim"; return 1; }
    fx_progress "$FX_HIST" 100 15 || true
    long=$(( 1 - long ))
  done
}
sc_pause() { reg_scenario pause "$1" 3 f_pause; }

# net_fault ONE_A2B ONE_B2A ALL: the first half of the load with n1's link
# impaired (egress, ingress settings), the second half with every link
# impaired (both directions ALL).
net_fault() {
  echo "     n1's link: a2b '$1' b2a '$2'"
  fx_impair n1 "$1" "$2" || return 1
  fx_hold $(( FX_DUR / 2 ))
  fx_impair n1 "" "" || return 1
  echo "     every link: '$3'"
  fx_impair_all "$3" "$3" || return 1
  fx_hold "$FX_DUR"
}
f_loss() { net_fault "loss=0.1" "loss=0.1" "loss=0.05"; }
f_duplicate() { net_fault "dup=0.3" "dup=0.3" "dup=0.15"; }
f_reorder() { net_fault "delay_ms=4 jitter_ms=4" "delay_ms=4 jitter_ms=4" "delay_ms=3 jitter_ms=3"; }
f_delay() { net_fault "delay_ms=40" "delay_ms=40" "delay_ms=15"; }
sc_loss() { reg_scenario loss "$1" 3 f_loss; }
sc_duplicate() { reg_scenario duplicate "$1" 3 f_duplicate; }
sc_reorder() { reg_scenario reorder "$1" 3 f_reorder; }
sc_delay() { reg_scenario delay "$1" 3 f_delay; }

f_rolling() {
  local n=$1 i
  while fx_running "$REG_PID"; do
    for i in $(seq "$n"); do
      fx_running "$REG_PID" || break
      echo "     rolling restart: SIGTERM n$i"
      fx_stop "n$i"
      fx_restart "n$i" || return 1
      fx_healthy 60 || { echo "     no healthy view after restarting n$i"; return 1; }
      fx_progress "$FX_HIST" 50 15 || true
    done
  done
}
sc_rolling_restart() { reg_scenario rolling-restart "$1" 3 f_rolling; }

# --- partitions (5 nodes) -----------------------------------------------------------

ips_of() { local n o=""; for n in "$@"; do o+="${o:+,}${addr[$n]}"; done; echo "$o"; }

# f_partition: healthy, then n5 cut off from n1-n4, then n4 and n5 (still
# joined to each other) cut off from n1-n3, then healed; each phase lasts
# FX_PHASE seconds (the load runs through all of them).
f_partition() {
  fx_hold "$FX_PHASE"
  echo "     partition: {n1 n2 n3 n4} | {n5}"
  fx_block n5 "$(ips_of n1 n2 n3 n4)" || return 1
  wait_view 20 "n1:alive,n2:alive,n3:alive,n4:alive" "${addr[n1]}" "${addr[n2]}" \
    "${addr[n3]}" "${addr[n4]}" >/dev/null || echo "     the majority did not drop n5"
  wait_view 20 "n5:alive" "${addr[n5]}" >/dev/null || echo "     n5 did not see itself alone"
  fx_hold "$FX_PHASE"
  echo "     partition: {n1 n2 n3} | {n4 n5}"
  fx_block n4 "$(ips_of n1 n2 n3)" || return 1
  fx_block n5 "$(ips_of n1 n2 n3)" || return 1
  wait_view 20 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}" \
    >/dev/null || echo "     the majority did not drop n4"
  wait_view 20 "n4:alive,n5:alive" "${addr[n4]}" "${addr[n5]}" >/dev/null ||
    echo "     n4 and n5 did not form a view of their own"
  fx_hold "$FX_PHASE"
  echo "     heal"
  fx_heal_all || return 1
  fx_healthy 90 || echo "     no healthy view of 5 after the heal"
  fx_hold "$FX_PHASE"
}

# part_converged: after the heal, every node alone (routing off) reads the
# same value for every key (the digest of weft-faults-client verify).
part_converged() {
  local n line digests=""
  CONVERGED=yes
  for n in "${FX_NODES[@]}"; do
    line=$(fx_verify "$WEFT_TMP/$FX_NAME-direct.hist" --direct "${addr[$n]}")
    echo "     $n alone: $line"
    [[ $line == *" errors=0 "* ]] || CONVERGED=no
    digests+="${line##*digest=} "
  done
  [ "$(echo "$digests" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)" = 1 ] || CONVERGED=no
  echo "     converged: $CONVERGED"
}

# allow: no promise about lost writes or linearizability across a
# partition; the sides must merge into one state.
part_allow_verdict() {
  VERDICT=ok WHY="allow mode: loss and non-linearizability are reported, not failed"
  [ "$CONVERGED" = yes ] || { VERDICT=fail WHY="the nodes did not converge after the heal"; }
  [ "$CHECK_RC" != 2 ] || { VERDICT=fail WHY="checker refused the history"; }
}
# quorum: no acknowledged write lost (only a majority acknowledges
# writes); stale reads on the minority may make it non-linearizable.
part_quorum_verdict() {
  VERDICT=ok WHY="" 
  [ "${ck[lost_writes]}" = 0 ] || WHY+="lost acknowledged writes; "
  [ "$CONVERGED" = yes ] || WHY+="the nodes did not converge after the heal; "
  [ "$CHECK_RC" != 2 ] || WHY+="checker refused the history; "
  [ -z "$WHY" ] || VERDICT=fail
}

part_scenario() {
  local name=$1 s=$2 verdict=$3; shift 3
  FX_NAME=$name FX_PHASE=$(( FX_DUR / 4 > 8 ? FX_DUR / 4 : 8 ))
  FX_LOAD_SECS=$(( 4 * FX_PHASE )) FX_PROCS=10 FX_CLIENT_ARGS=(--direct)
  FX_AFTER=part_converged FX_VERDICT=$verdict
  reg_scenario "$name" "$s" 5 f_partition "$@"
  local rc=$?
  FX_LOAD_SECS="" FX_PROCS=6 FX_CLIENT_ARGS=() FX_AFTER="" FX_VERDICT=""
  return $rc
}
sc_partition() { part_scenario partition "$1" part_allow_verdict; }
sc_partition_quorum() { part_scenario partition-quorum "$1" part_quorum_verdict --partition-handling quorum; }
