# tests/integration/cluster_lib.sh — helpers of the cluster tests (cluster.sh
# and, under load, cluster_failover.sh, cluster_join.sh, cluster_graceful.sh,
# cluster_modes.sh), sourced after lib.sh. Owns: naming and starting nodes
# on one bridge, reading a node's view, segment table and rebalance
# progress, and running weft_load's write load in the background.
#
# Invariants: every node and load process is in lib.sh's _pids, so
# weft_cleanup stops it on any exit; every wait is bounded; nodes run with
# one lcore and adaptive polling (the default), so 4 nodes share 2 cores.

WEFT_LOAD=$WEFT_BUILD/tests/integration/weft_load

declare -A pid addr

# cl_net PREFIX SUBNET: the bridge "${PREFIX}b$$" holding SUBNET.1 for the
# host; cl_node puts every node's namespace "${PREFIX}$$-NAME" on it.
cl_net() {
  CL_NS=$1$$
  CL_BR=$1b$$
  weft_bridge "$CL_BR" "$2"
}

# cl_node NAME IP [weftd args...]: a bridged namespace and weftd in it, named
# NAME, one lcore. Sets pid[NAME], addr[NAME]. Does not wait.
cl_node() {
  local name=$1 ip=$2; shift 2
  weft_netns_bridged "$CL_NS-$name" "$CL_BR"
  weft_start_node "$name" "$CL_NS-$name" "$ip" --node-name "$name" --lcores 1 "$@"
  pid[$name]=$NODE_PID
  addr[$name]=$ip
}

ctl() { local a=$1; shift; "$WEFTCTL" -s "$a" --timeout 300 "$@"; }

# view_of ADDR: "VIEW NAME:STATE,..." (members sorted by name) as ADDR reports
# them, or "none" when it does not answer.
view_of() {
  local out
  out=$(ctl "$1" members 2>/dev/null) || { echo none; return; }
  local v names
  v=$(echo "$out" | awk 'NR == 1 { sub(",", "", $2); print $2 }')
  names=$(echo "$out" | awk 'NR > 2 { print $1 ":" $3 }' | sort | paste -sd, -)
  echo "$v $names"
}

# same_view WANT ADDR...: every ADDR reports the same view id with exactly
# the members WANT ("n1:alive,n2:alive", sorted).
same_view() {
  local want=$1 first="" line; shift
  for a in "$@"; do
    line=$(view_of "$a")
    [ -z "$first" ] && first=$line
    [ "$line" = "$first" ] && [ "${line#* }" = "$want" ] || return 1
  done
}

# wait_view SECONDS WANT ADDR...: waits (bounded) for same_view and prints
# the common view line ("VIEW NAME:STATE,..."); prints every node's view to
# stderr when it does not come.
wait_view() {
  local limit=$1; shift
  if wait_for "$limit" same_view "$@"; then view_of "$2"; return 0; fi
  echo "     no common view '$1' after ${limit}s:" >&2
  shift
  for a in "$@"; do echo "       $a: $(view_of "$a")" >&2; done
  return 1
}

# wait_exit PID SECONDS: waits (bounded) for PID (a child of this shell) to
# exit; sets EXIT_ST to its exit status, or "running". Not in a subshell.
gone() { ! kill -0 "$1" 2>/dev/null; }
wait_exit() {
  local p=$1
  wait_for "$2" gone "$p" || { EXIT_ST=running; return; }
  EXIT_ST=0
  wait "$p" 2>/dev/null || EXIT_ST=$?
}

# rebalanced ADDR: the node has finished moving segments for the view it is
# in: its STATS rebalance.view is its current view id and
# rebalance.moves_pending is 0 (dataplane.h struct weft_dp_rebalance).
rebalanced() {
  local st v
  v=$(view_of "$1"); v=${v%% *}
  st=$(ctl "$1" stats 2>/dev/null) || return 1
  awk -v v="$v" '$1 == "rebalance.view" { rv = $2 }
                 $1 == "rebalance.moves_pending" { mp = $2; seen = 1 }
                 END { exit !(seen && rv == v && mp == 0) }' <<<"$st"
}
all_rebalanced() { for a in "$@"; do rebalanced "$a" || return 1; done; }

# rebalance_of ADDR: the node's rebalance.* lines on one line, for the log.
rebalance_of() {
  ctl "$1" stats 2>/dev/null | awk '$1 ~ /^rebalance\./ { sub("rebalance.", "", $1); printf "%s=%s ", $1, $2 }'
}

# wait_rebalanced SECONDS ADDR...: waits (bounded) for all_rebalanced; prints
# every node's progress either way.
wait_rebalanced() {
  local limit=$1 rc=0; shift
  wait_for "$limit" all_rebalanced "$@" || rc=1
  for a in "$@"; do echo "     $a view $(view_of "$a" | cut -d' ' -f1): $(rebalance_of "$a")"; done
  return $rc
}

# topo_of ADDR: `weftctl topology` of ADDR, or "none".
topo_of() { ctl "$1" topology 2>/dev/null || echo none; }

# topo_owned_by TEXT K LIVE: the segment rows of a topology printout cover
# every segment the header announces, each with K distinct owners, all
# among LIVE (comma-separated names).
topo_owned_by() {
  echo "$1" | awk -v k="$2" -v live="$3" '
    BEGIN { n = split(live, a, ","); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
    NR == 1 { total = $5 }
    $1 == "SEGMENTS" { s = 1; next }
    s { r = split($1, b, "-"); covered += (r == 2 ? b[2] - b[1] + 1 : 1)
        if (NF - 1 != k) bad = 1
        split("", seen)
        for (i = 2; i <= NF; i++) { if (!($i in ok) || ($i in seen)) bad = 1; seen[$i] = 1 } }
    END { exit !(s && !bad && covered == total && total > 0) }'
}

# topo_segments_of TEXT NAME: how many segments list NAME among their owners.
topo_segments_of() {
  echo "$1" | awk -v n="$2" '$1 == "SEGMENTS" { s = 1; next }
    s { for (i = 2; i <= NF; i++) if ($i == n) { r = split($1, b, "-"); c += (r == 2 ? b[2] - b[1] + 1 : 1) } }
    END { print c + 0 }'
}

# --- the write load ------------------------------------------------------------

# load_start NAME SERVER CACHE [weft_load write args...]: weft_load writes
# NAME-<i> keys through SERVER in the background (bounded by --seconds 120
# unless the args say less), recording acked writes in $WEFT_TMP/NAME.acked
# and its summary in $WEFT_TMP/NAME.load.log. Sets LOAD_PID.
load_start() {
  local name=$1 server=$2 cache=$3; shift 3
  "$WEFT_LOAD" write --server "$server" --cache "$cache" --prefix "$name" \
    --out "$WEFT_TMP/$name.acked" --seconds 120 "$@" >"$WEFT_TMP/$name.load.log" 2>&1 &
  LOAD_PID=$!
  _pids+=("$LOAD_PID")
}

# acked NAME: how many writes the load NAME has had acknowledged so far.
acked() { [ -f "$WEFT_TMP/$1.acked" ] && wc -l <"$WEFT_TMP/$1.acked" || echo 0; }
acked_at_least() { [ "$(acked "$1")" -ge "$2" ]; }

# wait_acked SECONDS NAME N: waits (bounded) until N more writes of the load
# NAME than now are acknowledged.
wait_acked() {
  local want=$(( $(acked "$2") + $3 ))
  wait_for "$1" acked_at_least "$2" "$want"
}

# load_stop NAME PID: SIGTERM, then waits (bounded) for the load's summary;
# prints it and sets LOAD_SUMMARY (the WRITE line) and LOAD_ST (exit status).
load_stop() {
  kill -TERM "$2" 2>/dev/null || true
  wait_exit "$2" 15
  LOAD_ST=$EXIT_ST
  LOAD_SUMMARY=$(grep '^WRITE' "$WEFT_TMP/$1.load.log" || echo "no WRITE line")
  echo "     $LOAD_SUMMARY"
}

# verify_from NAME ADDR CACHE [--direct]: every acked write of the load NAME
# reads back right (weft_load verify) with ADDR as the routing seed, or with
# --direct through ADDR alone (it serves or forwards); prints the VERIFY line.
verify_from() {
  local name=$1 server=$2 cache=$3 out rc=0; shift 3
  out=$("$WEFT_LOAD" verify --server "$server" --cache "$cache" --in "$WEFT_TMP/$name.acked" \
    --threads 2 "$@" 2>&1) || rc=$?
  echo "$out" | sed 's/^/     /'
  return $rc
}

# cache_entries ADDR CACHE: the node's STATS cache.CACHE.entries (0 if none).
cache_entries() { stat_value "$1" "cache.$2.entries"; }

# owned_keys NAME ADDR MEMBER: how many acked keys of the load NAME MEMBER
# owns in ADDR's segment table.
owned_keys() {
  "$WEFT_LOAD" owned --server "$2" --in "$WEFT_TMP/$1.acked" --member "$3" |
    sed -n 's/^OWNED .* keys=\([0-9]*\) .*/\1/p'
}
