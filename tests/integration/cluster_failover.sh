#!/usr/bin/env bash
# cluster_failover.sh — kill -9 of one of 3 nodes under a continuous write
# load loses no acknowledged write and the cache gets back to 2 copies:
#  - 3 nodes (--clustered, owners 2) form one view; weft_load writes keys
#    through n1 from the host and records every acked write;
#  - n3 is killed with SIGKILL mid-load; once n1 and n2 show the view
#    without it, the load keeps getting writes acknowledged;
#  - the survivors finish the rebalance of that view (STATS
#    rebalance.view = the view, rebalance.moves_pending 0) and every segment
#    of n1's table has 2 distinct live owners (n1 and n2);
#  - every acked write reads back with its bytes and at least its version,
#    with n1 and n2 as libweft's routing seed and through each alone
#    (routing off), and each survivor's cache holds every acked
#    key (both are owners of every segment: 2 copies).
# Uses only 10.231.30.0/24. Removes every namespace, veth, bridge and process
# it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

sub=10.231.30
cache=fo
cl_net wf "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"
check "the first view is rebalanced everywhere" \
  wait_rebalanced 30 "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"

# load through n1: 2 threads, at most 400 puts/s, until stopped
load_start fo "${addr[n1]}" "$cache" --threads 2 --rate 400
check "load: 1000 writes acked before the kill" wait_acked 30 fo 1000

kill -KILL "${pid[n3]}"
check "kill -9 n3: n1 and n2 drop it from their view" \
  wait_view 10 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}"
at_drop=$(acked fo)
check "the load goes on after the view dropped n3 (500 more acked writes)" \
  wait_acked 30 fo 500
load_stop fo "$LOAD_PID"
expect_eq "load: exits 0" "0" "$LOAD_ST"
total=$(acked fo)
echo "     acked: $at_drop when n3 left the view, $total in all"

check "the survivors finish rebalancing the 2-node view" \
  wait_rebalanced 30 "${addr[n1]}" "${addr[n2]}"
t=$(topo_of "${addr[n1]}")
echo "     $(echo "$t" | head -1); n1 owns $(topo_segments_of "$t" n1), n2 $(topo_segments_of "$t" n2)"
check "topology: every segment has 2 distinct owners, both live (n1, n2)" \
  topo_owned_by "$t" 2 n1,n2
expect_eq "topology: n2 shows n1's table" "$t" "$(topo_of "${addr[n2]}")"

for n in n1 n2; do
  check "every acked write reads back right, $n as the routing seed" \
    verify_from fo "${addr[$n]}" "$cache"
  check "every acked write reads back right through $n alone (--direct)" \
    verify_from fo "${addr[$n]}" "$cache" --direct
done
for n in n1 n2; do
  e=$(cache_entries "${addr[$n]}" "$cache")
  check "2 copies: $n holds every acked key ($e entries >= $total)" test "$e" -ge "$total"
done

weft_finish
