#!/usr/bin/env python3
"""Writes corpus_sec/ for fuzz_sec.c (input layout there): datagrams sealed
with the target's fixed keys in MAC mode (keyed BLAKE2b-128, which Python's
hashlib.blake2b(key=..., digest_size=16) computes like libsodium's
crypto_generichash), WIRE and RAW, CLUSTER and CLIENT, plus a few refused
ones (no trailer, wrong key, outside the window, truncated)."""
import hashlib, os, struct, sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus_sec')
os.makedirs(out, exist_ok=True)
NOW = 1700000000000
CLUSTER, CLIENT = bytes([0x11]) * 32, bytes([0x22]) * 32


def key_id(k):
    return hashlib.blake2b(k, digest_size=32).digest()[:4]


def hdr(body_len, flags=0x04):
    return struct.pack('<HBBBBHHHIQIIII', 0x5746, 1, 0x03, flags, 3, 2, 0, 16, 7, 9, 0,
                       body_len, 0, 0)


def seal(key, kind, wire, dgram, sent=NOW):
    if wire:
        dgram = bytearray(dgram)
        dgram[4] |= 0x08
        dgram = bytes(dgram)
    fields = struct.pack('<BBH', kind, 0, 0) + key_id(key) + struct.pack('<Q', sent)
    fields += bytes(range(16))
    tag = hashlib.blake2b(dgram + fields, key=key, digest_size=16).digest()
    return dgram + fields + tag


def put(name, mode, dgram, now=NOW, flip=0):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(bytes([mode]) + struct.pack('<QH', now, flip) + dgram)


body = b'abc' + b'k1' + bytes(16) + b'value'
wire_dgram = hdr(len(body)) + body
put('mac_wire_cluster', 1, seal(CLUSTER, 1, True, wire_dgram))
put('mac_wire_client', 1, seal(CLIENT, 2, True, wire_dgram), flip=7)
put('mac_raw_cluster', 0, seal(CLUSTER, 1, False, b'WM\x01\x01' + bytes(40)))
put('no_trailer', 1, wire_dgram)
put('wrong_key', 1, seal(bytes([0x33]) * 32, 1, True, wire_dgram))
put('old', 1, seal(CLUSTER, 1, True, wire_dgram), now=NOW + 31000)
put('truncated', 1, seal(CLUSTER, 1, True, wire_dgram)[:-5])
put('aead_mode_mac_trailer', 3, seal(CLUSTER, 1, True, wire_dgram), flip=100)
put('client_unconfigured', 5, seal(CLIENT, 2, True, wire_dgram))
