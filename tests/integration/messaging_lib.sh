# tests/integration/messaging_lib.sh — helpers of the messaging tests
# (messaging.sh, messaging_failover.sh), sourced after lib.sh and
# cluster_lib.sh. Owns: nodes that also host applications (an application
# interface in the node's namespace, so consumers and publishers run "on"
# the node and die with it), starting weft_mq consumers and publishers
# there, reading DESTINATIONS lines, and the analyzer (mq_check) of what the
# publishers had acknowledged against what the consumers printed.
#
# Invariants: every weft_mq process is in lib.sh's _pids (weft_cleanup stops
# it on any exit) and bounds itself (--duration); every wait is bounded;
# the application interfaces are on the test's bridge, in its subnet.

WEFT_MQ=$WEFT_BUILD/tests/integration/weft_mq

# mq_node NAME IP APP_IP [weftd args...]: cl_node NAME IP, plus an
# application interface in the node's namespace: veth "$ns-c" holding
# APP_IP/24, its peer "$ns-k" a port of the bridge. The namespace's kernel
# answers ARP only on the interface holding the address (arp_ignore=1), so
# the af_packet port stays weftd's alone.
mq_node() {
  local name=$1 ip=$2 aip=$3; shift 3
  cl_node "$name" "$ip" "$@"
  local ns=$CL_NS-$name
  ip link add "$ns-k" type veth peer name "$ns-c"; _links+=("$ns-k")
  ip link set "$ns-c" netns "$ns"
  ip link set "$ns-k" master "$CL_BR" up
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1
  ip -n "$ns" addr add "$aip/24" dev "$ns-c"
  ip -n "$ns" link set "$ns-c" up
}

# mq_consume GROUP NODE DEST K [weft_mq consume args...]: K consumers of
# DEST (subscribers, weft_mq subscribe, for a topic) in NODE's namespace
# talking to NODE, tagged NODE-0..NODE-(K-1), printing to
# $WEFT_TMP/GROUP.out (stderr: GROUP.mq.log), bounded by --duration 150
# unless the args say less. Sets MQ_PID: weft_mq's own pid (`ip netns exec`
# execs it; run from a function in the background it would be a subshell's).
mq_consume() {
  local group=$1 node=$2 dest=$3 k=$4 mode=consume; shift 4
  [[ $dest == /topic/* ]] && mode=subscribe
  ip netns exec "$CL_NS-$node" "$WEFT_MQ" "$mode" --server "${addr[$node]}" --dest "$dest" \
    --consumers "$k" --tag "$node" --out "$WEFT_TMP/$group.out" --duration 150 "$@" \
    2>"$WEFT_TMP/$group.mq.log" &
  MQ_PID=$!
  _pids+=("$MQ_PID")
}

# mq_publish GROUP NODE DEST ID N [weft_mq publish args...]: a publisher of
# "P<ID>-0".."P<ID>-(N-1)" to DEST in NODE's namespace through NODE; its
# acknowledged bodies go to $WEFT_TMP/GROUP.acked. Sets MQ_PID.
mq_publish() {
  local group=$1 node=$2 dest=$3 id=$4 n=$5; shift 5
  ip netns exec "$CL_NS-$node" "$WEFT_MQ" publish --server "${addr[$node]}" --dest "$dest" \
    --publisher "$id" --count "$n" --out "$WEFT_TMP/$group.acked" "$@" \
    2>"$WEFT_TMP/$group.mq.log" &
  MQ_PID=$!
  _pids+=("$MQ_PID")
}

# mq_stop GROUP PID: SIGTERM, then waits (bounded) for it; prints its
# summary line(s); sets MQ_ST (exit status, or "running").
mq_stop() {
  kill -TERM "$2" 2>/dev/null || true
  wait_exit "$2" 20
  MQ_ST=$EXIT_ST
  grep -E '^(CONSUME|PUBLISH)' "$WEFT_TMP/$1.mq.log" | sed 's/^/     /' || true
}

# mq_wait_publisher GROUP PID SECONDS: waits (bounded) for a publisher to
# end by itself; prints its summary; sets MQ_ST.
mq_wait_publisher() {
  wait_exit "$2" "$3"
  MQ_ST=$EXIT_ST
  grep '^PUBLISH' "$WEFT_TMP/$1.mq.log" | sed 's/^/     /' || echo "     $1: no PUBLISH line"
}

# clean_acks LOG: the CONSUME lines of LOG (one per process) say every ack
# was taken: ack_unknown=0 and ack_errors=0 in each, and there is one.
clean_acks() {
  grep -q '^CONSUME' "$1" && ! grep -E '^CONSUME.* (ack_unknown|ack_errors)=[1-9]' "$1" >/dev/null
}

# publish_timeouts GROUP...: how many publishes of these publishers timed
# out (each may have been applied, then published again by the retry).
publish_timeouts() {
  local g n=0 t
  for g in "$@"; do
    t=$(sed -n 's/^PUBLISH .* TIMEOUT=\([0-9]*\).*/\1/p' "$WEFT_TMP/$g.mq.log")
    n=$((n + ${t:-0}))
  done
  echo "$n"
}

# lines FILE...: lines in the files (0 for none).
lines() { cat "$@" 2>/dev/null | wc -l; }
lines_at_least() { local want=$1; shift; [ "$(lines "$@")" -ge "$want" ]; }

# --- DESTINATIONS ---------------------------------------------------------------

# mctl ADDR ARGS...: weftctl on ADDR (messaging commands: --timeout is in
# seconds and bounds the command; without it a call is bounded by libweft's
# attempts).
mctl() { local a=$1; shift; "$WEFTCTL" -s "$a" "$@"; }

# dest_line ADDR DEST: DEST's row of ADDR's `weftctl destinations` table
# (header "NAME ROLE DEPTH ..."; empty when it holds none or does not answer).
dest_line() { mctl "$1" destinations 2>/dev/null | awk -v d="$2" '$1 == d' || true; }
# dest_show NAME ADDR DEST: prints the table's header and DEST's row, for
# the log.
dest_show() {
  mctl "$2" destinations 2>&1 | awk -v d="$3" -v n="$1" 'NR == 1 || $1 == d { print "     " n ": " $0 }' || true
}
# dest_role ADDR DEST: its role (primary, backup, subscriber) or "none".
dest_role() { local r; r=$(dest_line "$1" "$2" | awk '{ print $2 }'); echo "${r:-none}"; }
# dest_val ADDR DEST KEY: the value of KEY (a wire.h DESTINATIONS key:
# depth, inflight, subscriber_nodes...) in DEST's row; empty if none.
dest_val() {
  local col=${3^^}
  case $col in SUBSCRIBER_NODES) col=SUB_NODES ;; SUBSCRIPTIONS) col=SUBS ;; esac
  mctl "$1" destinations 2>/dev/null | awk -v d="$2" -v c="$col" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
    $1 == d && k && $k != "-" { print $k }' || true
}
dest_val_at_least() { local v; v=$(dest_val "$1" "$2" "$3"); [ -n "$v" ] && [ "$v" -ge "$4" ]; }
dest_val_is() { [ "$(dest_val "$1" "$2" "$3")" = "$4" ]; }

# drained ADDR DEST: DEST on ADDR has nothing queued or in flight.
drained() { dest_val_is "$1" "$2" inflight 0 && dest_val_is "$1" "$2" depth 0; }

# mq_primary DEST NODE...: the NODEs whose row of DEST says primary.
mq_primary() {
  local d=$1 n out=""; shift
  for n in "$@"; do [ "$(dest_role "${addr[$n]}" "$d")" = primary ] && out="$out $n"; done
  echo $out
}
# one_primary DEST NODE...: exactly one of the NODEs says primary.
one_primary() { local p; p=$(mq_primary "$@"); [ -n "$p" ] && [ "${p// /}" = "$p" ]; }

# mq_owner ADDR DEST: "PRIMARY BACKUP,..." of DEST in ADDR's segment table
# (the second word empty for a single owner).
mq_owner() {
  "$WEFT_MQ" owner --server "$1" --dest "$2" |
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
           print v["primary"], v["backups"] }'
}

# --- the analyzer ---------------------------------------------------------------

# mq_check MODE OPTS ACKED_FILE... -- OUT_FILE...: compares the bodies the
# publishers had acknowledged (ACKED files, "<body>" lines) with what the
# consumers printed (OUT files, "<tag> <body> <deliveries> <id>" lines); a tag
# NODE-i is a consumer on NODE. OPTS: comma-separated awk assignments
# ("nodes=n1 n2 n3", "victim=n3", "tags=n1-0 n2-0") or "-". Writes
# "CHECK key=value ..." (read with mqv KEY) then detail lines to
# $WEFT_TMP/check.txt and prints them.
#  MODE queue: acked (distinct acked bodies), lines, delivered (distinct
#   bodies delivered), lost (acked, never delivered), dup_lines (lines beyond
#   a body's first), dup_bodies, redelivered_lines (deliveries > 1),
#   published_twice (messages beyond the first with the same body: a
#   publish retried after a timeout was applied twice), repeats (lines of a
#   message, by id, beyond its first: redeliveries), repeats_d1 (lines of
#   a message saying deliveries 1 beyond the first such: a redelivery that
#   did not count the earlier delivery),
#   dup_victim / dup_not_victim (duplicated bodies one / none of whose
#   lines is from a consumer on the node "victim"), extra (delivered, never
#   acked: publishes whose answer was lost), bad (malformed lines), per node
#   node.NAME=lines, fair_worst_pct (largest |node - mean| in % of the mean
#   over "nodes"); details list lost and duplicated bodies with who got
#   them ("tag#deliveries@id").
#  MODE topic: subscribers (tags seen), absent (tags of "tags" with no
#   line), missing (sum over tags of acked bodies the tag lacks), dup_lines,
#   order (a tag got P<id>-<s> after P<id>-<t>, t >= s), extra, bad.
mq_check() {
  local mode=$1 opts=$2 acked=() outs=() av=() o x; shift 2
  while [ "$1" != -- ]; do acked+=("$1"); shift; done; shift; outs=("$@")
  if [ "$opts" != - ]; then IFS=, read -ra o <<<"$opts"; for x in "${o[@]}"; do av+=(-v "$x"); done; fi
  touch "${acked[@]}" "${outs[@]}"
  awk -v mode="$mode" -v nacked=${#acked[@]} "${av[@]}" '
    BEGIN { for (i = 1; i <= nacked; i++) isack[ARGV[i]] = 1
            n_nodes = split(nodes, nl, " "); n_tags = split(tags, tl, " ") }
    FILENAME in isack { if (NF != 1) { bad++; next }
                        if (!($1 in ack)) { ack[$1] = 1; n_ack++ }; next }
    { if (NF != 4 || $3 !~ /^[0-9]+$/ || $4 !~ /^[0-9a-f]+$/) { bad++; next }
      tag = $1; b = $2; d = $3 + 0; id = $4; n_lines++
      if (d > 1) redeliv++
      node = tag; sub(/-[0-9]+$/, "", node); pernode[node]++
      if (!(b in seen)) n_deliv++
      seen[b]++; who[b] = who[b] " " tag "#" d "@" id
      if ((b, id) in bid) repeats++
      else { bid[b, id] = 1; if (b in nids) twice++; nids[b]++ }
      if (d == 1 && d1[b, id]++) repeats_d1++
      if (node == victim) byvictim[b] = 1
      if (!((tag, b) in tseen)) tn[tag]++; else tdup++
      tseen[tag, b] = 1; tagseen[tag] = 1
      if (b ~ /^P.+-[0-9]+$/) {
        p = b; sub(/-[0-9]+$/, "", p); s = b; sub(/^.*-/, "", s); s += 0
        if (((tag, p) in last) && s <= last[tag, p]) {
          order++
          if (order <= 10) od = od sprintf("  order: %s got %s after %s-%d\n", tag, b, p, last[tag, p])
        }
        last[tag, p] = s
      } }
    END {
      for (b in ack) if (!(b in seen)) { lost++; if (lost <= 20) ld = ld " " b }
      for (b in seen) if (!(b in ack)) extra++
      if (mode == "queue") {
        for (b in seen) if (seen[b] > 1) {
          dupb++; if (!(b in byvictim)) dnv++
          if (dupb <= 50) dd = dd sprintf("  dup: %s:%s\n", b, who[b])
        }
        printf "CHECK acked=%d lines=%d delivered=%d lost=%d dup_lines=%d dup_bodies=%d" \
               " redelivered_lines=%d published_twice=%d repeats=%d repeats_d1=%d" \
               " dup_victim=%d dup_not_victim=%d extra=%d bad=%d", n_ack, n_lines, n_deliv,
               lost, n_lines - n_deliv, dupb, redeliv, twice, repeats, repeats_d1, dupb - dnv,
               dnv, extra, bad
        for (i = 1; i <= n_nodes; i++) { c = pernode[nl[i]] + 0; sum += c; printf " node.%s=%d", nl[i], c }
        mean = n_nodes ? sum / n_nodes : 0; worst = 0
        for (i = 1; i <= n_nodes; i++) { dev = pernode[nl[i]] - mean; if (dev < 0) dev = -dev
                                         if (mean > 0 && 100 * dev / mean > worst) worst = 100 * dev / mean }
        printf " fair_worst_pct=%d\n", worst + 0.999
        if (lost) printf "  lost (first 20):%s\n", ld
        printf "%s", dd
      } else {
        for (t in tagseen) { n_sub++
          for (b in ack) if (!((t, b) in tseen)) { tmiss[t]++; missing++ } }
        for (i = 1; i <= n_tags; i++) if (!(tl[i] in tagseen)) { absent++; missing += n_ack }
        printf "CHECK acked=%d lines=%d subscribers=%d absent=%d missing=%d dup_lines=%d" \
               " order=%d extra=%d bad=%d\n", n_ack, n_lines, n_sub, absent, missing, tdup,
               order, extra, bad
        for (t in tagseen) printf "  %s: %d distinct, %d missing\n", t, tn[t], tmiss[t]
        printf "%s", od
      } }' "${acked[@]}" "${outs[@]}" >"$WEFT_TMP/check.txt"
  sed 's/^/     /' "$WEFT_TMP/check.txt"
}

# mqv KEY: a value of the last mq_check's CHECK line.
mqv() { head -1 "$WEFT_TMP/check.txt" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# every_acked_delivered ACKED... -- OUT...: nothing acked is missing yet
# (queue: delivered to some consumer).
every_acked_delivered() {
  local a=() o=()
  while [ "$1" != -- ]; do a+=("$1"); shift; done; shift; o=("$@")
  touch "${a[@]}" "${o[@]}"
  cat "${a[@]}" | awk 'FILENAME == "-" { want[$1] = 1; next } { got[$2] = 1 }
    END { for (b in want) if (!(b in got)) exit 1 }' - "${o[@]}"
}
