#!/bin/sh
# mc-bench-smoke.sh BENCH - exitleft-mc-bench --quick --csv: exact header, one row per case
# (2 thread counts x 4 clients), no errors. The bench's 77 (memcached not installed) is a
# skip, its reason passed on.
set -u
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$(timeout 50 "$1" --quick --csv 2>"$err")
rc=$?
if [ "$rc" -eq 77 ]; then
	cat "$err"
	exit 77
fi
if [ "$rc" -ne 0 ]; then
	cat "$err" >&2
	echo "FAIL: bench exited $rc" >&2
	exit 1
fi
header='bench,impl,threads,requests,p50_us,p99_us,gets_per_s,cpu_us_per_get,csw_per_get,errors'
first=$(printf '%s\n' "$out" | head -n 1)
[ "$first" = "$header" ] || { echo "FAIL: header is '$first'" >&2; exit 1; }
impls='\(stage\|dispatcher\|per-thread\|broadcast\)'
rows=$(printf '%s\n' "$out" | tail -n +2 | grep -c "^mc,$impls,[0-9]*,[1-9]")
[ "$rows" -eq 8 ] || { echo "FAIL: $rows good rows, expected 8:" >&2; echo "$out" >&2; exit 1; }
bad=$(printf '%s\n' "$out" | tail -n +2 | awk -F, 'NF != 10 || $10 != 0' | wc -l)
[ "$bad" -eq 0 ] || { echo "FAIL: rows with errors:" >&2; echo "$out" >&2; exit 1; }
printf '%s\n' "$out"
cat "$err"
