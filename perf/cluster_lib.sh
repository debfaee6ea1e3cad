# perf/cluster_lib.sh — sourced by perf/cluster_run and perf/msg_run: brings
# up and down the nodes of scripts/local-cluster for a measurement (each
# weftd in namespace weft-n<i> at 10.240.0.(10+i):7700, the host shell on
# the bridge weftbr0 as 10.240.0.1).
#
# The caller sets WEFT_BUILD, WEFT_CLUSTER_DIR and tmp (a scratch
# directory) before calling, and calls cluster_down from its EXIT trap.
# It may define cluster_before_down (e.g. to keep the nodes' logs), which
# runs before every `local-cluster down`. Every command is bounded by
# `timeout`, every wait by a deadline.

lc=scripts/local-cluster
subnet=10.240.0
port=7700
cluster_up=0

# cluster_refuse_running PROG: exits 2 while another local cluster exists
# (weftbr0 or weft-n* namespaces): bringing ours up would take it down.
cluster_refuse_running() {
  if ip link show weftbr0 >/dev/null 2>&1 || ip netns list | grep -Eq '^weft-n[0-9]+( |$)'; then
    echo "$1: a local cluster is already up (weftbr0 / weft-n* namespaces):" \
      "not touching it; bring it down first (scripts/local-cluster down)" >&2
    exit 2
  fi
}

# cluster_down: stops the nodes and removes what local-cluster made (if up).
cluster_down() {
  [ "$cluster_up" = 1 ] || return 0
  if declare -F cluster_before_down >/dev/null; then cluster_before_down || true; fi
  timeout -k 5 60 "$lc" down >/dev/null 2>&1 || true
  cluster_up=0
}

# cluster N: a fresh local cluster of N nodes (the previous one goes down),
# ready once n1 answers MEMBERS with a real view (bounded: 150 s for `up`,
# 15 s for the view). Returns 1 (and prints why) otherwise.
cluster() {
  cluster_down
  cluster_up=1
  timeout -k 5 150 "$lc" up "$1" >"$tmp/up-$1.txt" 2>&1 ||
    { cat "$tmp/up-$1.txt" >&2; return 1; }
  # A lone node answers as its own view 0 until it installs view 1 (after
  # its discovery wait): measure from the first real view on (bounded).
  local v='' end=$((SECONDS + 15))
  while [ $SECONDS -lt $end ]; do
    v=$(timeout -k 1 3 "$WEFT_BUILD/client/weftctl" -s "$subnet.11:$port" --timeout 200 members \
      2>/dev/null | awk 'NR == 1 { print $2 + 0 }') || true
    [ "${v:-0}" -gt 0 ] && return 0
    sleep 0.1
  done
  echo "# n1 installed no view in 15 s" >&2
  return 1
}
