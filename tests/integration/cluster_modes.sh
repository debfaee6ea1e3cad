#!/usr/bin/env bash
# cluster_modes.sh — cache modes and partition handling on real nodes:
#  - replicated: a cache opened --mode replicated through n1 only; 50 puts
#    through n1 alone (routing off) are held by every node (STATS entries)
#    and read back right through n2 and through n3 alone (routing off), each
#    serving them itself (its forwarded counter does not move);
#  - invalidated: put k through n1 alone, then through n2 alone: n1's copy
#    is evicted; put k through n1 again: n2's copy is evicted (get through
#    n2 alone: NOT_FOUND), n1 holds the last value;
#  - partition with --partition-handling quorum: n3's veth sits on its own
#    bridge, joined to the others' by one veth pair; that link goes down:
#    n1 and n2 keep a view of 2 and accept writes, n3 (a view of 1, no
#    majority) refuses them with NO_QUORUM (weftctl exit 2, the status on
#    stderr, counted in STATS); the link comes back: one view of 3, n3
#    accepts writes again and reads what the majority wrote meanwhile.
# The host reaches n3 through n3's own bridge (a /32 route), so it can ask
# both sides during the partition. Duplicate node ids are cluster.sh's.
# Uses only 10.231.33.0/24 and 10.231.34.0/24. Removes every namespace,
# veth, bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

d() { local a=$1; shift; ctl "$a" --direct "$@"; }   # routing off: ADDR alone

# --- replicated and invalidated ------------------------------------------------
sub=10.231.33
cl_net wm "$sub"
for i in 1 2 3; do cl_node "n$i" "$sub.1$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"

check "replicated: open through n1" ctl "${addr[n1]}" open rp --mode replicated
"$WEFT_LOAD" write --server "${addr[n1]}" --cache rp --prefix rp --out "$WEFT_TMP/rp.acked" \
  --max-ops 50 --seconds 30 --direct >"$WEFT_TMP/rp.load.log" 2>&1 || true
sed 's/^/     /' "$WEFT_TMP/rp.load.log"
expect_eq "replicated: 50 puts through n1 alone acked" 50 "$(acked rp)"
for n in n1 n2 n3; do
  expect_eq "replicated: $n holds all 50 entries" 50 "$(cache_entries "${addr[$n]}" rp)"
done
for n in n2 n3; do
  fwd=$(stat_value "${addr[$n]}" total.forwarded)
  check "replicated: every entry reads back right through $n alone" \
    verify_from rp "${addr[$n]}" rp --direct
  expect_eq "replicated: $n served those reads itself (forwarded stays $fwd)" "$fwd" \
    "$(stat_value "${addr[$n]}" total.forwarded)"
done

check "invalidated: open through n1" ctl "${addr[n1]}" open iv --mode invalidated
check "invalidated: put k=a through n1 alone" d "${addr[n1]}" put iv k a
expect_eq "invalidated: n1 reads its own write" "a" "$(d "${addr[n1]}" get iv k)"
expect_status "invalidated: the entry stays on n1 (n3 alone: NOT_FOUND)" 1 d "${addr[n3]}" get iv k
check "invalidated: put k=b through n2 alone" d "${addr[n2]}" put iv k b
expect_status "invalidated: n2's write evicted n1's copy (n1 alone: NOT_FOUND)" 1 \
  d "${addr[n1]}" get iv k
expect_eq "invalidated: n2 reads b" "b" "$(d "${addr[n2]}" get iv k)"
check "invalidated: put k=c through n1 alone" d "${addr[n1]}" put iv k c
expect_status "invalidated: n1's write evicted n2's copy (n2 alone: NOT_FOUND)" 1 \
  d "${addr[n2]}" get iv k
expect_eq "invalidated: n1 reads c" "c" "$(d "${addr[n1]}" get iv k)"

for n in n1 n2 n3; do kill -TERM "${pid[$n]}"; done
for n in n1 n2 n3; do
  wait_exit "${pid[$n]}" 15
  expect_eq "first cluster: $n stops on SIGTERM" 0 "$EXIT_ST"
done

# --- partition with --partition-handling quorum -------------------------------
sub=10.231.34
cl_net wq "$sub"
for i in 1 2; do cl_node "q$i" "$sub.1$i" --clustered --partition-handling quorum; done
# q3's veth on its own bridge, joined to the cluster's by the link wql$$a-b
q3br=wqs$$ link=wql$$
ip link add "$q3br" type bridge; _links+=("$q3br")
ip link set "$q3br" type bridge mcast_snooping 0
ip link set "$q3br" up
ip link add "${link}a" type veth peer name "${link}b"; _links+=("${link}a")
ip link set "${link}a" master "$CL_BR" up
ip link set "${link}b" master "$q3br" up
ip route add "$sub.13/32" dev "$q3br"
weft_veth_ns "$CL_NS-q3"
ip link set "$CL_NS-q3-h" master "$q3br"
weft_start_node q3 "$CL_NS-q3" "$sub.13" --node-name q3 --lcores 1 --clustered \
  --partition-handling quorum
pid[q3]=$NODE_PID addr[q3]=$sub.13
for i in 1 2 3; do weft_wait_ready "${addr[q$i]}" "${pid[q$i]}"; done
check "quorum: 3 nodes form one view" \
  wait_view 30 "q1:alive,q2:alive,q3:alive" "${addr[q1]}" "${addr[q2]}" "${addr[q3]}"
check "quorum: q3 accepts a write before the partition" d "${addr[q3]}" put qc before 0

ip link set "${link}a" down
check "partition: q1 and q2 keep a view of 2" \
  wait_view 15 "q1:alive,q2:alive" "${addr[q1]}" "${addr[q2]}"
check "partition: q3 is left with a view of itself" wait_view 15 "q3:alive" "${addr[q3]}"
check "partition: q1 (majority) accepts writes" d "${addr[q1]}" put qc maj1 one
check "partition: q2 (majority) accepts writes" d "${addr[q2]}" put qc maj2 two
rc=0
err=$(d "${addr[q3]}" put qc minority x 2>&1 >/dev/null) || rc=$?
echo "     q3: $err"
expect_eq "partition: q3 (minority) refuses the write (exit 2)" 2 "$rc"
check "partition: q3 says NO_QUORUM" grep -q "NO_QUORUM" <<<"$err"
check "partition: q3 counts the refusal (total.no_quorum > 0)" \
  test "$(stat_value "${addr[q3]}" total.no_quorum)" -gt 0
expect_status "partition: q3 stored nothing" 1 d "${addr[q3]}" get qc minority

ip link set "${link}a" up
check "heal: one view of 3 again" \
  wait_view 40 "q1:alive,q2:alive,q3:alive" "${addr[q1]}" "${addr[q2]}" "${addr[q3]}"
check "heal: q3 accepts writes again" d "${addr[q3]}" put qc after three
expect_eq "heal: q1 reads q3's write" "three" "$(ctl "${addr[q1]}" get qc after)"
check "heal: the 3 nodes finish rebalancing" \
  wait_rebalanced 30 "${addr[q1]}" "${addr[q2]}" "${addr[q3]}"
expect_eq "heal: q3 reads what the majority wrote meanwhile (through q3 alone)" "one two" \
  "$(d "${addr[q3]}" get qc maj1) $(d "${addr[q3]}" get qc maj2)"

weft_finish
