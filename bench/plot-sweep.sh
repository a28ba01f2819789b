#!/bin/sh
# plot-sweep.sh CSV SVG - throughput and p99 against the sweep's variable, one line per impl,
# from the --csv output of exitleft-udp-bench (against peers) or exitleft-mc-bench (against
# threads). The columns are found by name in the header, the impls in the order of their
# first rows; the first impl is drawn bold (the stage). Needs gnuplot.
set -eu
csv=$1 svg=$2
command -v gnuplot >/dev/null || { echo "plot-sweep.sh: gnuplot not found" >&2; exit 1; }
# col NAME: the number of the column called NAME, or nothing.
col() { head -n 1 "$csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
x=$(col peers)
xname=peers
[ -n "$x" ] || { x=$(col threads); xname=threads; }
rate=$(col dgrams_per_s)
unit=datagrams/s
[ -n "$rate" ] || { rate=$(col gets_per_s); unit=GETs/s; }
p99=$(col p99_us)
[ -n "$x" ] && [ -n "$rate" ] && [ -n "$p99" ] ||
	{ echo "plot-sweep.sh: $csv is not a bench's --csv output" >&2; exit 1; }
bench=$(sed -n 2p "$csv" | cut -d, -f1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
impls=$(awk -F, 'NR > 1 && !seen[$2]++ { print $2 }' "$csv")
xtics=$(awk -F, -v c="$x" 'NR > 1 && !seen[$c]++ { printf "%s%s", n++ ? ", " : "", $c }' "$csv")
plots_rate= plots_p99= width=2
for impl in $impls; do
	awk -F, -v i="$impl" -v x="$x" -v r="$rate" -v p="$p99" \
		'NR > 1 && $2 == i { print $x, $r, $p }' "$csv" >"$tmp/$impl.dat"
	plots_rate="$plots_rate${plots_rate:+, }\"$tmp/$impl.dat\" u 1:2 w lp lw $width t \"$impl\""
	plots_p99="$plots_p99${plots_p99:+, }\"$tmp/$impl.dat\" u 1:3 w lp lw $width t \"$impl\""
	width=1
done
gnuplot <<GP
set terminal svg size 960,420 dynamic font "sans,11"
set output "$svg"
set multiplot layout 1,2 title "$bench: medians against $xname"
set logscale x 2
set xlabel "$xname"
set key top left
set grid
set xtics ($xtics)
set ylabel "$unit"
set yrange [0:*]
set title "throughput (higher is better)"
plot $plots_rate
set logscale y 10
set yrange [*:*]
set ylabel "p99 (us)"
set title "p99 latency (lower is better)"
plot $plots_p99
unset multiplot
GP
echo "wrote $svg"
