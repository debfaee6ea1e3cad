#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_node_wire/: valid and near-valid node-to-node
request bodies in fuzz_node_wire.c's layout: [op 0..3][mode][name_len]
[key_len][extras_len override] then [name][key][extras][value]
(wire.h REPLICATE, MSG_REPL, TOPIC_JOIN, TOPIC_DELIVER; little-endian).
Run: tests/fuzz/gen_corpus_node_wire.py tests/fuzz/corpus_node_wire"""
import os
import struct
import sys

REPLICATE, MSG_REPL, TOPIC_JOIN, TOPIC_DELIVER = range(4)
APPEND, REMOVE, DEAD, SUB, UNSUB, STOP, TRIM = range(1, 8)
PUT, DELETE = 1, 2


def case(op, name, extras, value=b"", key=b"", mode=0):
    return bytes([op, mode, len(name), len(key), 0]) + name + key + extras + value


def cache_opts(mode=3):
    return struct.pack("<QQQQII", 0, 0, 0, 0, mode, 0)


def dest_opts():
    return struct.pack("<IIIIQQ", 0, 0, 0, 0, 0, 0)


def entry(kind, key, value=b"", version=5):
    return struct.pack("<BBHIQQQ", kind, 0, len(key), len(value), version,
                       0xFFFFFFFFFFFFFFFF, 0) + key + value


def msg(mid, body=b"", props=b"", kind=0):
    return struct.pack("<QQIIHBBI", mid, 0, len(props), len(body), 0, kind, 0, 0) + props + body


def main(out):
    os.makedirs(out, exist_ok=True)
    prop = bytes([4]) + b"type" + struct.pack("<H", 3) + b"abc"
    repl = entry(PUT, b"k1", b"v1") + entry(DELETE, b"k2") + entry(PUT, b"k3", b"x" * 300)
    recs = (msg(1 << 20, b"hello", prop, APPEND) + msg(2 << 20, b"b", b"", APPEND) +
            msg(1 << 20, kind=REMOVE) + msg(2 << 20, kind=DEAD))
    tq = b"/topic/t"
    cases = {
        "replicate": case(REPLICATE, b"c", cache_opts() + struct.pack("<II", 3, 0), repl),
        "replicate_count_short": case(REPLICATE, b"c", cache_opts() + struct.pack("<II", 4, 0),
                                      repl),
        "replicate_big": case(REPLICATE, b"c", cache_opts() + struct.pack("<II", 1, 0),
                              entry(PUT, b"big", b"v" * 3000)),
        "msg_repl_queue": case(MSG_REPL, b"/queue/q", dest_opts() + struct.pack("<II", 4, 0),
                               recs, mode=1),
        "msg_repl_queue_backup": case(MSG_REPL, b"/queue/q",
                                      dest_opts() + struct.pack("<II", 4, 0), recs, mode=3),
        "msg_repl_topic_durable": case(MSG_REPL, tq, dest_opts() + struct.pack("<II", 3, 0),
                                       msg(0, kind=SUB) + msg(3 << 20, b"m", b"", APPEND) +
                                       msg(3 << 20, kind=TRIM), key=b"dur1", mode=2),
        "msg_repl_unsub_stop": case(MSG_REPL, tq, dest_opts() + struct.pack("<II", 2, 0),
                                    msg(0, kind=UNSUB) + msg(0, kind=STOP), key=b"dur1"),
        "topic_join": case(TOPIC_JOIN, tq, struct.pack("<QII", 0, 2, 0)),
        "topic_leave": case(TOPIC_JOIN, tq, struct.pack("<QII", 5, 0, 0)),
        "topic_deliver": case(TOPIC_DELIVER, tq, struct.pack("<QII", 9 << 20, 2, 1),
                              msg(7 << 20, b"one", prop) + msg(8 << 20, b"two")),
        "topic_deliver_bad_props": case(TOPIC_DELIVER, tq, struct.pack("<QII", 0, 1, 0),
                                        msg(7 << 20, b"x", b"\x00\x00")),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus_node_wire")
