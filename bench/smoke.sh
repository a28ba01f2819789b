#!/bin/sh
# smoke.sh BENCH - runs `BENCH --csv --quick` and checks the header and the row count:
# handoff 1 floor + 5 T x 3 impls, notify 1 floor + 5 T x 2 impls, scale 2 sizes x 4 rows.
set -eu
header=bench,impl,threads,tickets,p50_ns,p99_ns,max_ns,ops_per_s,
header=${header}cpu_ns_per_op,csw_per_op,futile_per_op,fair_max
expected=$((16 + 11 + 8))
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
echo "ok: $rows rows"
