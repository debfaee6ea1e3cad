#!/usr/bin/env bash
# perf/idle_cpu.sh [SECONDS] — CPU an idle weftd uses (adaptive polling, the
# default, and --poll busy), from /proc/PID/stat over SECONDS (default 10),
# each node on a veth in a namespace of its own, removed on exit. Needs root
# and a built tree (build/).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${WEFT_BUILD:-build}
secs=${1:-10}
tag=wi$$
pid=
cleanup() {
  [ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  ip link del "$tag-h" 2>/dev/null || true
  ip netns del "$tag" 2>/dev/null || true
  rm -rf "/tmp/$tag-home"
}
trap cleanup EXIT
ip netns add "$tag"
ip link add "$tag-h" type veth peer name "$tag-n"
ip link set "$tag-n" netns "$tag"
ip addr add 10.232.3.1/24 dev "$tag-h"
ip link set "$tag-h" up
ip -n "$tag" link set "$tag-n" up

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for mode in adaptive busy; do
  ip netns exec "$tag" "$build/control/weftd" --port "af_packet:$tag-n" --bind 10.232.3.2 \
    --poll "$mode" --home "/tmp/$tag-home" 2>/dev/null &
  pid=$!
  deadline=$((SECONDS + 60))
  until "$build/client/weftctl" -s 10.232.3.2 --timeout 200 ping >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "weftd not ready"; exit 1; }
  done
  t0=$(ticks "$pid"); sleep "$secs"; t1=$(ticks "$pid")
  awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$secs" -v m="$mode" \
    'BEGIN { printf "idle weftd, --poll %-8s 1 worker lcore: %5.1f%% of one core over %d s\n", m, 100 * d / hz / s, s }'
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
