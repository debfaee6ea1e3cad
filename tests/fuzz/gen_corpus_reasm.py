#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_reasm/: piece sequences in fuzz_reasm.c's
layout (byte 0: bounds, then 8-byte records; see its top comment).
Run: tests/fuzz/gen_corpus_reasm.py tests/fuzz/corpus_reasm"""
import os
import struct
import sys

P = 1368
MAX_MSG = (1 << 20) + 64 + 250 + 256


def piece(src, rid, msg_len, slot, slice_mode=0, cas=False, short=0, off_by=0):
    b0 = (src << 2) | (0x40 if cas else 0) | (0x20 if off_by else 0)
    b7 = (((short or off_by) & 0x3F) << 2) | slice_mode
    return bytes([b0, rid, msg_len & 0xFF, (msg_len >> 8) & 0xFF, (msg_len >> 16) & 0xFF,
                  slot & 0xFF, slot >> 8, b7])


def advance(ms):
    return bytes([2, ms & 0xFF, ms >> 8, 0, 0, 0, 0, 0])


def timeout():
    return bytes([3, 1, 0, 0, 0, 0, 0, 0])


def whole(src, rid, msg_len, order):
    return b"".join(piece(src, rid, msg_len, s) for s in order)


def main(out):
    os.makedirs(out, exist_ok=True)
    n5 = 4 * P + 100
    cases = {
        "in_order": b"\x00" + whole(0, 1, n5, range(5)),
        "out_of_order_dups": b"\x00" + whole(0, 1, n5, [3, 0, 4, 4, 1, 0, 2]),
        "interleaved_sources": b"\x00" + b"".join(
            piece(s, 2, 3 * P, k) for k in range(3) for s in range(4)),
        "timeout_then_resend": b"\x00" + whole(2, 3, 3 * P, [0, 2]) + timeout() +
                               whole(2, 3, 3 * P, [0, 1, 2]),
        "mismatch": b"\x00" + piece(1, 4, 3 * P, 0) + piece(1, 4, 3 * P, 1, cas=True) +
                    piece(1, 4, 3 * P + 1, 2),
        "misaligned": b"\x00" + piece(0, 5, 3 * P, 1, off_by=10) +
                      piece(0, 5, 3 * P, 1, slice_mode=2, short=20),
        "flood_one_source_small": b"\x01" + b"".join(piece(3, r, MAX_MSG, 0)
                                                     for r in range(20)) +
                                  whole(2, 1, 2 * P + 7, [0, 1, 2]),
        "flood_one_source_real": b"\x00" + b"".join(piece(0, r, MAX_MSG, 0)
                                                    for r in range(32)) +
                                 b"".join(piece(1, r, MAX_MSG, 1) for r in range(32)) +
                                 whole(3, 9, 2 * P, [1, 0]),
        "slow_trickle_max_age": b"\x00" + b"".join(piece(2, 6, 100 * P, k) + advance(700)
                                                   for k in range(14)),
    }
    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus_reasm")
