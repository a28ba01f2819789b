#!/bin/sh
# plot.sh [CSV [SVG]] - p50 and p99 of handoff and notify against T, per implementation
#
# Reads the CSV of `exitleft-bench --csv` (default bench/figures/results.csv) and writes an
# SVG (default bench/figures/handoff-notify.svg; a name ending in .png makes a PNG) with
# gnuplot: one panel per bench, log-scale latency, solid lines p50, dashed p99; the floor,
# measured with 2 threads, is drawn flat across T.
set -eu
here=$(dirname "$0")
csv=${1:-$here/figures/results.csv}
svg=${2:-$here/figures/handoff-notify.svg}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One whitespace-separated file per bench and impl: T p50 p99.
for bench in handoff notify; do
	for impl in stage stage-fd stage-fd-epoll floor broadcast mutex; do
		awk -F, -v b="$bench" -v i="$impl" '
			$1 == b && $2 == i && i == "floor" {
				for (t = 2; t <= 64; t *= 2) print t, $5, $6; next }
			$1 == b && $2 == i { print $3, $5, $6 }' "$csv" >"$tmp/$bench-$impl.dat"
	done
done

plot_panel() {
	bench=$1
	sep=""
	cmd=""
	for impl in stage stage-fd stage-fd-epoll floor broadcast mutex; do
		f="$tmp/$bench-$impl.dat"
		[ -s "$f" ] || continue
		case $impl in
		stage) c=1 ;; floor) c=2 ;; broadcast) c=3 ;; mutex) c=4 ;;
		stage-fd) c=5 ;; stage-fd-epoll) c=6 ;;
		esac
		cmd="$cmd$sep'$f' using 1:2 with linespoints ls $c dt 1 title '$impl p50',"
		cmd="$cmd '$f' using 1:3 with linespoints ls $c dt 2 title '$impl p99'"
		sep=", "
	done
	echo "set title '$bench: latency against threads (median of runs)'"
	echo "plot $cmd"
}

{
	case $svg in
	*.png) echo "set terminal pngcairo size 1100,520 font 'sans,10'" ;;
	*) echo "set terminal svg size 1100,520 dynamic font 'sans,11'" ;;
	esac
	echo "set output '$svg'"
	echo "set multiplot layout 1,2"
	echo "set logscale xy"
	echo "set xtics (2, 4, 8, 16, 64)"
	echo "set xlabel 'threads T'"
	echo "set ylabel 'ns'"
	echo "set grid"
	echo "set key below font ',9' maxrows 3"
	echo "set format y '%.0s%c'"
	echo "set style line 1 lc rgb '#1f77b4' lw 2 pt 7"
	echo "set style line 2 lc rgb '#555555' lw 2 pt 0"
	echo "set style line 3 lc rgb '#d62728' lw 2 pt 5"
	echo "set style line 4 lc rgb '#2ca02c' lw 2 pt 9"
	echo "set style line 5 lc rgb '#9467bd' lw 2 pt 11"
	echo "set style line 6 lc rgb '#ff7f0e' lw 2 pt 13"
	plot_panel handoff
	plot_panel notify
	echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "wrote $svg"
