#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_args/: command lines as fuzz_args.c reads them
(NUL-separated tokens after argv[0]): weftd's documented options, some
refused ones, weftctl-style lines, numbers and node ids.
Run: tests/fuzz/gen_corpus_args.py tests/fuzz/corpus_args"""
import os
import sys

CASES = {
    "minimal": ["--port", "af_packet:veth0", "--bind", "10.235.0.2"],
    "cluster": ["--port", "af_packet:veth0", "--bind", "10.235.0.2", "--lcores", "2",
                "--offset", "3", "--peers", "10.235.0.3,10.235.0.4", "--node-name", "n1",
                "--segments", "1024", "--owners", "3", "--partition-handling", "quorum",
                "--poll", "busy"],
    "clustered_mcast": ["--port", "tap", "--bind", "10.235.0.9", "--clustered",
                        "--mcast-group", "239.77.0.2", "--mem", "128", "--verbose",
                        "--home", "/tmp/h"],
    "eal_extra": ["--port", "virtio_user", "--bind", "10.235.0.2", "--", "--no-pci", "-l", "0"],
    "help": ["--help"],
    "bad_segments": ["--port", "p", "--bind", "10.0.0.1", "--segments", "1000"],
    "bad_peers": ["--port", "p", "--bind", "10.0.0.1", "--peers", "224.0.0.1,,10.0.0.2"],
    "unknown_grouped": ["-vx", "--port", "p"],
    "weftctl_cmd": ["--addr", "10.0.0.1", "--timeout", "100", "get", "cache", "key"],
    "numbers": ["18446744073709551615", "-5", "007", "", "0x10",
                "123e4567-e89b-42d3-a456-426614174000"],
}


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, args in CASES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\0".join(a.encode() for a in args))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus_args")
