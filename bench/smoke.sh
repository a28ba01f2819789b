#!/bin/sh
# smoke.sh BENCH - runs `BENCH --csv --quick` and checks the header and the row count:
# handoff 1 floor + 5 T x 4 impls (stage, stage-fd, broadcast, mutex), notify 1 floor +
# 5 T x 4 impls (stage, stage-fd, stage-fd-epoll, broadcast), scale 2 sizes x 4 rows; and
# that the pollable tickets' rows are there, one per T. Not the figures.
set -eu
header=bench,impl,threads,tickets,p50_ns,p99_ns,max_ns,ops_per_s,
header=${header}cpu_ns_per_op,csw_per_op,futile_per_op,fair_max
expected=$((21 + 21 + 8))
out=$("$1" --csv --quick)
first=$(printf '%s\n' "$out" | head -n 1)
if [ "$first" != "$header" ]; then
	echo "bad header: $first" >&2
	exit 1
fi
rows=$(printf '%s\n' "$out" | tail -n +2 | grep -c .)
if [ "$rows" -ne "$expected" ]; then
	printf '%s\n' "$out" >&2
	echo "expected $expected rows, got $rows" >&2
	exit 1
fi
# Every row has the 12 fields of the header.
bad=$(printf '%s\n' "$out" | awk -F, 'NF != 12' | head -n 1)
if [ -n "$bad" ]; then
	echo "malformed row: $bad" >&2
	exit 1
fi
# bench,impl: how many rows each pair must have.
for want in handoff,stage-fd notify,stage-fd notify,stage-fd-epoll; do
	n=$(printf '%s\n' "$out" | grep -c "^$want,") || true
	if [ "$n" -ne 5 ]; then
		echo "expected 5 rows of $want, got $n" >&2
		exit 1
	fi
done
echo "ok: $rows rows"
