#!/usr/bin/env bash
# cluster_graceful.sh — a graceful stop (SIGTERM) of one of 3 nodes under a
# continuous write load loses nothing. The nodes run with --owners 1, so
# each key lives on one node only: what the stopped node held survives only
# if it handed its segments over before leaving (with 2 owners a plain
# crash loses nothing either, and the test would prove less).
#  - 3 nodes (--clustered --owners 1) form one view; weft_load writes keys
#    through n1 from the host and records every acked write;
#  - n2 gets SIGTERM mid-load: it hands its segments over, leaves (n1 and n3
#    show the view without it), exits 0; the load keeps getting writes
#    acknowledged;
#  - n1 and n3 finish rebalancing; together they hold every acked key (each
#    holds at least the acked keys its segments own);
#  - every acked write reads back right with n1 and n3 as the routing seed
#    and through each alone (routing off).
# Uses only 10.231.32.0/24. Removes every namespace, veth, bridge and process
# it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

sub=10.231.32
cache=gr
cl_net wg "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered --owners 1; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"
t=$(topo_of "${addr[n1]}")
check "topology: 1 owner per segment; n2 owns segments ($(topo_segments_of "$t" n2))" \
  test "$(topo_segments_of "$t" n2)" -gt 0 -a "$(echo "$t" | head -1 | awk '{ print $7 }')" = 1

load_start gr "${addr[n1]}" "$cache" --threads 2 --rate 400
check "load: 1000 writes acked before the stop" wait_acked 30 gr 1000
held=$(cache_entries "${addr[n2]}" "$cache")
echo "     n2 holds $held entries when it gets SIGTERM"

kill -TERM "${pid[n2]}"
check "SIGTERM n2: n1 and n3 show the view without it" \
  wait_view 40 "n1:alive,n3:alive" "${addr[n1]}" "${addr[n3]}"
wait_exit "${pid[n2]}" 40
expect_eq "SIGTERM n2: it exits 0 (after its hand-off)" "0" "$EXIT_ST"
check "n2 logged its hand-off" grep -q "hand-off complete" "$WEFT_TMP/n2.log"
check "the load goes on after n2 left (500 more acked writes)" wait_acked 30 gr 500
load_stop gr "$LOAD_PID"
expect_eq "load: exits 0" "0" "$LOAD_ST"
total=$(acked gr)
echo "     acked: $total"

check "n1 and n3 finish rebalancing the 2-node view" \
  wait_rebalanced 30 "${addr[n1]}" "${addr[n3]}"
t=$(topo_of "${addr[n1]}")
check "topology: every segment has 1 owner, n1 or n3" topo_owned_by "$t" 1 n1,n3
for n in n1 n3; do
  mine=$(owned_keys gr "${addr[$n]}" "$n")
  have=$(cache_entries "${addr[$n]}" "$cache")
  check "$n holds every acked key of its segments ($have entries >= $mine owned)" \
    test -n "$mine" -a "$have" -ge "${mine:-1}"
done
for n in n1 n3; do
  check "every acked write reads back right, $n as the routing seed" \
    verify_from gr "${addr[$n]}" "$cache"
  check "every acked write reads back right through $n alone (--direct)" \
    verify_from gr "${addr[$n]}" "$cache" --direct
done

weft_finish
