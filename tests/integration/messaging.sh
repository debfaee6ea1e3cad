#!/usr/bin/env bash
# messaging.sh — queues, topics and dead letters on 3 real nodes (issue 5),
# with the consumers and publishers running on the nodes (in each node's
# namespace, talking to that node; libweft routes queue ops to the primary):
#  1. load balancing: 2 consumers on each node of /queue/work (n3's as
#     processes, the others as threads), polling before anything is
#     published; 3 publishers, one per node, publish 10,000 messages: every
#     acknowledged message is delivered, to exactly one consumer, once; each
#     node's consumers get within 20% of the mean; the primary's
#     DESTINATIONS counters agree (published = acked = delivered = 10,000,
#     depth = inflight = dead = redelivered = 0) and the backup holds no
#     message any more (the acks reached it);
#  2. topic fan-out: 2 subscribers on each node of /topic/news (plain
#     subscriptions on the node they talk to); once every node has its
#     subscriptions and the primary sends to 3 subscriber nodes, 2
#     publishers (n1, n3) publish 500 messages each: every subscriber gets
#     every message once, in publish order per publisher;
#  3. dead letters: /queue/poison opened with --max-deliveries 3 and a
#     consumer that nacks everything: a message published with `weftctl
#     publish` is delivered 3 times (deliveries 1, 2, 3), then is in
#     /queue/poison.dlq, where `weftctl receive` gets it; DESTINATIONS
#     agree (the queue: published 1, delivered 3, redelivered 2, dead 1,
#     acked 0, nothing left; the dead-letter queue: published 1, then
#     acked 1 and empty).
# Uses only 10.231.40.0/24. Removes every namespace, veth, bridge and
# process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/messaging_lib.sh"
weft_require_root

sub=10.231.40
cl_net wm "$sub"
for i in 1 2 3; do mq_node "n$i" "$sub.1$i" "$sub.2$i" --clustered; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
check "3 nodes form one view" \
  wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"
check "the first view is rebalanced everywhere" \
  wait_rebalanced 30 "${addr[n1]}" "${addr[n2]}" "${addr[n3]}"
nodes=(n1 n2 n3)

# --- 1. a queue: load balancing, exactly once without failures ------------------
q=/queue/work
check "dest-open $q" mctl "${addr[n1]}" dest-open "$q"
check "one node is $q's primary" wait_for 10 one_primary "$q" "${nodes[@]}"
prim=$(mq_primary "$q" "${nodes[@]}")
[[ -n $prim && $prim != *" "* ]] || { echo "     not one primary ('$prim'): cannot go on"; exit 1; }
read -r tprim tback <<<"$(mq_owner "${addr[n1]}" "$q")"
echo "     $q: primary $prim (DESTINATIONS); topology: primary $tprim, backups $tback"
expect_eq "$q: the DESTINATIONS primary is the topology's" "$tprim" "$prim"

declare -A cons pubs subs
mq_consume q1 n1 "$q" 2; cons[1]=$MQ_PID
mq_consume q2 n2 "$q" 2; cons[2]=$MQ_PID
mq_consume q3 n3 "$q" 2 --procs; cons[3]=$MQ_PID
check "$q: the 6 consumers are polling the primary (consumers >= 6)" \
  wait_for 30 dest_val_at_least "${addr[$prim]}" "$q" consumers 6
dest_show "$prim" "${addr[$prim]}" "$q"

total=10000
mq_publish p1 n1 "$q" n1 3334; pubs[1]=$MQ_PID
mq_publish p2 n2 "$q" n2 3333; pubs[2]=$MQ_PID
mq_publish p3 n3 "$q" n3 3333; pubs[3]=$MQ_PID
for i in 1 2 3; do
  mq_wait_publisher "p$i" "${pubs[$i]}" 120
  expect_eq "publisher on n$i: every message acknowledged (exit 0)" 0 "$MQ_ST"
done
acked_files=("$WEFT_TMP"/p1.acked "$WEFT_TMP"/p2.acked "$WEFT_TMP"/p3.acked)
outs=("$WEFT_TMP"/q1.out "$WEFT_TMP"/q2.out "$WEFT_TMP"/q3.out)
expect_eq "$q: $total messages acknowledged to the publishers" "$total" "$(lines "${acked_files[@]}")"
check "$q: every acknowledged message reaches a consumer" \
  wait_for 60 every_acked_delivered "${acked_files[@]}" -- "${outs[@]}"
check "$q: the primary has nothing left in flight or queued" \
  wait_for 30 drained "${addr[$prim]}" "$q"
for g in 1 2 3; do mq_stop "q$g" "${cons[$g]}"; expect_eq "consumers on n$g: exit 0" 0 "$MQ_ST"; done

mq_check queue "nodes=n1 n2 n3" "${acked_files[@]}" -- "${outs[@]}"
expect_eq "$q: no acknowledged message lost" 0 "$(mqv lost)"
expect_eq "$q: each message delivered to exactly one consumer (duplicate lines)" 0 "$(mqv dup_lines)"
expect_eq "$q: no redelivery (lines with deliveries > 1)" 0 "$(mqv redelivered_lines)"
expect_eq "$q: no malformed output" 0 "$(mqv bad)"
expect_eq "$q: $total distinct messages delivered" "$total" "$(mqv delivered)"
check "$q: each node's consumers get within 20% of the mean ($(mqv fair_worst_pct)% off)" \
  test "$(mqv fair_worst_pct)" -le 20
for g in 1 2 3; do
  check "consumers on n$g: every ack was taken (no ack_unknown, no ack_errors)" \
    clean_acks "$WEFT_TMP/q$g.mq.log"
done

dest_show "$prim" "${addr[$prim]}" "$q"
for kv in "published=$total" "acked=$total" "delivered=$(mqv lines)" depth=0 inflight=0 \
  dead=0 redelivered=0; do
  expect_eq "DESTINATIONS on $prim: $q $kv" "${kv#*=}" "$(dest_val "${addr[$prim]}" "$q" "${kv%%=*}")"
done
back=${tback%%,*}
dest_show "$back" "${addr[$back]}" "$q"
expect_eq "DESTINATIONS on $back: $q is a backup" backup "$(dest_role "${addr[$back]}" "$q")"
check "DESTINATIONS on $back: the backup holds no message (depth 0: the acks reached it)" \
  wait_for 10 dest_val_is "${addr[$back]}" "$q" depth 0

# --- 2. a topic: fan-out to subscribers on every node, in order --------------------
t=/topic/news
for n in "${nodes[@]}"; do mq_consume "t_$n" "$n" "$t" 2; subs[$n]=$MQ_PID; done
for n in "${nodes[@]}"; do
  check "$t: $n holds its 2 subscriptions" \
    wait_for 30 dest_val_at_least "${addr[$n]}" "$t" subscriptions 2
done
check "one node is $t's primary" wait_for 10 one_primary "$t" "${nodes[@]}"
tp=$(mq_primary "$t" "${nodes[@]}")
[[ -n $tp && $tp != *" "* ]] || { echo "     not one primary ('$tp'): cannot go on"; exit 1; }
check "$t: the primary $tp sends to 3 subscriber nodes" \
  wait_for 30 dest_val_at_least "${addr[$tp]}" "$t" subscriber_nodes 3
dest_show "$tp" "${addr[$tp]}" "$t"
mq_publish tp1 n1 "$t" t1 500; tp1=$MQ_PID
mq_publish tp3 n3 "$t" t3 500; tp3=$MQ_PID
mq_wait_publisher tp1 "$tp1" 60; expect_eq "topic publisher on n1: all 500 acknowledged" 0 "$MQ_ST"
mq_wait_publisher tp3 "$tp3" 60; expect_eq "topic publisher on n3: all 500 acknowledged" 0 "$MQ_ST"
touts=("$WEFT_TMP"/t_n1.out "$WEFT_TMP"/t_n2.out "$WEFT_TMP"/t_n3.out)
# every subscriber has as many lines as messages published (bounded)
all_got() {
  local want=$1; shift
  awk -v w="$want" '{ c[$1]++ } END { n = 0; for (t in c) { n++; if (c[t] < w) exit 1 }; exit n < 6 }' "$@"
}
check "$t: the 6 subscribers have 1000 messages each" wait_for 30 all_got 1000 "${touts[@]}"
for n in "${nodes[@]}"; do mq_stop "t_$n" "${subs[$n]}"; done
mq_check topic "tags=n1-0 n1-1 n2-0 n2-1 n3-0 n3-1" "$WEFT_TMP"/tp1.acked "$WEFT_TMP"/tp3.acked \
  -- "${touts[@]}"
expect_eq "$t: 1000 messages acknowledged" 1000 "$(mqv acked)"
expect_eq "$t: every subscriber got every message (missing)" 0 "$(mqv missing)"
expect_eq "$t: no subscriber is absent" 0 "$(mqv absent)"
expect_eq "$t: each message once per subscriber (duplicate lines)" 0 "$(mqv dup_lines)"
expect_eq "$t: in publish order per publisher (out-of-order lines)" 0 "$(mqv order)"
expect_eq "$t: no subscriber fell behind (dropped)" "" \
  "$(grep -ho 'dropped=[1-9][0-9]*' "$WEFT_TMP"/t_n*.mq.log || true)"
expect_eq "DESTINATIONS on $tp: $t published=1000" 1000 "$(dest_val "${addr[$tp]}" "$t" published)"

# --- 3. dead letters after N failed deliveries -----------------------------------
d=/queue/poison
check "dest-open $d --max-deliveries 3" \
  mctl "${addr[n1]}" dest-open "$d" --max-deliveries 3 --visibility 60000
check "one node is $d's primary" wait_for 10 one_primary "$d" "${nodes[@]}"
dp=$(mq_primary "$d" "${nodes[@]}")
[[ -n $dp && $dp != *" "* ]] || { echo "     not one primary ('$dp'): cannot go on"; exit 1; }
mq_consume nack n2 "$d" 1 --nack --max 1; nk=$MQ_PID
check "$d: the nacking consumer is polling" wait_for 30 dest_val_at_least "${addr[$dp]}" "$d" consumers 1
check "weftctl publish $d poison-1" mctl "${addr[n3]}" publish "$d" poison-1
check "$d: the message goes dead (dead = 1 on the primary $dp)" \
  wait_for 30 dest_val_is "${addr[$dp]}" "$d" dead 1
check "$d.dlq: holds it (depth 1 on $dp)" wait_for 10 dest_val_is "${addr[$dp]}" "$d.dlq" depth 1
mq_stop nack "$nk"
echo "     nacking consumer saw: $(paste -sd' ' "$WEFT_TMP/nack.out")"
expect_eq "$d: delivered 3 times, deliveries 1 2 3, then no more" "poison-1:1 poison-1:2 poison-1:3" \
  "$(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $3 }' "$WEFT_TMP/nack.out")"
dest_show "$dp" "${addr[$dp]}" "$d"
dest_show "$dp" "${addr[$dp]}" "$d.dlq"
for kv in published=1 delivered=3 redelivered=2 dead=1 acked=0 depth=0 inflight=0; do
  expect_eq "DESTINATIONS on $dp: $d $kv" "${kv#*=}" "$(dest_val "${addr[$dp]}" "$d" "${kv%%=*}")"
done
expect_eq "DESTINATIONS on $dp: $d.dlq published=1" 1 "$(dest_val "${addr[$dp]}" "$d.dlq" published)"
expect_eq "weftctl receive $d.dlq gets the message" poison-1 \
  "$(mctl "${addr[n1]}" receive "$d.dlq" --count 1 --timeout 5 2>"$WEFT_TMP/dlq.log")"
check "$d.dlq: empty once received and acked" \
  wait_for 10 drained "${addr[$dp]}" "$d.dlq"
expect_eq "DESTINATIONS on $dp: $d.dlq acked=1" 1 "$(dest_val "${addr[$dp]}" "$d.dlq" acked)"

weft_finish
