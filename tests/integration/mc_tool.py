#!/usr/bin/env python3
"""mc_tool.py — memcached UDP requests for memcached.sh (python3 only).

  mc_tool.py HOST PORT TEXT   sends TEXT (\\r\\n escapes as written) in one
                              datagram with a memcached frame header and
                              prints the answer, reassembled from its
                              datagrams in sequence order (exit 1: no
                              answer within 2 s, or frame headers that do
                              not agree: another id, a count that changes,
                              a sequence number seen twice or missing).
Also prints, on stderr, "datagrams N bytes B" (UDP payload bytes).
"""
import random
import socket
import struct
import sys


def ask(host, port, text, timeout=2.0):
    rid = random.randrange(1, 65536)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(struct.pack(">HHHH", rid, 0, 1, 0) + text, (host, port))
    parts, total, nbytes = {}, None, 0
    while total is None or len(parts) < total:
        try:
            d, _ = s.recvfrom(65536)
        except socket.timeout:
            break
        if len(d) < 8:
            raise SystemExit("short datagram")
        r, seq, tot, _res = struct.unpack(">HHHH", d[:8])
        if r != rid:
            continue  # a late answer to an earlier request
        if (total is not None and tot != total) or seq >= tot or seq in parts:
            raise SystemExit("inconsistent frame headers")
        total = tot
        parts[seq] = d[8:]
        nbytes += len(d)
    if total is None or len(parts) != total:
        return None, 0, 0
    return b"".join(parts[i] for i in range(total)), total, nbytes


def main():
    host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = text.encode().decode("unicode_escape").encode("latin-1")
    ans, n, nbytes = ask(host, port, data)
    if ans is None:
        print("no answer", file=sys.stderr)
        return 1
    print("datagrams %d bytes %d" % (n, nbytes), file=sys.stderr)
    sys.stdout.write(ans.decode("latin-1"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
