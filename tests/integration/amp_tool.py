#!/usr/bin/env python3
"""amp_tool.py — the spoofing attacker and the victim's counter of
security_amp.sh (address validation, wire.h "Trailers").

  amp_tool.py sniff IFACE NODE_IP STOPFILE OUT
      In the victim's namespace: counts every UDP datagram from NODE_IP
      seen on IFACE (AF_PACKET) until STOPFILE exists and nothing came for
      QUIET seconds (the node answers within microseconds of a request;
      bounded: 120 s in all), then writes one line per weft opcode "op count bytes max" to OUT
      (bytes: UDP payload). Prints "ready" once listening.

  amp_tool.py attack VICTIM_IP NODE_IP PHASE COUNT SPREAD OUT
      In the attacker's namespace: sends COUNT weft requests of kind PHASE
      (get, get-forged, get-bare, stats, mget, fetch, topology, ping) to
      NODE_IP:7700 from VICTIM_IP (raw socket, IP_HDRINCL), evenly over
      SPREAD seconds (0: as fast as it can), then writes "op count bytes
      max seconds" (bytes: UDP payload) to OUT.

Only the test's namespaces see this traffic.
"""
import os
import socket
import struct
import sys
import time

MAGIC = 0x5746
F_COOKIE = 0x10
OP = {"ping": 0x00, "get": 0x01, "mget": 0x02, "stats": 0x0b, "fetch": 0x0c, "topology": 0x0e}
PORT = 7700
QUIET = 0.3


def weft(op, rid, name=b"", key=b"", extras=b"", value=b"", cookie=None):
    payload = name + key + extras + value
    flags = F_COOKIE if cookie is not None else 0
    hdr = struct.pack("<HBBBBHHHIQIIII", MAGIC, 1, op, flags, len(name), len(key), 0,
                      len(extras), 0x5b00f, rid, 0, len(payload), 0, 0)
    return hdr + payload + (cookie if cookie is not None else b"")


def request(phase, rid):
    zero = bytes(16)
    if phase == "get":
        return OP["get"], weft(OP["get"], rid, b"amp", b"big", cookie=zero)
    if phase == "get-forged":
        return OP["get"], weft(OP["get"], rid, b"amp", b"big", cookie=bytes(range(16)))
    if phase == "get-bare":
        return OP["get"], weft(OP["get"], rid, b"amp", b"big")
    if phase == "stats":
        return OP["stats"], weft(OP["stats"], rid, cookie=zero)
    if phase == "mget":
        keys = b"".join(struct.pack("<H", 3) + k for k in (b"big", b"big", b"big"))
        return OP["mget"], weft(OP["mget"], rid, b"amp", value=struct.pack("<H", 3) + keys,
                                cookie=zero)
    if phase == "fetch":
        return OP["fetch"], weft(OP["fetch"], rid, extras=struct.pack("<II", 0, 32), cookie=zero)
    if phase == "topology":
        return OP["topology"], weft(OP["topology"], rid, cookie=zero)
    if phase == "ping":
        return OP["ping"], weft(OP["ping"], rid)
    raise SystemExit("unknown phase " + phase)


def ip_udp(src, dst, sport, payload):
    udp = struct.pack("!HHHH", sport, PORT, 8 + len(payload), 0) + payload
    # IP_HDRINCL: the kernel fills in the checksum (and the id when 0).
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return iph + udp


def attack(victim, node, phase, count, spread, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    total = biggest = 0
    op = 0
    t0 = time.monotonic()
    for i in range(count):
        if spread > 0:  # pacing the load, not waiting for anything
            due = t0 + spread * i / count
            while time.monotonic() < due:
                time.sleep(min(0.001, due - time.monotonic()))
        op, dgram = request(phase, 1000 + i)
        s.sendto(ip_udp(victim, node, 40000 + (i % 50), dgram), (node, 0))
        total += len(dgram)
        biggest = max(biggest, len(dgram))
    secs = time.monotonic() - t0
    with open(out, "w") as f:
        f.write("%d %d %d %d %.3f\n" % (op, count, total, biggest, secs))


def sniff(iface, node, stopfile, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.settimeout(0.1)
    node_b = socket.inet_aton(node)
    per_op = {}
    print("ready", flush=True)
    end = time.monotonic() + 120
    last = time.monotonic()
    while time.monotonic() < end:
        try:
            frame = s.recv(65535)
        except socket.timeout:
            if os.path.exists(stopfile) and time.monotonic() - last >= QUIET:
                break
            continue
        last = time.monotonic()
        ip = frame[14:]
        if len(ip) < 28 or ip[9] != 17 or ip[12:16] != node_b:
            continue
        ihl = (ip[0] & 0x0F) * 4
        ulen = struct.unpack("!H", ip[ihl + 4:ihl + 6])[0] - 8
        wl = ip[ihl + 8:]
        op = wl[3] if len(wl) >= 40 else 255
        c, b, m = per_op.get(op, (0, 0, 0))
        per_op[op] = (c + 1, b + ulen, max(m, ulen))
    with open(out, "w") as f:
        for op, (c, b, m) in sorted(per_op.items()):
            f.write("%d %d %d %d\n" % (op, c, b, m))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["sniff"] and len(a) == 5:
        sniff(a[1], a[2], a[3], a[4])
    elif a[:1] == ["attack"] and len(a) == 7:
        attack(a[1], a[2], a[3], int(a[4]), float(a[5]), a[6])
    else:
        sys.exit(__doc__)
