#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_sess/: one input per SESSION action on a valid
record (and on none), in fuzz_sess.c's input layout: now_ms (u64), the
weft_x_session extras (8 bytes), rec_len (u32, 0xffffffff = no record),
the record, the request value; little-endian (wire.h "Sessions").
Run: tests/fuzz/gen_corpus_sess.py tests/fuzz/corpus_sess"""
import os
import struct
import sys

MAGIC = 0x53534557
NOW = 1_700_000_000_000
CREATE, GET, SET, REMOVE, LIST, LOAD, TOUCH, INVALIDATE, EXPIRE, INFO = range(1, 11)


def record(attrs, max_inactive=1800, created=NOW - 60_000, access=NOW - 30_000):
    body = b"".join(struct.pack("<HI", len(n), len(v)) + n + v for n, v in attrs)
    return struct.pack("<IIQQII", MAGIC, max_inactive, created, access, len(attrs), 0) + body


def case(action, rec, value=b"", attr_len=0, max_inactive=0, now=NOW):
    head = struct.pack("<QBBHI", now, action, 0, attr_len, max_inactive)
    if rec is None:
        return head + struct.pack("<I", 0xFFFFFFFF) + value
    return head + struct.pack("<I", len(rec)) + rec + value


def main(out):
    os.makedirs(out, exist_ok=True)
    two = record([(b"user", b"alice"), (b"cart", b"\x01\x02\x03")])
    empty = record([])
    stale = record([(b"k", b"v")], max_inactive=60, access=NOW - 120_000)
    cases = {
        "create_new": case(CREATE, None, max_inactive=600),
        "create_default": case(CREATE, None),
        "create_taken": case(CREATE, two),
        "get": case(GET, two, b"user"),
        "get_missing": case(GET, two, b"nope"),
        "set_new": case(SET, two, b"lang" + b"fr", attr_len=4),
        "set_replace": case(SET, two, b"user" + b"bob", attr_len=4),
        "set_empty_rec": case(SET, empty, b"a" + b"x" * 100, attr_len=1),
        "remove": case(REMOVE, two, b"cart"),
        "remove_missing": case(REMOVE, two, b"zzz"),
        "list": case(LIST, two),
        "load": case(LOAD, two),
        "touch": case(TOUCH, two),
        "touch_timeout": case(TOUCH, two, max_inactive=7200),
        "invalidate": case(INVALIDATE, two),
        "expire_not_due": case(EXPIRE, two),
        "expire_due": case(EXPIRE, stale),
        "info": case(INFO, two),
        "info_none": case(INFO, None),
        "get_expired": case(GET, stale, b"k"),
        "bad_action": case(77, two),
        "bad_name_nul": case(GET, two, b"a\x00b"),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus_sess"))
