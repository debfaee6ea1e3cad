#!/usr/bin/env bash
# cluster.sh — real weftd nodes forming clusters, each in a network namespace
# on a veth (net_af_packet) whose host end is a port of a Linux bridge this
# test creates:
#  - 3 nodes with --clustered find each other by multicast and form one view
#    (every node lists the same 3 names, all alive, and the same view id);
#  - kill -9 of one node: the others drop it from their view within 3 s
#    (measured and printed); restarted with the same home it rejoins;
#  - SIGTERM of a node: it leaves the others' view at once and exits 0;
#  - a node started with a copy of another node's home (same node id) is
#    refused: it exits non-zero naming the duplicate id and the fix, and the
#    others' view is unchanged;
#  - 3 nodes with --peers only (multicast off) form one view;
#  - TOPOLOGY: the 3 nodes of one view show the same epoch (= the view id)
#    and segment table, no node is primary for more than 1.5x its fair share
#    of the 256 segments; after the kill -9 the epoch grew and the dead node
#    owns nothing;
#  - a node without cluster options answers MEMBERS with itself alone, and
#    TOPOLOGY with itself owning every segment (epoch 0).
# Uses only 10.231.20.0/24 and 10.231.21.0/24. Removes every namespace, veth,
# bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

now_ms() { date +%s%3N; }

topo_epoch() { echo "$1" | awk 'NR == 1 { sub(",", "", $2); print $2 }'; }
# topo_primaries TEXT: "NAME:PRIMARY" per member, sorted.
topo_primaries() {
  echo "$1" | awk '$1 == "SEGMENTS" { exit } NR > 3 { print $2 ":" $4 }' | sort | paste -sd, -
}
# topo_max_primary TEXT: the largest primary count of any member.
topo_max_primary() {
  echo "$1" | awk '$1 == "SEGMENTS" { exit } NR > 3 && $4 > m { m = $4 } END { print m + 0 }'
}
# topo_mentions TEXT NAME: whether NAME is a member or an owner of a segment.
topo_mentions() {
  echo "$1" | awk -v n="$2" 'NR > 3 { for (i = 2; i <= NF; i++) if ($i == n) f = 1 }
                             END { exit !f }'
}
topo_lacks() { ! topo_mentions "$@"; }
# topo_owner_counts TEXT: the distinct numbers of owners the segment rows list.
topo_owner_counts() {
  echo "$1" | awk '$1 == "SEGMENTS" { s = 1; next } s { print NF - 1 }' | sort -u | paste -sd, -
}

declare -A pid addr
start() { # start NAME NS IP [weftd args]
  local name=$1 ns=$2 ip=$3; shift 3
  weft_start_node "$name" "$ns" "$ip" --node-name "$name" "$@"
  pid[$name]=$NODE_PID
  addr[$name]=$ip
}

# --- multicast discovery ------------------------------------------------------
br=wcb$$
sub=10.231.20
weft_bridge "$br" "$sub"
for i in 1 2 3; do
  weft_netns_bridged "wc$$-$i" "$br"
  start "n$i" "wc$$-$i" "$sub.1$i" --clustered
done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
all3="n1:alive,n2:alive,n3:alive"
v=$(wait_view 30 "$all3" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}") || v=
check "multicast: 3 nodes form one view (every node: same view id, n1 n2 n3 alive)" test -n "$v"
echo "     view: $v"

# TOPOLOGY: the same epoch and table everywhere, balanced primaries
t1=$(topo_of "${addr[n1]}")
expect_eq "topology: n2 shows n1's table" "$t1" "$(topo_of "${addr[n2]}")"
expect_eq "topology: n3 shows n1's table" "$t1" "$(topo_of "${addr[n3]}")"
epoch3=$(topo_epoch "$t1")
expect_eq "topology: the epoch is the view id" "${v%% *}" "$epoch3"
expect_eq "topology: 3 members, 256 segments, 2 owners" \
  "epoch $epoch3, 3 members, 256 segments, 2 owners per segment (primary first)" \
  "$(echo "$t1" | head -1)"
expect_eq "topology: every segment has 2 owners" "2" "$(topo_owner_counts "$t1")"
echo "     topology epoch $epoch3, primaries $(topo_primaries "$t1")"
check "topology: no node is primary for more than 1.5x its fair share (128 of 256)" \
  test "$(topo_max_primary "$t1")" -le 128

# kill -9 -> dropped from the others' view within 3 s
kill -KILL "${pid[n3]}"
t0=$(now_ms)
v=$(wait_view 10 "n1:alive,n2:alive" "${addr[n1]}" "${addr[n2]}") || v=
dt=$(( $(now_ms) - t0 ))
echo "     kill -9 of n3: dropped from the view after ${dt} ms"
check "kill -9: the others drop the node (measured ${dt} ms)" test -n "$v"
check "kill -9: detected within 3 s" test "$dt" -le 3000
wait "${pid[n3]}" 2>/dev/null || true
t1=$(topo_of "${addr[n1]}")
expect_eq "kill -9: n2 shows n1's table" "$t1" "$(topo_of "${addr[n2]}")"
epoch2=$(topo_epoch "$t1")
echo "     topology epoch $epoch2 after the kill, primaries $(topo_primaries "$t1")"
check "kill -9: the topology epoch grew ($epoch3 -> $epoch2)" test "$epoch2" -gt "$epoch3"
check "kill -9: the dead node owns nothing" topo_lacks "$t1" n3
expect_eq "kill -9: every segment has the 2 survivors as owners" "2" "$(topo_owner_counts "$t1")"

# restart with the same home -> rejoins
start n3 "wc$$-3" "$sub.13" --clustered
weft_wait_ready "${addr[n3]}" "${pid[n3]}"
v=$(wait_view 30 "$all3" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}") || v=
check "restart with the same home: the node rejoins" test -n "$v"
expect_eq "restart: the node id is kept" "$(cat "$WEFT_TMP/n3-home/data/node-id")" \
  "$("$WEFTCTL" -s "${addr[n1]}" members | awk '$1 == "n3" { print $5 }')"

# SIGTERM -> leaves at once, exits 0
kill -TERM "${pid[n2]}"
t0=$(now_ms)
v=$(wait_view 10 "n1:alive,n3:alive" "${addr[n1]}" "${addr[n3]}") || v=
dt=$(( $(now_ms) - t0 ))
echo "     SIGTERM of n2: left the view after ${dt} ms"
check "SIGTERM: the node leaves the others' view" test -n "$v"
check "SIGTERM: it leaves within 1.5 s (no failure detection needed)" test "$dt" -le 1500
wait_exit "${pid[n2]}" 10
expect_eq "SIGTERM: the node exits 0" "0" "$EXIT_ST"
check "SIGTERM: logged as left, not down" grep -q "member left: n2" "$WEFT_TMP/n1.log"

# a copy of n1's home -> refused, view unchanged
before=$(view_of "${addr[n1]}")
cp -r "$WEFT_TMP/n1-home" "$WEFT_TMP/n4-home"
weft_netns_bridged "wc$$-4" "$br"
start n4 "wc$$-4" "$sub.14" --clustered
wait_exit "${pid[n4]}" 40
check "duplicate id: the node exits non-zero (status $EXIT_ST)" \
  test "$EXIT_ST" != running -a "$EXIT_ST" != 0
dup_id=$(cat "$WEFT_TMP/n1-home/data/node-id")
echo "     n4: $(grep -m1 refused "$WEFT_TMP/n4.log" | cut -c26-)"
check "duplicate id: the error names the duplicate id" grep -q "refused.*$dup_id" "$WEFT_TMP/n4.log"
check "duplicate id: the error names the cause and the fix" \
  grep -q "duplicate node id.*delete data/node-id" "$WEFT_TMP/n4.log"
expect_eq "duplicate id: n1's view unchanged" "$before" "$(view_of "${addr[n1]}")"
expect_eq "duplicate id: n3's view unchanged" "$before" "$(view_of "${addr[n3]}")"

for n in n1 n3; do kill -TERM "${pid[$n]}"; done
for n in n1 n3; do wait_exit "${pid[$n]}" 10; done

# --- --peers, multicast off ---------------------------------------------------
br2=wpb$$
sub=10.231.21
weft_bridge "$br2" "$sub"
peers="$sub.11,$sub.12,$sub.13"
for i in 1 2 3; do
  weft_netns_bridged "wp$$-$i" "$br2"
  start "p$i" "wp$$-$i" "$sub.1$i" --peers "$peers"
done
for i in 1 2 3; do weft_wait_ready "${addr[p$i]}" "${pid[p$i]}"; done
v=$(wait_view 30 "p1:alive,p2:alive,p3:alive" "${addr[p1]}" "${addr[p2]}" "${addr[p3]}") || v=
check "--peers (multicast off): 3 nodes form one view" test -n "$v"
echo "     view: $v"
check "--peers: multicast stays off" grep -q "multicast off" "$WEFT_TMP/p1.log"

# --- a plain node (no cluster options): itself, alone, view 0 -----------------
weft_netns_bridged "wp$$-9" "$br2"
start s1 "wp$$-9" "$sub.19"
weft_wait_ready "${addr[s1]}" "${pid[s1]}"
expect_eq "single node: MEMBERS lists itself alone in view 0" "0 s1:alive" "$(view_of "${addr[s1]}")"
expect_eq "single node: with its node id" "$(cat "$WEFT_TMP/s1-home/data/node-id")" \
  "$("$WEFTCTL" -s "${addr[s1]}" members | awk '$1 == "s1" { print $5 }')"
t1=$(topo_of "${addr[s1]}")
expect_eq "single node: TOPOLOGY has epoch 0, itself alone, one owner" \
  "epoch 0, 1 member, 256 segments, 1 owner per segment (primary first)" "$(echo "$t1" | head -1)"
expect_eq "single node: it is primary for every segment" "s1:256" "$(topo_primaries "$t1")"
expect_eq "single node: the table is one run" "0-255       s1" "$(echo "$t1" | tail -1)"
check "single node: the cluster channel stays off" \
  sh -c "! grep -q 'joining a cluster' '$WEFT_TMP/s1.log'"

weft_finish
