#!/usr/bin/env bash
# perf/sim_scale.sh — the simulator's scale figures against cluster size N:
# runs `weft-sim --scale` (deterministic: seed 1, 1% loss; ~40 s of one core
# for 10, 100 and 1000 nodes; bounded by a 600 s timeout), keeps its output,
# writes the figures as a table and draws them with gnuplot (Debian
# gnuplot-nox), log-scale N axis:
#
#   perf/sim_scale.txt         weft-sim's full output
#   perf/sim_scale.dat         one row per N (columns named in its header)
#   perf/sim_detect.png        crash detection p50 / p99 / max vs N
#   perf/sim_packets.png       membership datagrams per node per second vs N
#   perf/sim_moved.png         copies moved on one join / one leave vs 1/N
#   perf/sim_converge.png      one view after 10% of nodes crash / after all join
#   perf/sim_rebalance.png     rebalancing traffic per node on a join / leave
#
#   perf/sim_scale.sh [--sim PATH] [--sizes 10,100,1000] [--seed S] [--out DIR]
#
# Definitions: docs/simulation.md "Scale figures".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sim=${WEFT_SIM:-$root/build/tests/sim/weft-sim}
sizes=10,100,1000 seed=1 out=$root/perf

while [ $# -gt 0 ]; do
  case $1 in
    --sim) sim=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: perf/sim_scale.sh [--sim PATH] [--sizes 10,100,1000] [--seed S] [--out DIR]" >&2
       exit 2 ;;
  esac
done
[ -x "$sim" ] || { echo "sim_scale: no weft-sim at $sim (build first, or --sim PATH)" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "sim_scale: needs gnuplot (scripts/setup installs gnuplot-nox)" >&2; exit 2; }
mkdir -p "$out"

start=$(date +%s)
timeout 600 "$sim" --scale --seed "$seed" --sizes "$sizes" | tee "$out/sim_scale.txt"
echo "sim_scale: weft-sim --scale took $(( $(date +%s) - start )) s"

# The "fig n=N key=value ..." lines -> one row per N, header from the keys.
grep '^fig ' "$out/sim_scale.txt" | awk '
  {
    row = ""; hdr = "#"
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      hdr = hdr " " kv[1]; row = row (i > 2 ? " " : "") kv[2]
    }
    if (NR == 1) print hdr
    print row
  }' >"$out/sim_scale.dat"
[ "$(wc -l <"$out/sim_scale.dat")" -ge 2 ] || { echo "sim_scale: no figures" >&2; exit 1; }

# col NAME: the column number of NAME in the .dat header.
col() { head -1 "$out/sim_scale.dat" | tr ' ' '\n' | grep -nx "$1" | cut -d: -f1 | awk '{ print $1 - 1 }'; }

cd "$out"
gnuplot <<EOF
set terminal pngcairo size 800,500 font ",11"
set logscale x
set xlabel "cluster size N (nodes)"
set xrange [5:2000]
set grid
set key top left
set datafile commentschars "#"
dat = "sim_scale.dat"

set output "sim_detect.png"
set title "Crash detection time (every live observer declares the crashed node DOWN; 1% loss)"
set ylabel "seconds after the crash"
set yrange [0:*]
plot dat using $(col n):$(col det_p50_s) with linespoints lw 2 pt 7 title "p50", \
     dat using $(col n):$(col det_p99_s) with linespoints lw 2 pt 5 title "p99", \
     dat using $(col n):$(col det_max_s) with linespoints lw 1 pt 3 dt 2 title "max", \
     dat using $(col n):$(col det_first_s) with linespoints lw 1 pt 9 title "first observer (mean)"

set output "sim_packets.png"
set title "Membership datagrams sent per node per second (steady state, 1% loss)"
set ylabel "datagrams / node / s"
set yrange [0:16]
set key bottom right
plot dat using $(col n):$(col pkts_node_s) with linespoints lw 2 pt 7 title "measured", \
     dat using $(col n):$(col pkts_node_s):(sprintf("%.1f", column($(col pkts_node_s)))) \
       with labels offset 0,1 notitle

set output "sim_moved.png"
set title "Share of segment copies moved by one join / one leave (4096 segments, 2 owners)"
set ylabel "fraction of all copies moved"
set logscale y
set yrange [*:*]
set key top right
plot dat using $(col n):$(col move_join) with linespoints lw 2 pt 7 title "one join (mean of 8)", \
     dat using $(col n):$(col ideal_join) with lines lw 1 dt 2 title "ideal 1/(N+1)", \
     dat using $(col n):$(col move_leave) with linespoints lw 2 pt 5 title "one leave (mean of 8)", \
     dat using $(col n):$(col ideal_leave) with lines lw 1 dt 3 title "ideal 1/N"
unset logscale y

set output "sim_converge.png"
set title "Time to one view of exactly the live nodes (1% loss)"
set ylabel "seconds"
set yrange [0:*]
set key top left
plot dat using $(col n):$(col crash10_s) with linespoints lw 2 pt 7 title "after 10% of nodes crash at once", \
     dat using $(col n):$(col join_s) with linespoints lw 2 pt 5 title "after all N start within 1 s"

set output "sim_rebalance.png"
set title "Rebalancing traffic per node (segment copies; x 0.25 = MiB per GiB of data)"
set ylabel "segment copies (1/4096 of the data each)"
set logscale y
set yrange [*:*]
set key top right
plot dat using $(col n):$(col reb_join_segs) with linespoints lw 2 pt 7 title "join: mean per node", \
     dat using $(col n):$(col reb_join_rx_max) with linespoints lw 1 pt 6 title "join: busiest receiver", \
     dat using $(col n):(8192.0 / (column($(col n)) + 1)) with lines lw 1 dt 2 title "ideal joiner: 2 x 4096/(N+1)", \
     dat using $(col n):$(col reb_leave_segs) with linespoints lw 2 pt 5 title "leave: mean per node", \
     dat using $(col n):$(col reb_leave_rx_max) with linespoints lw 1 pt 4 title "leave: busiest receiver", \
     dat using $(col n):$(col reb_leave_tx_max) with linespoints lw 1 pt 8 title "leave: busiest sender"
EOF
echo "sim_scale: wrote $out/sim_scale.dat and" \
  "$out/sim_{detect,packets,moved,converge,rebalance}.png"
