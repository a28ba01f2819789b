#!/bin/sh
# plot-sweep.sh CSV SVG [SELECTION...] - throughput and p99 against the sweep's variable, one
# line per impl, from the --csv output of exitleft-udp-bench (against peers),
# exitleft-mc-bench (against threads) or exitleft-tftp-bench (against clients). The columns
# are found by name in the header, the impls in the order of their first rows; the first impl
# is drawn bold (the stage). Without a SELECTION every row is plotted in one row of two
# panels; each SELECTION (column=value[,column=value...], e.g. file_bytes=65536,blksize=512)
# is a row of two panels of the rows that match it, for a bench whose grid has more columns
# than the one swept. Needs gnuplot.
set -eu
csv=$1 svg=$2
shift 2
command -v gnuplot >/dev/null || { echo "plot-sweep.sh: gnuplot not found" >&2; exit 1; }
# col NAME: the number of the column called NAME, or nothing.
col() { head -n 1 "$csv" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
# first NAME UNIT...: the first column of the NAME UNIT pairs the header has, as "number unit".
first() {
	while [ $# -ge 2 ]; do
		c=$(col "$1")
		[ -z "$c" ] || { echo "$c $2"; return; }
		shift 2
	done
}
set -- "$@" --
x=$(first peers peers threads threads clients clients)
rate=$(first dgrams_per_s datagrams/s gets_per_s GETs/s mb_per_s MB/s)
p99=$(first p99_us us p99_ms ms)
[ -n "$x" ] && [ -n "$rate" ] && [ -n "$p99" ] ||
	{ echo "plot-sweep.sh: $csv is not a bench's --csv output" >&2; exit 1; }
xname=${x#* } x=${x%% *} unit=${rate#* } rate=${rate%% *} p99unit=${p99#* } p99=${p99%% *}
bench=$(sed -n 2p "$csv" | cut -d, -f1)
# udp and mc print medians of runs; tftp's rows are one run each.
case $bench in tftp) what="one run per point" ;; *) what=medians ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The selections (all rows if none), each as an awk condition over the columns.
n=0
while [ "$1" != -- ]; do
	n=$((n + 1))
	cond=1
	for term in $(echo "$1" | tr , ' '); do
		c=$(col "${term%%=*}")
		[ -n "$c" ] && [ "$term" != "${term#*=}" ] ||
			{ echo "plot-sweep.sh: $term: not column=value of $csv" >&2; exit 1; }
		cond="$cond && \$$c == \"${term#*=}\""
	done
	echo "$cond" >"$tmp/cond.$n"
	echo " ($1)" >"$tmp/title.$n"
	shift
done
[ "$n" -gt 0 ] || { n=1; echo 1 >"$tmp/cond.1"; : >"$tmp/title.1"; }
impls=$(awk -F, 'NR > 1 && !seen[$2]++ { print $2 }' "$csv")
{
	echo "set terminal svg size 960,$((420 * n)) dynamic font \"sans,11\""
	echo "set output \"$svg\""
	echo "set multiplot layout $n,2 title \"$bench: $what against $xname\""
	echo "set key top left"
	echo "set grid"
	echo "set xlabel \"$xname\""
	i=1
	while [ "$i" -le "$n" ]; do
		cond=$(cat "$tmp/cond.$i")
		title=$(cat "$tmp/title.$i")
		# a selection's column names have _, which enhanced text would take for subscripts
		ne=
		[ -z "$title" ] || ne=" noenhanced"
		xtics=$(awk -F, -v c="$x" "NR > 1 && ($cond) && !seen[\$c]++ \
			{ printf \"%s%s\", n++ ? \", \" : \"\", \$c }" "$csv")
		plots_rate= plots_p99= width=2
		for impl in $impls; do
			awk -F, -v i="$impl" -v x="$x" -v r="$rate" -v p="$p99" \
				"NR > 1 && \$2 == i && ($cond) { print \$x, \$r, \$p }" "$csv" \
				>"$tmp/$impl.$i.dat"
			[ -s "$tmp/$impl.$i.dat" ] || { width=1; continue; }
			plots_rate="$plots_rate${plots_rate:+, }\"$tmp/$impl.$i.dat\" u 1:2 w lp lw $width t \"$impl\""
			plots_p99="$plots_p99${plots_p99:+, }\"$tmp/$impl.$i.dat\" u 1:3 w lp lw $width t \"$impl\""
			width=1
		done
		[ -n "$plots_rate" ] ||
			{ echo "plot-sweep.sh: no row of $csv matches$title" >&2; exit 1; }
		echo "unset logscale"
		echo "set logscale x 2"
		echo "set xtics ($xtics)"
		echo "set ylabel \"$unit\""
		echo "set yrange [0:*]"
		echo "set title \"throughput (higher is better)$title\"$ne"
		echo "plot $plots_rate"
		echo "set logscale y 10"
		echo "set yrange [*:*]"
		echo "set ylabel \"p99 ($p99unit)\""
		echo "set title \"p99 latency (lower is better)$title\"$ne"
		echo "plot $plots_p99"
		i=$((i + 1))
	done
	echo "unset multiplot"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "wrote $svg"
