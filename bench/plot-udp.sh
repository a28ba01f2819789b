#!/bin/sh
# plot-udp.sh [CSV] [SVG] - throughput and p99 RTT against peers, from exitleft-udp-bench --csv
# Defaults: bench/figures/udp-results.csv -> bench/figures/udp.svg. Needs gnuplot.
set -eu
here=$(dirname "$0")
csv=${1:-$here/figures/udp-results.csv}
svg=${2:-$here/figures/udp.svg}
command -v gnuplot >/dev/null || { echo "plot-udp.sh: gnuplot not found" >&2; exit 1; }
head -n 1 "$csv" | grep -q '^bench,impl,peers,datagrams,lost,p50_us,p99_us,dgrams_per_s,' ||
	{ echo "plot-udp.sh: $csv is not exitleft-udp-bench --csv output" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for impl in stage broadcast dispatcher connected; do
	awk -F, -v i="$impl" 'NR > 1 && $2 == i { print $3, $8, $7 }' "$csv" >"$tmp/$impl.dat"
done
gnuplot <<GP
set terminal svg size 960,420 dynamic font "sans,11"
set output "$svg"
set multiplot layout 1,2 title "exitleft-udp-bench: UDP echo, ping-pong on loopback (medians)"
set logscale x 2
set xlabel "peers"
set key top right
set grid
set xtics (1, 8, 64, 256)
set ylabel "datagrams/s"
set yrange [0:*]
set title "throughput (higher is better)"
plot "$tmp/stage.dat" u 1:2 w lp lw 2 t "stage", \
     "$tmp/broadcast.dat" u 1:2 w lp t "broadcast", \
     "$tmp/dispatcher.dat" u 1:2 w lp t "dispatcher", \
     "$tmp/connected.dat" u 1:2 w lp dt 2 t "connected (floor)"
set logscale y 10
set yrange [*:*]
set ylabel "p99 round trip (us)"
set title "p99 RTT (lower is better)"
plot "$tmp/stage.dat" u 1:3 w lp lw 2 t "stage", \
     "$tmp/broadcast.dat" u 1:3 w lp t "broadcast", \
     "$tmp/dispatcher.dat" u 1:3 w lp t "dispatcher", \
     "$tmp/connected.dat" u 1:3 w lp dt 2 t "connected (floor)"
unset multiplot
GP
echo "wrote $svg"
