#!/usr/bin/env bash
# perf/compare_memcached.sh [weft-perf args...] — the baseline run of
# perf/RESULTS.md: weftd (net_af_packet on a veth, in its own namespace) and
# memcached (Debian's, UDP, in a namespace of its own on an identical veth)
# measured in one run by the same load generator with the same settings.
# Both servers get the same number of worker threads (WORKERS, default 1).
# Everything it makes is removed on exit. Needs root and a built tree (build/).
#
# Example: perf/compare_memcached.sh --threads 2 --depth 16 --duration 10
set -euo pipefail
cd "$(dirname "$0")/.."
build=${WEFT_BUILD:-build}
workers=${WORKERS:-1}
perf_args=("$@")
[ ${#perf_args[@]} -gt 0 ] || perf_args=(--threads 2 --depth 16 --keys 100000 \
  --key-size 16 --value-size 64 --get-ratio 0.9 --dist zipf --duration 10)

tag=wp$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for n in w m; do
    ip link del "$tag$n-h" 2>/dev/null || true
    ip netns del "$tag$n" 2>/dev/null || true
  done
}
trap cleanup EXIT

netns() {  # name subnet
  ip netns add "$1"
  ip link add "$1-h" type veth peer name "$1-n"
  ip link set "$1-n" netns "$1"
  ip addr add "$2.1/24" dev "$1-h"
  ip link set "$1-h" up
  ip -n "$1" link set lo up
  ip -n "$1" link set "$1-n" up
}

netns "${tag}w" 10.232.1
netns "${tag}m" 10.232.2
ip -n "${tag}m" addr add 10.232.2.2/24 dev "${tag}m-n"

ip netns exec "${tag}w" "$build/control/weftd" --port "af_packet:${tag}w-n" \
  --bind 10.232.1.2 --lcores "$workers" --home "/tmp/$tag-home" >"/tmp/$tag-weftd.log" 2>&1 &
pids+=($!)
ip netns exec "${tag}m" memcached -U 11211 -p 0 -l 10.232.2.2 -t "$workers" -m 1024 -u nobody &
pids+=($!)

deadline=$((SECONDS + 60))
until "$build/client/weftctl" -s 10.232.1.2 --timeout 200 ping >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "weftd not ready"; cat "/tmp/$tag-weftd.log"; exit 1; }
done

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) cores; server workers: $workers"
echo "# weft-perf ${perf_args[*]}"
echo "## weftd (net_af_packet on veth, $workers lcore)"
"$build/perf/weft-perf" --proto weft --server 10.232.1.2:7700 --preload "${perf_args[@]}"
echo "## memcached $(memcached -V | cut -d' ' -f2) (UDP, -t $workers, kernel veth)"
"$build/perf/weft-perf" --proto memcached --server 10.232.2.2:11211 --preload "${perf_args[@]}"
rm -rf "/tmp/$tag-home" "/tmp/$tag-weftd.log"
