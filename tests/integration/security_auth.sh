#!/usr/bin/env bash
# security_auth.sh — cluster and client authentication (docs/SECURITY.md,
# wire.h "Trailers") on real weftd nodes in network namespaces on a bridge:
#  - 3 nodes with --cluster-key K form one view; a 4th node without a key
#    and a 5th with another key cannot join: the view stays n1..n3, the
#    members count refused datagrams (auth.refused_missing, _key_id), and
#    the 5th counts the members' datagrams it refuses (auth.refused_key_id);
#  - from an attacker namespace with a kernel socket: a forged REPLICATE of
#    a key (no trailer, then a trailer with the right key_id and a made-up
#    tag) and a forged membership datagram are refused and counted, and
#    change nothing (the key's value and the view stay);
#  - --encrypt: 3 nodes form a view, a put on one is read on another, and a
#    capture of a node's veth (AF_PACKET, python3) sees the value's bytes in
#    no node-to-node frame — while the same capture on the MAC-only cluster
#    does see them (the capture works); the tutorial's cluster example
#    (in-node clients talking across nodes) runs on it;
#  - --client-key: a client without a key, or with another key, gets
#    UNAUTHORIZED (counted in auth.unauthorized); with the key (weftctl
#    --key-file, or WEFT_CLIENT_KEY_FILE) put and get work; `weftctl
#    keygen` writes a 0600 key and never overwrites one; weftd refuses a
#    key file that group or others can read, naming it and its mode.
# Uses only 10.233.1.0/24, 10.233.2.0/24 and 10.233.3.0/24. Removes every
# namespace, veth, bridge and process it made on any exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
weft_require_root
command -v python3 >/dev/null || { echo "SKIP: python3 is needed (forged datagrams, capture)"; exit 77; }

K=$WEFT_TMP/cluster.key
K2=$WEFT_TMP/other.key
KC=$WEFT_TMP/client.key
expect_status "keygen writes a new key" 0 "$WEFTCTL" keygen "$K"
expect_eq "keygen: mode 0600" "600" "$(stat -c %a "$K")"
expect_status "keygen refuses to overwrite a key" 2 "$WEFTCTL" keygen "$K"
"$WEFTCTL" keygen "$K2"
"$WEFTCTL" keygen "$KC"

auth() { stat_value "$1" "auth.$2"; }
stat_ge() { [ "$(stat_value "$1" "$2")" -ge "$3" ]; }

# forge.py ADDR PORT KIND [KEYFILE] (run in the attacker's namespace): three
# copies of one datagram: KIND replicate (a REPLICATE of sec/k1 = FORGED,
# version 2^62; with KEYFILE a trailer whose key_id is right and whose tag
# is made up) or membership (a 'WM' datagram, no trailer).
cat >"$WEFT_TMP/forge.py" <<'EOF'
import hashlib, os, socket, struct, sys, time
addr, port, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keyfile = sys.argv[4] if len(sys.argv) > 4 else None
if kind == 'membership':
    pkt = b'WM\x01\x01' + os.urandom(60)
else:
    name, key, val = b'sec', b'k1', b'FORGED'
    opts = struct.pack('<QQQQII', 0, 0, 0, 0, 3, 0)
    extras = opts + struct.pack('<II', 1, 0)
    entry = struct.pack('<BBHIQQQ', 1, 0, len(key), len(val), 1 << 62, (1 << 64) - 1, 0)
    body = name + extras + entry + key + val
    flags = 0x04 | (0x08 if keyfile else 0)
    hdr = struct.pack('<HBBBBHHHIQIIII', 0x5746, 1, 0x0f, flags, len(name), 0, 0,
                      len(extras), 0x5eed, 1 << 40, 0, len(body), 0, 0)
    pkt = hdr + body
    if keyfile:
        raw = open(keyfile).read().strip()
        key_id = hashlib.blake2b(bytes.fromhex(raw), digest_size=32).digest()[:4]
        pkt += struct.pack('<BBH', 1, 0, 0) + key_id + struct.pack('<Q', int(time.time() * 1000))
        pkt += os.urandom(32)  # salt and a made-up tag
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(pkt, (addr, port))
EOF
forge() { ip netns exec "$CL_NS-x" python3 "$WEFT_TMP/forge.py" "$@"; }

# sniff.py IFACE SECONDS OUT MARKER IP...: captures every frame on IFACE
# for SECONDS (AF_PACKET) and writes "frames=N node_frames=N marker=N" to
# OUT: node frames are IPv4 between two of the IPs; marker counts those
# holding MARKER.
cat >"$WEFT_TMP/sniff.py" <<'EOF'
import socket, sys, time
ifc, secs, out, marker = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
ips = set(socket.inet_aton(a) for a in sys.argv[5:])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((ifc, 0))
s.settimeout(0.2)
open(out + '.ready', 'w').close()
end = time.time() + secs
frames = node = hits = 0
while time.time() < end:
    try:
        f = s.recv(65535)
    except socket.timeout:
        continue
    frames += 1
    if len(f) < 34 or f[12:14] != b'\x08\x00':
        continue
    if f[26:30] in ips and f[30:34] in ips:
        node += 1
        if marker in f:
            hits += 1
open(out, 'w').write('frames=%d node_frames=%d marker=%d\n' % (frames, node, hits))
EOF
# sniff NODE SECONDS OUT MARKER IP...: sniff.py on the host end of NODE's
# veth (every frame to or from it; the bridge device itself would not see
# unicast between ports), in the background; returns once it captures.
sniff() {
  local node=$1; shift
  python3 "$WEFT_TMP/sniff.py" "$CL_NS-$node-h" "$@" &
  SNIFF_PID=$!
  _pids+=("$SNIFF_PID")
  wait_for 10 test -f "$2.ready"
}

# --- 1. a cluster with a key; nodes without it (or with another) stay out ------
cl_net wsa 10.233.1
for i in 1 2 3; do cl_node "n$i" "10.233.1.1$i" --clustered --cluster-key "$K"; done
for i in 1 2 3; do weft_wait_ready "${addr[n$i]}" "${pid[n$i]}"; done
all3="n1:alive,n2:alive,n3:alive"
v=$(wait_view 45 "$all3" "${addr[n1]}" "${addr[n2]}" "${addr[n3]}") || v=
check "cluster key: 3 nodes form one view" test -n "$v"
echo "     view: $v"
check "cluster key: the node says so in STATS" test "$(auth "${addr[n1]}" cluster_key)" = 1
check "cluster key: a node logs no 'no cluster key' warning" \
  bash -c "! grep -q 'no cluster key' '$WEFT_TMP/n1.log'"

miss0=$(auth "${addr[n1]}" refused_missing)
cl_node n4 10.233.1.14 --clustered
weft_wait_ready "${addr[n4]}" "${pid[n4]}"
check "no key: weftd warns loudly at start" grep -q 'no cluster key: any host' "$WEFT_TMP/n4.log"
check "no key: the members refuse its datagrams (auth.refused_missing rises)" \
  wait_for 30 stat_ge "${addr[n1]}" auth.refused_missing $((miss0 + 5))
kid0=$(auth "${addr[n1]}" refused_key_id)
cl_node n5 10.233.1.15 --clustered --cluster-key "$K2"
weft_wait_ready "${addr[n5]}" "${pid[n5]}"
check "another key: the members refuse its datagrams (auth.refused_key_id rises)" \
  wait_for 30 stat_ge "${addr[n1]}" auth.refused_key_id $((kid0 + 5))
check "another key: it refuses the members' datagrams (its auth.refused_key_id rises)" \
  wait_for 30 stat_ge "${addr[n5]}" auth.refused_key_id 2
v2=$(view_of "${addr[n1]}")
expect_eq "the view is unchanged (same id, n1..n3 only)" "$v" "$v2"
expect_eq "n2 agrees" "$v" "$(view_of "${addr[n2]}")"
echo "     n4 (no key) sees: $(view_of "${addr[n4]}"); n5 (other key) sees: $(view_of "${addr[n5]}")"
grep -h 'refused .* datagram' "$WEFT_TMP/n1.log" | head -3 | sed 's/^/     n1 log: /'
check "the refusals are logged with the source address" \
  grep -q 'auth key_id (last from 10.233.1.15' "$WEFT_TMP/n1.log"

# replication works between keyed nodes
ctl "${addr[n1]}" open sec --mode replicated >/dev/null
ctl "${addr[n1]}" put sec k1 v1 >/dev/null
check "keyed cluster: a put on n1 is read on n3" \
  wait_for 10 bash -c "[ \"\$('$WEFTCTL' -s ${addr[n3]} --direct get sec k1 2>/dev/null)\" = v1 ]"
applied=0
for i in 1 2 3; do applied=$((applied + $(stat_value "${addr[n$i]}" total.repl_applied))); done
check "keyed cluster: the write was replicated to the 2 other nodes (repl_applied $applied)" \
  test "$applied" -ge 2

# --- 2. forged datagrams from an attacker namespace -------------------------------
weft_netns_bridged "$CL_NS-x" "$CL_BR"
ip -n "$CL_NS-x" addr add 10.233.1.50/24 dev "$CL_NS-x-n"
ip -n "$CL_NS-x" link set "$CL_NS-x-n" up
for i in 1 2 3; do
  m0=$(auth "${addr[n$i]}" refused_missing); b0=$(auth "${addr[n$i]}" refused_bad_tag)
  forge "${addr[n$i]}" 7700 replicate
  forge "${addr[n$i]}" 7700 replicate "$K"
  check "forged REPLICATE to n$i without a trailer: refused (missing)" \
    wait_for 10 stat_ge "${addr[n$i]}" auth.refused_missing $((m0 + 3))
  check "forged REPLICATE to n$i with a made-up tag: refused (bad_tag)" \
    wait_for 10 stat_ge "${addr[n$i]}" auth.refused_bad_tag $((b0 + 3))
done
for i in 1 2 3; do
  expect_eq "after the forgeries n$i still holds k1 = v1" "v1" \
    "$("$WEFTCTL" -s "${addr[n$i]}" --direct get sec k1 2>/dev/null)"
done
c0=$(auth "${addr[n2]}" cluster_port_refused_missing)
forge "${addr[n2]}" 7701 membership
check "forged membership datagram: refused on the cluster port" \
  wait_for 10 stat_ge "${addr[n2]}" auth.cluster_port_refused_missing $((c0 + 3))
expect_eq "the view is still unchanged" "$v" "$(view_of "${addr[n2]}")"

# the capture sees values between MAC-authenticated nodes (not encrypted)
sniff n2 6 "$WEFT_TMP/mac.cap" "MARKER-mac-1234567" 10.233.1.11 10.233.1.12 10.233.1.13
for j in 1 2 3 4 5; do ctl "${addr[n1]}" put sec "m$j" "MARKER-mac-1234567-$j" >/dev/null; done
wait_exit "$SNIFF_PID" 15
echo "     MAC cluster capture: $(cat "$WEFT_TMP/mac.cap" 2>/dev/null)"
check "MAC cluster: the capture sees the value in node-to-node frames (it works)" \
  grep -q 'marker=[1-9]' "$WEFT_TMP/mac.cap"
for n in n1 n2 n3 n4 n5; do kill -TERM "${pid[$n]}" 2>/dev/null; done
for n in n1 n2 n3 n4 n5; do wait_exit "${pid[$n]}" 15; done

# --- 3. --encrypt --------------------------------------------------------------
cl_net wse 10.233.2
for i in 1 2 3; do cl_node "e$i" "10.233.2.1$i" --clustered --cluster-key "$K" --encrypt; done
for i in 1 2 3; do weft_wait_ready "${addr[e$i]}" "${pid[e$i]}"; done
ev=$(wait_view 45 "e1:alive,e2:alive,e3:alive" "${addr[e1]}" "${addr[e2]}" "${addr[e3]}") || ev=
check "--encrypt: 3 nodes form one view" test -n "$ev"
check "--encrypt: STATS says so" test "$(auth "${addr[e1]}" encrypt)" = 1
ctl "${addr[e1]}" open enc --mode replicated >/dev/null
sniff e2 6 "$WEFT_TMP/aead.cap" "MARKER-aead-7654321" 10.233.2.11 10.233.2.12 10.233.2.13
for j in 1 2 3 4 5; do ctl "${addr[e1]}" put enc "m$j" "MARKER-aead-7654321-$j" >/dev/null; done
check "--encrypt: a put on e1 is read on e2" \
  wait_for 10 bash -c "[ \"\$('$WEFTCTL' -s ${addr[e2]} --direct get enc m5 2>/dev/null)\" = MARKER-aead-7654321-5 ]"
wait_exit "$SNIFF_PID" 15
echo "     AEAD cluster capture: $(cat "$WEFT_TMP/aead.cap" 2>/dev/null)"
check "--encrypt: node-to-node frames were captured" grep -q 'node_frames=[1-9]' "$WEFT_TMP/aead.cap"
check "--encrypt: no node-to-node frame holds the value's bytes" grep -q 'marker=0$' "$WEFT_TMP/aead.cap"
# In-node clients across nodes (apps: a singleton daemon's claims, its
# publishes to a queue's owners, listeners on every node): the tutorial's
# cluster example deployed to all three runs as on a keyless cluster.
APP_SO=$WEFT_BUILD/examples/cluster-example/cluster-example.so
said_on() { grep -c "^$2: [0-9]" "$WEFT_TMP/$1.log" 2>/dev/null || true; }
app_runs() {
  local s=0 r=0
  for i in 1 2 3; do
    [ "$(said_on "e$i" sending)" -ge 2 ] && s=$((s + 1))
    [ "$(said_on "e$i" received)" -ge 1 ] && r=$((r + 1))
  done
  [ $s -eq 1 ] && [ $r -ge 2 ]
}
ctl "${addr[e1]}" deploy "$APP_SO" --all 2>&1 | sed 's/^/     /' || true
check "--encrypt: the cluster example runs (one node sends, the others receive)" \
  wait_for 40 app_runs
for i in 1 2 3; do echo "     e$i: sending $(said_on "e$i" sending), received $(said_on "e$i" received)"; done
check "--encrypt: nothing between the members was refused" \
  test "$(( $(auth "${addr[e1]}" refused_bad_tag) + $(auth "${addr[e2]}" refused_bad_tag) + $(auth "${addr[e3]}" refused_bad_tag) ))" = 0
for i in 1 2 3; do kill -TERM "${pid[e$i]}" 2>/dev/null; done
for i in 1 2 3; do wait_exit "${pid[e$i]}" 15; done

# --- 4. --client-key -----------------------------------------------------------
cl_net wsc 10.233.3
chmod 644 "$KC"
weft_netns_bridged "$CL_NS-b" "$CL_BR"
weft_start_node bad "$CL_NS-b" 10.233.3.19 --client-key "$KC"
wait_exit "$NODE_PID" 30
check "a key file readable by others is refused (weftd exits non-zero)" test "$EXIT_ST" != 0
check "... naming the file and its mode" grep -q "key file $KC: mode 0644" "$WEFT_TMP/bad.log"
chmod 600 "$KC"
cl_node c1 10.233.3.11 --client-key "$KC"
WEFT_CLIENT_KEY_FILE=$KC weft_wait_ready "${addr[c1]}" "${pid[c1]}"
rc=0; out=$("$WEFTCTL" -s "${addr[c1]}" put sec x 1 2>&1) || rc=$?
expect_eq "client key: a client without a key is refused (exit 2)" 2 "$rc"
check "... with UNAUTHORIZED" grep -q UNAUTHORIZED <<<"$out"
rc=0; out=$("$WEFTCTL" -s "${addr[c1]}" --key-file "$K2" get sec x 2>&1) || rc=$?
expect_eq "client key: a client with another key is refused (exit 2)" 2 "$rc"
check "... with UNAUTHORIZED" grep -q UNAUTHORIZED <<<"$out"
expect_status "client key: with the key (--key-file) a put works" 0 \
  "$WEFTCTL" -s "${addr[c1]}" --key-file "$KC" put sec x hello
expect_eq "client key: with the key (WEFT_CLIENT_KEY_FILE) a get reads it" "hello" \
  "$(WEFT_CLIENT_KEY_FILE=$KC "$WEFTCTL" -s "${addr[c1]}" get sec x)"
una=$(WEFT_CLIENT_KEY_FILE=$KC stat_value "${addr[c1]}" auth.unauthorized)
check "client key: UNAUTHORIZED answers are counted ($una)" test "$una" -ge 2

weft_finish
