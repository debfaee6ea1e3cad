# tests/faults/soak.sh — the soak scenario of tests/faults/run (sourced;
# docs/faults.md "soak"): 3 nodes under the register load, the queue load,
# the session load (replicated sessions checked as registers) and a
# singleton app (singleton-check.so) for FX_SOAK seconds, one node
# killed (-9) and restarted every SOAK_KILL_EVERY seconds, the last
# SOAK_QUIET seconds without faults. A sampler records every node's RSS
# (/proc/PID/status VmRSS) and STATS error and drop counters every
# SOAK_SAMPLE seconds. It fails on what the strict verdict fails on, on a
# double singleton (an "overlap" line of the app) or a lost singleton write
# ("lost"), when a node process that lived past the warm-up grew its RSS by
# more than max(SOAK_RSS_MIN_KB, 25%) over its first sample after the
# warm-up, or when the error counters grew during the quiet phase.
#
# n1 is never killed, so at least one process lives through the whole soak;
# the kills alternate between the node running the singleton (when it is
# not n1) and n2 / n3 in turn.

SOAK_KILL_EVERY=20
SOAK_QUIET=25
SOAK_SAMPLE=5
SOAK_WARMUP=30
SOAK_RSS_MIN_KB=32768
APP=singleton-check

# soak_errors ADDR: "ERRORS DROPS DETAIL" of a node (errors: total.errors +
# rpc_gave_up + msg_repl_lost; drops: every total.drop.*; detail: each of
# them, "NAME=N,..."), "- -" if silent.
soak_errors() {
  ctl "$1" stats 2>/dev/null | awk '
    $1 == "total.errors" || $1 == "total.rpc_gave_up" || $1 == "total.msg_repl_lost" {
      e += $2; seen = 1; sub("total.", "", $1); detail = detail $1 "=" $2 "," }
    $1 ~ /^total\.drop\./ { d += $2; if ($2 > 0) { sub("total.", "", $1); detail = detail $1 "=" $2 "," } }
    END { if (seen) print e, d, detail; else print "- -" }'
}

# soak_sampler FILE END: every SOAK_SAMPLE s until END (SECONDS) or FILE.stop:
# "ELAPSED NAME PID RSS_KB ERRORS DROPS DETAIL" per node (pids from $WEFT_TMP/pid.NAME).
soak_sampler() {
  local file=$1 end=$2 n p rss
  while [ "$SECONDS" -lt "$end" ] && [ ! -e "$file.stop" ]; do
    for n in "${FX_NODES[@]}"; do
      p=$(cat "$WEFT_TMP/pid.$n" 2>/dev/null || echo 0)
      rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null || true)
      echo "$SECONDS $n $p ${rss:-0} $(soak_errors "${addr[$n]}")" >>"$file"
    done
    wait_for "$SOAK_SAMPLE" test -e "$file.stop" || true
  done
}

soak_pids() { local n; for n in "${FX_NODES[@]}"; do echo "${pid[$n]}" >"$WEFT_TMP/pid.$n"; done; }

runner() { ctl "$1" daemons 2>/dev/null | awk -v d="$APP/guard" '$1 == d { print $3 }'; }
loaded_all() { local a; for a in "${FX_ADDRS[@]}"; do ctl "$a" apps 2>/dev/null | grep -q "^app $APP loaded " || return 1; done; }

# soak_rss FILE: the RSS rule per node process; prints one line per
# process judged; returns 1 when one broke it.
soak_rss() {
  awk -v warm="$SOAK_WARMUP" -v min="$SOAK_RSS_MIN_KB" '
    $4 > 0 { k = $2 " " $3; if (!(k in born)) born[k] = $1
             if ($1 - born[k] >= warm) { if (!(k in first)) first[k] = $4; if ($4 > max[k]) max[k] = $4; n[k]++ } }
    END { bad = 0
          for (k in first) { if (n[k] < 3) continue
            lim = first[k] / 4 > min ? first[k] / 4 : min
            ok = max[k] - first[k] <= lim
            printf "     RSS %s: %d KiB after warm-up, max %d KiB (+%d, bound +%d) %s\n", k, first[k], max[k], max[k] - first[k], lim, ok ? "ok" : "GREW"
            if (!ok) bad = 1 }
          exit bad }' "$1"
}

# soak_quiet FILE T0: the error counters of each node process between the
# first sample at or after T0 and the last one (processes sampled at least
# twice there); returns 1 when they grew.
soak_quiet() {
  awk -v t0="$2" '
    $1 >= t0 && $5 != "-" { k = $2 " " $3; if (!(k in e0)) { e0[k] = $5; d0[k] = $6; x0[k] = $7 }
                            e1[k] = $5; d1[k] = $6; x1[k] = $7; n[k]++ }
    END { bad = 0
          for (k in e0) { if (n[k] < 2) continue
                          printf "     quiet %s: errors +%d, drops +%d\n", k, e1[k] - e0[k], d1[k] - d0[k]
                          if (e1[k] > e0[k]) { bad = 1; printf "       from %s\n       to   %s\n", x0[k], x1[k] } }
          exit bad }' "$1"
}

sc_soak() {
  local s=$1 qh=$WEFT_TMP/soak-queue.hist sh=$WEFT_TMP/soak-session.hist
  local samples=$WEFT_TMP/soak.samples k=0 victim r
  FX_HIST=$WEFT_TMP/soak.hist
  local so=$SINGLETON_SO
  [ -f "$so" ] || { echo "     no $so: build first"; return 1; }
  fx_cluster "$s" 3 || return 1
  ctl "${FX_ADDRS[0]}" open reg --mode distributed >/dev/null || return 1
  ctl "${FX_ADDRS[0]}" deploy "$so" --all >/dev/null || return 1
  wait_for 30 loaded_all || { echo "     $APP not loaded everywhere"; return 1; }
  local t_start=$SECONDS end=$(( SECONDS + FX_SOAK ))
  fx_register_start "$FX_HIST" "$FX_SOAK" --procs 4 --keys "$FX_KEYS" --pace-ms 30
  fx_queue_start "$qh" "$FX_SOAK" --publishers 1 --consumers 2 --pace-ms 20
  fx_session_start "$sh" "$FX_SOAK" --procs 2 --keys 12 --pace-ms 30
  soak_pids
  soak_sampler "$samples" $(( end + 120 )) &
  local sampler=$!
  _pids+=("$sampler")
  while [ $(( end - SECONDS )) -gt $(( SOAK_QUIET + SOAK_KILL_EVERY )) ]; do
    fx_hold "$SOAK_KILL_EVERY"
    k=$((k + 1))
    r=$(runner "${FX_ADDRS[0]}")
    if [ $((k % 2)) = 1 ] && [ -n "$r" ] && [ "$r" != n1 ]; then victim=$r; else victim=n$(( 2 + k / 2 % 2 )); fi
    echo "     $((SECONDS - t_start))s: kill -9 $victim (singleton on ${r:-none})"
    fx_kill9 "$victim"
    fx_restart "$victim" || return 1
    soak_pids
    fx_healthy 60 || { echo "     no healthy view after restarting $victim"; return 1; }
  done
  local quiet_from=$SECONDS
  echo "     $((SECONDS - t_start))s: quiet until the end"
  fx_wait_client "$REG_PID" $(( end - SECONDS + 60 ))
  fx_wait_client "$Q_PID" 120
  fx_wait_client "$S_PID" 60
  touch "$samples.stop"
  wait_exit "$sampler" 30
  fx_forget_pid "$sampler"
  grep -E '^(REGISTER|QUEUE|SESSION)' "$WEFT_TMP/client.log" | tail -n 3 | sed 's/^/     /'
  echo "     $(fx_verify "$FX_HIST")"
  local overlaps lost
  overlaps=$(cat "$WEFT_TMP"/n*.log | awk -v a="$APP" '$1 == "sc" && $2 == a && $3 == "overlap"' | wc -l)
  lost=$(cat "$WEFT_TMP"/n*.log | awk -v a="$APP" '$1 == "sc" && $2 == a && $3 == "lost"' | wc -l)
  echo "     singleton: $(cat "$WEFT_TMP"/n*.log | awk -v a="$APP" '$1 == "sc" && $2 == a && $3 == "run" && $7 == "start"' | wc -l) runs, $overlaps overlap, $lost lost"
  cat "$qh" "$sh" >>"$FX_HIST"
  fx_check soak "$FX_HIST" --allow-duplicates
  fx_strict_verdict
  [ "$overlaps" = 0 ] || { VERDICT=fail WHY+="double singleton; "; }
  [ "$lost" = 0 ] || { VERDICT=fail WHY+="a singleton's acknowledged CAS lost; "; }
  soak_rss "$samples" || { VERDICT=fail WHY+="RSS grew beyond its bound; "; }
  soak_quiet "$samples" "$quiet_from" || { VERDICT=fail WHY+="errors grew without faults; "; }
  cp "$samples" "$FX_RESULTS/soak.samples"
  fx_result soak "$overlaps" "$VERDICT" "$WHY"
}
