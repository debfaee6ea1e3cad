#!/usr/bin/env python3
"""flood_sender.py — flood.sh's hostile client: from SRC (any number of UDP
ports) it starts many multi-datagram PUTs of the largest size (a 1 MiB
value) to NODE:PORT and never finishes them: each message gets its first
PIECES pieces only, under a new request id. Runs for SECONDS, at most RATE
new messages a second, and counts the node's answers by status.

  flood_sender.py SRC NODE PORT SECONDS RATE PIECES

Prints one line: FLOOD messages=N pieces=N answers=N busy=N other=N
[statusS=N for each other status S]
(wire.h layout: 40-byte header, little-endian; payload [name][key][extras]
[value], pieces at multiples of 1368 bytes)."""
import select
import socket
import struct
import sys
import time

P = 1368
OP_PUT = 0x03
ST_BUSY = 12


def main():
    src, node, port, seconds, rate, pieces = sys.argv[1:7]
    port, seconds, rate, pieces = int(port), float(seconds), int(rate), int(pieces)
    name, key, extras = b"c", b"flood-key", struct.pack("<QQ", 0, 0)
    value_len = 1 << 20
    msg_len = len(name) + len(key) + len(extras) + value_len
    head = name + key + extras
    socks = []
    for _ in range(8):  # several source ports: still one source address
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    client_id = 0x0F100D00
    counts = {"messages": 0, "pieces": 0, "answers": 0, "busy": 0, "other": 0}
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    rid = 1
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_send:
            s = socks[rid % len(socks)]
            for k in range(pieces):
                off = k * P
                body = (head + bytes(P))[:P] if k == 0 else bytes(P)
                hdr = struct.pack("<HBBBBHHHIQIIII", 0x5746, 1, OP_PUT, 0, len(name),
                                  len(key), 0, len(extras), client_id, rid, 0, msg_len, off, 0)
                try:
                    s.sendto(hdr + body, (node, port))
                    counts["pieces"] += 1
                except BlockingIOError:
                    pass
            counts["messages"] += 1
            rid += 1
            next_send += 1.0 / rate
        ready, _, _ = select.select(socks, [], [], max(0.0, min(next_send, end) - time.monotonic()))
        for s in ready:
            while True:
                try:
                    d = s.recv(2048)
                except BlockingIOError:
                    break
                if len(d) < 40:
                    continue
                counts["answers"] += 1
                status = struct.unpack_from("<H", d, 8)[0]
                counts["busy" if status == ST_BUSY else "other"] += 1
                if status != ST_BUSY:
                    key = "status%d" % status
                    counts[key] = counts.get(key, 0) + 1
    print("FLOOD " + " ".join(f"{k}={v}" for k, v in counts.items()), flush=True)


if __name__ == "__main__":
    main()
