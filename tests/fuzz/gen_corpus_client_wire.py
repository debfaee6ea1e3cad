#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_client_wire/: one input per API call of
fuzz_client_wire.c with the answers a node would give (wire.h layouts,
little-endian): [op][routing][records [u16 len][u8 how][datagram]]. The
client_id / request_id / opcode of each datagram are patched by the
target (how = 3), so they are left 0 here.
Run: tests/fuzz/gen_corpus_client_wire.py tests/fuzz/corpus_client_wire"""
import os
import struct
import sys

P = 1368
RESP = 0x01
(PING, GET, GET_INTO, PUT, PUT_BIG, CAS, INCR, MGET, STATS, MEMBERS, TOPO, RECV_Q,
 RECV_T, SESS_GET, SESS_LIST, SESS_LOAD, SESS_CREATE, DESTS, APPS, STATUS, PUBLISH) = range(21)
OK, NOT_FOUND, GONE, BUSY = 0, 1, 15, 12


def hdr(status, extras_len, msg_len, off=0):
    return struct.pack("<HBBBBHHHIQIIII", 0x5746, 1, 0, RESP, 0, 0, status, extras_len,
                       0, 0, 0, msg_len, off, 0)


def dgrams(status, extras=b"", value=b""):
    """The datagrams of one response, split as a node splits it."""
    payload = extras + value
    if len(payload) <= P:
        return [hdr(status, len(extras), len(payload)) + payload]
    return [hdr(status, len(extras), len(payload), off) + payload[off:off + P]
            for off in range(0, len(payload), P)]


def rec(d, how=3):
    return struct.pack("<HB", len(d), how) + d


def case(op, answers, routing=0):
    return bytes([op, routing]) + b"".join(rec(d) for a in answers for d in a)


def topology(members, log2, owners):
    out = struct.pack("<IHHH", 7, log2, owners, len(members))
    for i, name in enumerate(members):
        out += struct.pack("<HI16sB", 7700, 0x0100eb0a + (i << 24), bytes(16), len(name))
        out += name
    for s in range(1 << log2):
        for o in range(owners):
            out += struct.pack("<H", (s + o) % len(members))
    return out


def msglist(msgs):
    out = b""
    for i, (props, body) in enumerate(msgs):
        out += struct.pack("<QQIIHBBI", 100 + i, 0, len(props), len(body), 1, 0, 0, 0)
        out += props + body
    return out


def attrs(items, values):
    out = b""
    for n, v in items:
        out += struct.pack("<HI", len(n), len(v)) + n + (v if values else b"")
    return out


def info(n_attrs, size):
    return struct.pack("<QQQIIII", 1_700_000_000_000, 1_700_000_001_000, 5, 1800, n_attrs,
                       size, 0)


def main(out):
    os.makedirs(out, exist_ok=True)
    ver = struct.pack("<Q", 42)
    prop = bytes([1]) + b"p" + struct.pack("<H", 1) + b"x"
    mget = struct.pack("<H", 3)
    for st, k, v in ((OK, b"a", b"va"), (NOT_FOUND, b"bb", b""), (OK, b"ccc", b"v" * 40)):
        mget += struct.pack("<HHIQ", st, len(k), len(v), 9) + k + v
    two = [(b"user", b"alice"), (b"cart", b"\x01\x02")]
    members = (b"view 3 coordinator n1\nn1 10.235.0.1:7700 alive 12 "
               b"00000000-0000-4000-8000-000000000001\n")
    cases = {
        "ping": case(PING, [dgrams(OK)]),
        "get": case(GET, [dgrams(OK, ver, b"hello")]),
        "get_missing": case(GET, [dgrams(NOT_FOUND)]),
        "get_long": case(GET, [dgrams(OK, ver, bytes(range(256)) * 12)]),
        "get_long_gone": case(GET, [dgrams(OK, ver, b"z" * 3000)[:1], dgrams(GONE),
                                    dgrams(OK, ver, b"z" * 10)]),
        "get_into": case(GET_INTO, [dgrams(OK, ver, b"0123456789abcdefXYZ")]),
        "put": case(PUT, [dgrams(OK, ver)]),
        "put_big_busy": case(PUT_BIG, [dgrams(BUSY), dgrams(OK, ver)]),
        "cas": case(CAS, [dgrams(OK, ver)]),
        "incr": case(INCR, [dgrams(OK, struct.pack("<qQ", 12, 5))]),
        "multi_get": case(MGET, [dgrams(OK, b"", mget)]),
        "stats": case(STATS, [dgrams(OK, b"", b"uptime_s 3\nentries 7\n")]),
        "members": case(MEMBERS, [dgrams(OK, b"", members)]),
        "topology": case(TOPO, [dgrams(OK, b"", topology([b"n1", b"n2", b"n3"], 4, 2))]),
        "topology_routed_get": case(GET, [dgrams(OK, b"", topology([b"n1"], 2, 1)),
                                          dgrams(OK, ver, b"v")], routing=1),
        "receive_queue": case(RECV_Q, [dgrams(OK, struct.pack("<II", 2, 0),
                                              msglist([(prop, b"body1"), (b"", b"b2")])),
                                       dgrams(OK, struct.pack("<II", 2, 0)),
                                       dgrams(OK)]),
        "receive_topic": case(RECV_T, [dgrams(OK, struct.pack("<II", 1, 3),
                                              msglist([(b"", b"t")]))]),
        "session_get": case(SESS_GET, [dgrams(OK, info(2, 60), b"alice")]),
        "session_list": case(SESS_LIST, [dgrams(OK, info(2, 60), attrs(two, False))]),
        "session_load": case(SESS_LOAD, [dgrams(OK, info(2, 60), attrs(two, True))]),
        "session_create": case(SESS_CREATE, [dgrams(OK, info(0, 32)), dgrams(OK, info(0, 32))]),
        "destinations": case(DESTS, [dgrams(OK, b"", b"/queue/q primary depth=1\n")]),
        "apps": case(APPS, [dgrams(OK, b"", b"app a v1\n")]),
        "status": case(STATUS, [dgrams(OK, b"", members),
                                dgrams(OK, b"", b"uptime_s 3\nrebalance.moved 2\n"
                                       b"cache.c.mode distributed\ncache.c.entries 4\n"
                                       b"cache.c.bytes 100\n")]),
        "publish": case(PUBLISH, [dgrams(OK, struct.pack("<QII", 77, 1, 0))]),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus_client_wire")
