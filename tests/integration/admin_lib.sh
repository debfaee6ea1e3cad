# tests/integration/admin_lib.sh — helpers of the admin plane's tests
# (admin.sh, admin_console.sh), sourced after lib.sh and cluster_lib.sh.
# Owns: a management network apart from the DPDK ports (a bridge holding
# MSUB.1 for the host, and in each node's namespace a second veth with a
# kernel address), and starting 3 clustered nodes with their admin plane.
#
# Invariants: the management bridge and veths are in lib.sh's _links, the
# nodes in _pids (weft_cleanup removes them on any exit); n1 and n2 serve
# their admin on MSUB.1N:9190, n3 on its default 127.0.0.1:9190 inside its
# namespace (hget reaches it there).

declare -A admin

# adm_mgmt NAME IP: a veth from the management bridge into NAME's
# namespace, the namespace end holding IP/24.
adm_mgmt() {
  local ns=$CL_NS-$1 h=am$$$1 n=an$$$1
  ip link add "$h" type veth peer name "$n"; _links+=("$h")
  ip link set "$n" netns "$ns"
  ip link set "$h" master "$ADM_BR"
  ip link set "$h" up
  ip -n "$ns" addr add "$2/24" dev "$n"
  ip -n "$ns" link set "$n" up
}

# adm_cluster PREFIX SUB MSUB [weftd args...]: the data bridge (cl_net
# PREFIX SUB), the management bridge (MSUB), nodes n1..n3 at SUB.11-13
# (--peers each other, one lcore, the args given) with their admin planes;
# waits until each answers a ping. Sets pid[], addr[], admin[].
adm_cluster() {
  local prefix=$1 sub=$2 msub=$3; shift 3
  local peers=$sub.11,$sub.12,$sub.13 extra
  cl_net "$prefix" "$sub"
  ADM_BR=${prefix}m$$
  weft_bridge "$ADM_BR" "$msub"
  for i in 1 2 3; do
    weft_netns_bridged "$CL_NS-n$i" "$CL_BR"
    adm_mgmt "n$i" "$msub.1$i"
    if [ "$i" -lt 3 ]; then
      admin[n$i]=$msub.1$i:9190
      extra=(--admin "${admin[n$i]}")
    else
      admin[n$i]=127.0.0.1:9190
      extra=()
    fi
    weft_start_node "n$i" "$CL_NS-n$i" "$sub.1$i" --node-name "n$i" --lcores 1 \
      --peers "$peers" "${extra[@]}" "$@"
    pid[n$i]=$NODE_PID
    addr[n$i]=$sub.1$i
  done
  for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}" || return 1; done
}

# hget NODE PATH [curl args]: the body of http://ADMIN/PATH of NODE (n3's
# from inside its namespace); the HTTP status goes to $WEFT_TMP/status.
hget() {
  local n=$1 path=$2; shift 2
  local run=()
  [ "$n" = n3 ] && run=(ip netns exec "$CL_NS-n3")
  "${run[@]}" curl -sS --max-time 5 -o - -w '%{stderr}%{http_code}' "$@" \
    "http://${admin[$n]}$path" 2>"$WEFT_TMP/status"
}
# status: the HTTP status of the last hget ("000" when nothing answered).
status() { tail -c 3 "$WEFT_TMP/status"; }
