#!/usr/bin/env bash
# service.sh — weftd as weftd@.service runs it, as far as a machine without
# systemd as PID 1 allows: a node started like the unit's ExecStart (only
# `--config FILE`, home from WEFT_HOME) under the unit's capability bounding
# set and no_new_privs (setpriv), on a veth (net_af_packet) in a network
# namespace of its own (10.239.1.0/24). It serves, its effective
# capabilities are exactly the unit's set, a command-line option overrides
# the file's, and SIGTERM (the unit's stop) ends it with status 0.
# Removes everything it made, even on failure (lib.sh).
. "$(dirname "$0")/../integration/lib.sh"
weft_require_root
command -v setpriv >/dev/null || { echo "SKIP: no setpriv (util-linux)"; exit 77; }

ns=ws$$
subnet=10.239.1
node=$subnet.2
weft_netns "$ns" "$subnet"
unit=$WEFT_BUILD/dist/weftd@.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
expect_eq "the unit bounds the capabilities" "CAP_NET_RAW CAP_NET_ADMIN CAP_IPC_LOCK CAP_BPF" "$caps"

# A config file in the unit's shape: no home line (WEFT_HOME gives it).
cat >"$WEFT_TMP/node1.conf" <<CONF
# node1, started as weftd@node1 would be
port = af_packet:$ns-n
bind = $node
node-name = from-file
lcores = 1
admin = off
CONF
bounding=-all,+net_raw,+net_admin,+ipc_lock,+bpf
WEFT_HOME=$WEFT_TMP/state/node1 ip netns exec "$ns" \
  setpriv --bounding-set "$bounding" --inh-caps -all --no-new-privs \
  "$WEFTD" --config "$WEFT_TMP/node1.conf" --node-name from-cli >"$WEFT_TMP/node1.log" 2>&1 &
pid=$!
_pids+=("$pid")
weft_wait_ready "$node" "$pid"

# CAP_NET_ADMIN (12), CAP_NET_RAW (13), CAP_IPC_LOCK (14), CAP_BPF (39).
expect_eq "effective capabilities are the unit's set" "0000008000007000" \
  "$(awk '$1 == "CapEff:" { print $2 }' "/proc/$pid/status")"
expect_eq "no_new_privs" "1" "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$pid/status")"
check "put through the node" "$WEFTCTL" -s "$node" put c k v
expect_eq "get through the node" "v" "$("$WEFTCTL" -s "$node" get c k)"
check "the home is WEFT_HOME's" test -s "$WEFT_TMP/state/node1/data/node-id"
members=$("$WEFTCTL" -s "$node" members)
name_from_cli() { grep -q from-cli <<<"$members" && ! grep -q from-file <<<"$members"; }
check "the command line's --node-name overrides the file's" name_from_cli

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "SIGTERM stops it cleanly (exit 0)" "0" "$rc"
weft_finish
