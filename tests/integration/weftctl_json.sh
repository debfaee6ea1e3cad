#!/usr/bin/env bash
# weftctl_json.sh — weftctl's operator output against real nodes (issue 10,
# docs/client.md "weftctl --json", "rebalance", "Errors"):
#  1. --json on every listing (members, status, caches, stats, topology,
#     rebalance, destinations [--all], apps [--all], daemons, jobs,
#     sessions) of a 2-node cluster running the tutorial's example app, a
#     queue and a session: each output is valid JSON (python3 -m json.tool)
#     and holds what the cluster has (both members, the cache, the queue,
#     the app, its daemon, the session store, the stats' own numbers).
#  2. rebalance --wait while a third node joins a cluster holding data:
#     exit 0, every line in the documented form, ending "done" or "idle",
#     and the node is then rebalanced (view and moves_pending agree); the
#     same under a pseudo-terminal (script) ends with a done/idle line.
#  3. errors: a port nobody serves gives "no answer after N ms (is weftd
#     running there? ...)" and exit 3, for a listing and for rebalance
#     --wait; --json on a non-listing command is a usage error (exit 2).
# Uses only 10.238.1.0/24. Removes every namespace, veth, bridge and
# process it made on any exit; every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

APP_SO=$WEFT_BUILD/examples/cluster-example/cluster-example.so
[ -f "$APP_SO" ] || { echo "no $APP_SO: build first"; exit 1; }
sub=10.238.1

cl_net wj "$sub"
for i in 1 2; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "2 nodes form one view" wait_view 30 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
check "the view is rebalanced on both" wait_rebalanced 30 "${addr[n1]}" "${addr[n2]}"

A=${addr[n1]}
ctl "$A" open c >/dev/null
ctl "$A" put c 'k"\x' 'v' >/dev/null
ctl "$A" dest-open /queue/wj >/dev/null
ctl "$A" session-create >/dev/null
ctl "$A" deploy --all "$APP_SO" >/dev/null
daemon_running() { ctl "$A" daemons --all 2>/dev/null | grep -q 'cluster-example/counter .* running'; }
check "the example app's daemon runs" wait_for 30 daemon_running

# --- 1. --json on every listing ----------------------------------------------------

# json_ok NAME ARGS...: weftctl --json ARGS exits 0 and prints valid JSON
# (kept in $WEFT_TMP/NAME.json for the field checks).
json_ok() {
  local name=$1; shift
  ctl "$A" --json "$@" >"$WEFT_TMP/$name.json" || { echo "     weftctl $* failed"; return 1; }
  python3 -m json.tool "$WEFT_TMP/$name.json" >/dev/null ||
    { echo "     not JSON:"; head -c 400 "$WEFT_TMP/$name.json"; return 1; }
}
# jq_py NAME EXPR: evaluates the Python expression EXPR with d = the
# document of NAME; true when it is truthy.
jq_py() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$WEFT_TMP/$1.json" "$2"
}

for l in members status caches stats topology rebalance destinations apps daemons jobs sessions; do
  check "$l --json is valid JSON" json_ok "$l" "$l"
done
check "destinations --all --json is valid JSON" json_ok dests_all destinations --all
check "apps --all --json is valid JSON" json_ok apps_all apps --all

check "members: both, alive, with addresses" jq_py members \
  'sorted(m["name"] for m in d["members"]) == ["n1", "n2"] and all(m["state"] == "alive" and m["address"].startswith("10.238.1.") for m in d["members"]) and isinstance(d["view"], int)'
check "status: members, rebalance, caches, requests" jq_py status \
  'len(d["members"]) == 2 and d["rebalance"]["state"] in ("idle", "in_progress") and any(c["name"] == "c" for c in d["caches"]) and "forwarded" in d["requests"]'
check "caches: c is distributed, with every counter" jq_py caches \
  'any(c["name"] == "c" and c["mode"] == "distributed" and all(k in c for k in ("entries", "bytes", "hits", "puts", "evictions")) for c in d["caches"])'
check "stats: STATS names as keys, numbers as numbers" jq_py stats \
  'isinstance(d["rebalance.moves_pending"], int) and "cache.c.mode" in d'
check "topology: 2 members, runs cover every segment" jq_py topology \
  'len(d["members"]) == 2 and d["runs"][0]["first"] == 0 and d["runs"][-1]["last"] == d["n_segments"] - 1 and all(len(r["owners"]) == d["owners"] for r in d["runs"])'
check "rebalance: state and counts" jq_py rebalance \
  'd["state"] in ("idle", "in_progress") and d["timed_out"] is False and isinstance(d["moves_done"], int)'
check "destinations: /queue/wj with its depth" jq_py destinations \
  'any(x["name"] == "/queue/wj" and isinstance(x["depth"], int) for x in d["destinations"])'
check "destinations --all: rows of both members" jq_py dests_all \
  'set(x["node"] for x in d["destinations"]) == {"n1", "n2"}'
check "apps: cluster-example loaded, with its daemon" jq_py apps \
  'any(a["name"] == "cluster-example" and a["state"] == "loaded" for a in d["apps"]) and any(x["name"] == "cluster-example/counter" for x in d["daemons"]) and "jobs" in d'
check "apps --all: both members loaded it" jq_py apps_all \
  'sorted(a["member"] for a in d["apps"] if a["name"] == "cluster-example") == ["n1", "n2"]'
check "daemons: the singleton names where it runs" jq_py daemons \
  'any(x["name"] == "cluster-example/counter" and x["kind"] == "singleton" and "owner_name" in x for x in d["daemons"])'
check "jobs: a list" jq_py jobs 'isinstance(d["jobs"], list)'
check "sessions: the session store on the node and in the cluster" jq_py sessions \
  'd["members_answered"] == 2 and any(s["store"] == "weft.sessions" and s["sessions"] >= 1 for s in d["cluster_stores"])'

# --- 2. rebalance --wait while a node joins ------------------------------------------

"$WEFT_LOAD" write --server "$A" --cache c --prefix fill --out "$WEFT_TMP/fill.acked" \
  --seconds 60 --max-ops 20000 --value-bytes 1000 --threads 2 >"$WEFT_TMP/fill.load.log" 2>&1
echo "     $(tail -n 1 "$WEFT_TMP/fill.load.log")"
cl_node n3 "$sub.13" --clustered
weft_wait_ready "${addr[n3]}" "${pid[n3]}"
check "n3 joins" wait_view 30 "n1:alive,n2:alive,n3:alive" "$A" "${addr[n2]}" "${addr[n3]}"
rc=0
ctl "$A" rebalance --wait --timeout 60 >"$WEFT_TMP/rb.out" 2>"$WEFT_TMP/rb.err" || rc=$?
sed 's/^/     | /' "$WEFT_TMP/rb.out"
expect_eq "rebalance --wait on n1 ends" 0 "$rc"
rb_lines_ok() {
  grep -Evq '^rebalance: ([0-9]+% \([0-9]+/[0-9]+ segment moves, view [0-9]+\)|(done|idle) \(view [0-9]+; .*\))$' \
    "$WEFT_TMP/rb.out" && return 1
  tail -n 1 "$WEFT_TMP/rb.out" | grep -Eq '^rebalance: (done|idle) '
}
check "its lines are the documented plain form, ending done/idle" rb_lines_ok
check "n1 is then rebalanced (view and moves_pending agree)" rebalanced "$A"
rc=0
script -qec "$WEFTCTL -s ${addr[n2]} --timeout 300 rebalance --wait --timeout 60" /dev/null \
  >"$WEFT_TMP/rb.tty" 2>&1 || rc=$?
expect_eq "rebalance --wait on a terminal (n2) ends" 0 "$rc"
check "the terminal output ends with a done/idle line" \
  grep -Eq '^rebalance: (done|idle) ' <(tr '\r' '\n' <"$WEFT_TMP/rb.tty")

# --- 3. clear errors ----------------------------------------------------------------

no_answer() {
  local rc=0
  "$WEFTCTL" -s "$sub.11:9" --timeout 100 "$@" >/dev/null 2>"$WEFT_TMP/na.err" || rc=$?
  cat "$WEFT_TMP/na.err" | sed 's/^/     | /'
  [ $rc -eq 3 ] && grep -Eq "^weftctl: $sub.11:9: $1: no answer after [0-9]+ ms \(is weftd running there\? check --server/-s" "$WEFT_TMP/na.err"
}
check "members on a port nobody serves: no answer, exit 3" no_answer members
check "rebalance --wait on it: no answer, exit 3" no_answer rebalance --wait
expect_status "--json on a write is a usage error" 2 ctl "$A" --json put c k v

weft_finish
