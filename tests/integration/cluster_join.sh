#!/usr/bin/env bash
# cluster_join.sh — a 4th node joins 3 under a continuous write load:
#  - 3 nodes (--clustered, owners 2) form one view; weft_load writes keys
#    through n1 from the host and records every acked write;
#  - n4 starts mid-load; all 4 nodes show one view of 4 and finish its
#    rebalance (STATS rebalance.view = the view, moves_pending 0) while the
#    load keeps getting writes acknowledged;
#  - segments moved to n4: its table share is within 1.5x of fair, and its
#    cache holds every acked key of the segments it owns (those written
#    before it joined can only have come by state transfer);
#  - no acked write is lost: every one reads back right with n4 as the
#    routing seed and through n4 alone (routing off: n4 serves its keys and
#    forwards the others);
#  - n4 serves its share: its cache answered gets itself (hits > 0).
# Uses only 10.231.31.0/24. Removes every namespace, veth, bridge and process
# it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

sub=10.231.31
cache=jn
cl_net wj "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"

load_start jn "${addr[n1]}" "$cache" --threads 2 --rate 400
check "load: 1000 writes acked before the join" wait_acked 30 jn 1000
before=$(acked jn)

cl_node n4 "$sub.14" --clustered
weft_wait_ready "${addr[n4]}" "${pid[n4]}"
all4=("${addr[n1]}" "${addr[n2]}" "${addr[n3]}" "${addr[n4]}")
check "n4 joins: one view of 4 everywhere" \
  wait_view 30 "n1:alive,n2:alive,n3:alive,n4:alive" "${all4[@]}"
# At once, while segments may still be moving to n4: its misses are read
# through to the segments' old owners (docs/cluster.md), never NOT_FOUND.
head -n "$before" "$WEFT_TMP/jn.acked" >"$WEFT_TMP/jnearly.acked"
check "reads while n4 takes its segments: the writes acked before the join read back through n4 alone" \
  verify_from jnearly "${addr[n4]}" "$cache" --direct
check "all 4 nodes finish rebalancing the 4-node view" wait_rebalanced 40 "${all4[@]}"
check "the load goes on after the join (500 more acked writes)" wait_acked 30 jn 500
load_stop jn "$LOAD_PID"
expect_eq "load: exits 0" "0" "$LOAD_ST"
total=$(acked jn)
echo "     acked: $before before n4 started, $total in all"

t=$(topo_of "${addr[n4]}")
share=$(topo_segments_of "$t" n4)
echo "     $(echo "$t" | head -1); n4 owns $share segments (fair: 128)"
check "topology: every segment has 2 distinct owners among the 4 members" \
  topo_owned_by "$t" 2 n1,n2,n3,n4
check "topology: n4 owns segments, at most 1.5x its fair share (0 < $share <= 192)" \
  test "$share" -gt 0 -a "$share" -le 192

mine=$(owned_keys jn "${addr[n4]}" n4)
have=$(cache_entries "${addr[n4]}" "$cache")
check "n4 holds every acked key of its segments ($have entries >= $mine owned, $mine > 0)" \
  test "${mine:-0}" -gt 0 -a "$have" -ge "${mine:-1}"

check "every acked write reads back right, n4 as the routing seed" \
  verify_from jn "${addr[n4]}" "$cache"
check "every acked write reads back right through n4 alone (--direct)" \
  verify_from jn "${addr[n4]}" "$cache" --direct
puts=$(stat_value "${addr[n4]}" total.req.put)
check "n4 serves its share: it took writes of the load ($puts puts)" test "$puts" -gt 0
hits=$(stat_value "${addr[n4]}" "cache.$cache.hits")
check "n4 serves its share: its cache answered gets ($hits hits)" test "$hits" -gt 0

weft_finish
