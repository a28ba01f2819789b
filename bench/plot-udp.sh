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
# Each impl's points (peers, datagrams/s, p99) and its curve in each panel: IMPL|STYLE|TITLE.
# An impl the CSV has no rows for (dispatcher-mmsg, in a CSV from before it) is left out
# rather than drawn empty.
rate='' rtt=''
while IFS='|' read -r impl style title; do
	awk -F, -v i="$impl" 'NR > 1 && $2 == i { print $3, $8, $7 }' "$csv" >"$tmp/$impl.dat"
	[ -s "$tmp/$impl.dat" ] || continue
	rate="$rate${rate:+, }\"$tmp/$impl.dat\" u 1:2 w lp $style t \"$title\""
	rtt="$rtt${rtt:+, }\"$tmp/$impl.dat\" u 1:3 w lp $style t \"$title\""
done <<'IMPLS'
stage|lw 2|stage
broadcast||broadcast
dispatcher||dispatcher
dispatcher-mmsg|dt 3|dispatcher-mmsg
connected|dt 2|connected (floor)
IMPLS
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
plot $rate
set logscale y 10
set yrange [*:*]
set ylabel "p99 round trip (us)"
set title "p99 RTT (lower is better)"
plot $rtt
unset multiplot
GP
echo "wrote $svg"
