#!/usr/bin/env bash
# memcached.sh — weftd's memcached UDP endpoint (docs/memcached.md) with
# clients nobody here wrote: Debian's memcaslap (libmemcached-tools, --udp)
# and a libmemcached client in UDP mode (mc_libmemcached.c, built against
# Debian's libmemcached-dev), plus mc_tool.py (python3) for the answers'
# exact text and frame headers.
#  - 1 node (--offset 2: port 11213, cache "mcache"): every command's answer;
#    a multi-key get of 30 values of 1000 bytes answered across several
#    datagrams; libmemcached sets 200 keys (flags kept) and deletes them;
#    memcaslap --udp (sets, gets, 10% verified, multi-gets of 10) reports
#    no misses, failed verifications, drops or timeouts; malformed
#    datagrams are counted, never answered wrongly; a source outside
#    --memcached-trust gets no answer larger than its request;
#    --memcached-port 0 turns the endpoint off;
#  - 3 nodes (--clustered): libmemcached sets through one node, every key
#    is read through each of the three (forwarded to owners), a multi-key
#    get over keys of every owner, memcaslap against the three nodes, and
#    deletes through another node seen everywhere.
# Uses only 10.237.1.0/24 and 10.237.2.0/24. Removes every namespace, veth,
# bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root

MCTOOL="python3 $(dirname "$0")/mc_tool.py"
MCLIB=$WEFT_BUILD/tests/integration/mc_libmemcached
MEMCASLAP=$(command -v memcaslap || command -v memaslap || true)
if [ -z "$MEMCASLAP" ] || [ ! -x "$MCLIB" ]; then
  echo "SKIP: needs memcaslap (Debian libmemcached-tools) and mc_libmemcached (libmemcached-dev)"
  exit 77
fi

mc() { $MCTOOL "$@" 2>/dev/null; }           # mc HOST PORT TEXT: the answer
mc_dgrams() { $MCTOOL "$@" 2>&1 >/dev/null | awk '/^datagrams/ { print $2 }'; }
# slap LOG SERVERS [args]: memcaslap over UDP, bounded; its summary in LOG.
slap() {
  local log=$1 servers=$2; shift 2
  timeout 120 "$MEMCASLAP" -s "$servers" --udp -T 1 -c 4 "$@" >"$log" 2>&1
}
# slap_clean LOG: ran every op, and no miss, failed verification, drop,
# disorder or timeout (memcaslap prints one line per counter).
slap_clean() {
  local log=$1 ops=$2
  awk -v ops="$ops" '
    /^cmd_get:/ { g = $2 } /^cmd_set:/ { s = $2 }
    /^(get_misses|verify_misses|verify_failed|packet_disorder|packet_drop|udp_timeout):/ { if ($2 != 0) bad = bad " " $0 }
    END { if (bad != "" || g + s != ops) { print "     memcaslap:" bad " (gets " g ", sets " s ")"; exit 1 } }' "$log" &&
  ! grep -q "ERROR" "$log"
}

# --- one node ---------------------------------------------------------------------
ns=wm$$
sub=10.237.1
weft_netns "$ns" "$sub"
weft_start_node n1 "$ns" "$sub.2" --offset 2 --memcached-cache mcache \
  --memcached-trust "$sub.1/32"
n1pid=$NODE_PID
weft_wait_ready "$sub.2:7702" "$n1pid"
H=$sub.2
P=11213
CTL="$WEFTCTL -s $H:7702"

expect_eq "set" "STORED" "$(mc $H $P 'set k1 7 0 5\r\nhello\r\n' | tr -d '\r')"
expect_eq "get: flags and data" "$(printf 'VALUE k1 7 5\nhello\nEND')" \
  "$(mc $H $P 'get k1\r\n' | tr -d '\r')"
cas=$(mc $H $P 'gets k1\r\n' | awk 'NR == 1 { print $5 }' | tr -d '\r')
check "gets: a cas unique" test -n "$cas"
expect_eq "cas with it" "STORED" "$(mc $H $P "cas k1 7 0 3 $cas\\r\\nbye\\r\\n" | tr -d '\r')"
expect_eq "cas with it again" "EXISTS" "$(mc $H $P "cas k1 7 0 3 $cas\\r\\nbye\\r\\n" | tr -d '\r')"
expect_eq "add of a present key" "NOT_STORED" "$(mc $H $P 'add k1 0 0 1\r\nx\r\n' | tr -d '\r')"
expect_eq "replace of a missing key" "NOT_STORED" "$(mc $H $P 'replace zz 0 0 1\r\nx\r\n' | tr -d '\r')"
expect_eq "append" "STORED" "$(mc $H $P 'append k1 0 0 2\r\n!!\r\n' | tr -d '\r')"
expect_eq "prepend" "STORED" "$(mc $H $P 'prepend k1 0 0 2\r\n<<\r\n' | tr -d '\r')"
expect_eq "get after append/prepend" "$(printf 'VALUE k1 7 7\n<<bye!!\nEND')" \
  "$(mc $H $P 'get k1\r\n' | tr -d '\r')"
expect_eq "set a counter" "STORED" "$(mc $H $P 'set n 0 0 2\r\n40\r\n' | tr -d '\r')"
expect_eq "incr" "42" "$(mc $H $P 'incr n 2\r\n' | tr -d '\r')"
expect_eq "decr below 0" "0" "$(mc $H $P 'decr n 100\r\n' | tr -d '\r')"
expect_eq "incr non-numeric" "CLIENT_ERROR cannot increment or decrement non-numeric value" \
  "$(mc $H $P 'incr k1 1\r\n' | tr -d '\r')"
expect_eq "touch" "TOUCHED" "$(mc $H $P 'touch k1 100\r\n' | tr -d '\r')"
expect_eq "delete" "DELETED" "$(mc $H $P 'delete k1\r\n' | tr -d '\r')"
expect_eq "delete again" "NOT_FOUND" "$(mc $H $P 'delete k1\r\n' | tr -d '\r')"
expect_eq "unknown command" "ERROR" "$(mc $H $P 'flush_all\r\n' | tr -d '\r')"
expect_eq "bad data chunk" "CLIENT_ERROR bad data chunk" "$(mc $H $P 'set k 0 0 9\r\nab\r\n' | tr -d '\r')"
long=$(printf 'k%.0s' $(seq 251))
expect_eq "a 251-byte key" "CLIENT_ERROR bad command line format" \
  "$(mc $H $P "get $long\\r\\n" | tr -d '\r')"

# multi-key get across several datagrams
v1000=$(printf 'v%.0s' $(seq 1000))
for i in $(seq 1 30); do mc $H $P "set m$i $i 0 1000\\r\\n$v1000\\r\\n" >/dev/null; done
keys=$(for i in $(seq 1 30); do printf ' m%d' "$i"; done)
ans=$(mc $H $P "get$keys missing\\r\\n")
expect_eq "multi-get: 30 values" "30" "$(echo "$ans" | grep -c '^VALUE m')"
expect_eq "multi-get: each of 1000 bytes, flags kept" "30" \
  "$(echo "$ans" | awk '/^VALUE m/ { split($2, k, "m"); if ($3 == k[2] && $4 + 0 == 1000) n++ } END { print n + 0 }')"
expect_eq "multi-get: the values" "30" "$(echo "$ans" | grep -c "^$v1000"$'\r'"\$")"
nd=$(mc_dgrams $H $P "get$keys\\r\\n")
check "multi-get: answered in $nd datagrams (> 20)" test "${nd:-0}" -gt 20

# libmemcached in UDP mode: sets, then deletes
st=0; out=$("$MCLIB" $H $P set 200 lib 2>&1) || st=$?
expect_eq "libmemcached UDP: 200 sets succeed ($out)" "0" "$st"
# found HOST PORT PREFIX N: how many of PREFIX-0..N-1 gets of 100 keys at a
# time find with flags = the key's index and the value libmemcached wrote.
found() {
  local n=0 i j keys
  for ((i = 0; i < $4; i += 100)); do
    keys=
    for ((j = i; j < i + 100 && j < $4; j++)); do keys="$keys $3-$j"; done
    n=$((n + $(mc "$1" "$2" "get$keys\\r\\n" | tr -d '\r' | awk -v p="$3" '
      /^VALUE / { split($2, k, "-"); want = "value-" k[2] "-of-" p
                  ok = ($3 == k[2] && $4 == length(want)); next }
      ok && $0 == "value-" k[2] "-of-" p { n++ } { ok = 0 } END { print n + 0 }')))
  done
  echo $n
}
lib_found() { found "$1" "$2" lib "$3"; }
wait_lib() { [ "$(lib_found "$1" "$2" "$3")" = "$4" ]; }
check "libmemcached UDP: every key there with its flags" wait_for 10 wait_lib $H $P 200 200
expect_eq "libmemcached UDP: a value" "$(printf 'VALUE lib-17 17 15\nvalue-17-of-lib\nEND')" \
  "$(mc $H $P 'get lib-17\r\n' | tr -d '\r')"
st=0; out=$("$MCLIB" $H $P delete 200 lib 2>&1) || st=$?
expect_eq "libmemcached UDP: 200 deletes succeed ($out)" "0" "$st"
check "libmemcached UDP: every key gone" wait_for 10 wait_lib $H $P 200 0

# memcaslap over UDP
slap "$WEFT_TMP/slap1.log" "$H:$P" -x 20000 -w 1k -v 0.1
check "memcaslap --udp: 20000 ops, no miss, verify failure, drop or timeout" \
  slap_clean "$WEFT_TMP/slap1.log" 20000
grep -E "^(cmd_get|cmd_set|verify_failed|udp_timeout)|TPS" "$WEFT_TMP/slap1.log" | sed 's/^/     /'
slap "$WEFT_TMP/slap2.log" "$H:$P" -x 5000 -w 1k -d 10 -X 1000
check "memcaslap --udp multi-get (-d 10): no miss, drop or timeout" \
  slap_clean "$WEFT_TMP/slap2.log" 5000

# malformed datagrams: counted, the node goes on
before=$(stat_value "$H:7702" mc.total.drop_short)
python3 - "$H" "$P" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in [b"", b"\x01", b"\x00\x01\x00\x00\x00", b"\xff" * 7]:
    s.sendto(d, (sys.argv[1], int(sys.argv[2])))
EOF
check "short datagrams counted" wait_for 5 \
  test "$(stat_value "$H:7702" mc.total.drop_short)" -ge $((before + 4))
expect_eq "multi-packet request refused" "SERVER_ERROR multi-packet request not supported" \
  "$(python3 - "$H" "$P" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(struct.pack(">HHHH", 9, 0, 2, 0) + b"get a\r\n", (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(2048)[0][8:].decode().strip())
EOF
)"
check "the node still serves" test "$(mc $H $P 'get m1\r\n' | head -c 8)" = "VALUE m1"

# an unverified source (the host's other address, not in --memcached-trust)
ip addr add "$sub.3/24" dev "$ns-h"
unverified() { # unverified TEXT: the answer's payload bytes and text to a request from .3
  python3 - "$H" "$P" "$1" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.bind(("10.237.1.3", 0))
req = struct.pack(">HHHH", 7, 0, 1, 0) + sys.argv[3].encode().decode("unicode_escape").encode()
s.sendto(req, (sys.argv[1], int(sys.argv[2])))
try:
    d = s.recvfrom(65536)[0]
    print(len(req), len(d), d[8:].decode().strip())
except socket.timeout:
    print(len(req), 0, "-")
EOF
}
read -r q a text <<<"$(unverified "get m1 m2 m3 m4 m5 m6 m7 m8 m9\\r\\n")"
expect_eq "unverified: a large answer refused" "SERVER_ERROR unverified source" "$text"
check "unverified: $a bytes answered to a $q-byte request" test "$a" -le "$q"
read -r q a text <<<"$(unverified "set small 0 0 1\\r\\nx\\r\\n")"
expect_eq "unverified: a small answer sent" "STORED" "$text"
read -r q a text <<<"$(unverified "get m1\\r\\n")"
expect_eq "unverified: no room for the refusal: nothing sent" "0 -" "$a $text"
check "unverified: counted" test "$(stat_value "$H:7702" mc.total.amp_refused)" -ge 2

# --memcached-port 0: off
kill "$n1pid"; wait "$n1pid" 2>/dev/null || true
weft_start_node n1b "$ns" "$sub.2" --memcached-port 0
weft_wait_ready "$sub.2" "$NODE_PID"
check "--memcached-port 0: no answer on 11211" test -z "$(mc $H 11211 'get m1\r\n')"
expect_eq "--memcached-port 0: no mc.* in STATS" "0" \
  "$("$WEFTCTL" -s $H stats | grep -c '^mc\.')"

# --- three nodes --------------------------------------------------------------------
cl_net wn 10.237.2
for i in 1 2 3; do
  cl_node "n$i" "10.237.2.1$i" --clustered --memcached-trust 10.237.2.1/32
done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
v=$(wait_view 30 "n1:alive,n2:alive,n3:alive" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}") || v=
check "3 nodes form one view" test -n "$v"
st=0; out=$("$MCLIB" "${addr[n1]}" 11211 set 100 cl 2>&1) || st=$?
expect_eq "cluster: libmemcached sets 100 keys through n1 ($out)" "0" "$st"
cl_found() { found "$1" 11211 cl 100; } # through HOST, gathered from every owner
cl_single() { # cl_single HOST: how many of cl-0..99 one get per key finds
  local n=0 i
  for i in $(seq 0 99); do
    mc "$1" 11211 "get cl-$i\\r\\n" | grep -q "^VALUE cl-$i $i " && n=$((n + 1))
  done
  echo $n
}
wait_cl() { [ "$(cl_found "$1")" = "$2" ]; }
for i in 1 2 3; do
  check "cluster: every key read through n$i" wait_for 10 wait_cl "${addr[n$i]}" 100
done
expect_eq "cluster: every key read through n2, one get per key" "100" "$(cl_single "${addr[n2]}")"
fwd=0
for i in 1 2 3; do fwd=$((fwd + $(stat_value "${addr[n$i]}" total.forwarded))); done
check "cluster: gets were forwarded to owners ($fwd)" test "$fwd" -gt 0
keys=$(for i in $(seq 0 39); do printf ' cl-%d' "$i"; done)
expect_eq "cluster: a multi-key get of 40 keys of every owner through n2" "40" \
  "$(mc "${addr[n2]}" 11211 "get$keys\\r\\n" | grep -c '^VALUE cl-')"
# every command through a node that owns none of the key, or some of it
A1=${addr[n1]} A2=${addr[n2]} A3=${addr[n3]}
for k in c0 c1 c2 c3 c4 c5; do
  expect_eq "cluster: set $k through n1" "STORED" "$(mc $A1 11211 "set $k 3 0 2\\r\\n40\\r\\n" | tr -d '\r')"
  expect_eq "cluster: incr $k through n2" "41" "$(mc $A2 11211 "incr $k 1\\r\\n" | tr -d '\r')"
  expect_eq "cluster: decr $k through n3" "39" "$(mc $A3 11211 "decr $k 2\\r\\n" | tr -d '\r')"
  expect_eq "cluster: append $k through n3" "STORED" "$(mc $A3 11211 "append $k 0 0 1\\r\\n!\\r\\n" | tr -d '\r')"
  cas=$(mc $A2 11211 "gets $k\\r\\n" | awk 'NR == 1 { print $5 }' | tr -d '\r')
  expect_eq "cluster: cas $k through n1 with n2's unique" "STORED" \
    "$(mc $A1 11211 "cas $k 3 0 1 $cas\\r\\nz\\r\\n" | tr -d '\r')"
  expect_eq "cluster: get $k through n3" "$(printf 'VALUE %s 3 1\nz\nEND' $k)" \
    "$(mc $A3 11211 "get $k\\r\\n" | tr -d '\r')"
  expect_eq "cluster: add $k through n2" "NOT_STORED" "$(mc $A2 11211 "add $k 0 0 1\\r\\nx\\r\\n" | tr -d '\r')"
  expect_eq "cluster: delete $k through n2" "DELETED" "$(mc $A2 11211 "delete $k\\r\\n" | tr -d '\r')"
done
slap "$WEFT_TMP/slap3.log" "${addr[n1]}:11211,${addr[n2]}:11211,${addr[n3]}:11211" \
  -x 9000 -w 1k -v 0.1
check "cluster: memcaslap --udp on 3 nodes: no miss, verify failure, drop or timeout" \
  slap_clean "$WEFT_TMP/slap3.log" 9000
grep -E "^(cmd_get|cmd_set|verify_failed|udp_timeout)|TPS" "$WEFT_TMP/slap3.log" | sed 's/^/     /'
st=0; out=$("$MCLIB" "${addr[n3]}" 11211 delete 100 cl 2>&1) || st=$?
expect_eq "cluster: libmemcached deletes through n3 ($out)" "0" "$st"
for i in 1 2 3; do
  check "cluster: every key gone through n$i" wait_for 10 wait_cl "${addr[n$i]}" 0
done

weft_finish
