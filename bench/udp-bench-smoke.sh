#!/bin/sh
# udp-bench-smoke.sh BENCH - exitleft-udp-bench --quick --csv: exact header, one row per case.
set -u
out=$(timeout 30 "$1" --quick --csv 2>/dev/null) || { echo "FAIL: bench exited $?" >&2; exit 1; }
header=bench,impl,peers,datagrams,lost,p50_us,p99_us,dgrams_per_s,cpu_us_per_dgram
header=$header,csw_per_dgram,recv_calls_per_dgram
first=$(printf '%s\n' "$out" | head -n 1)
[ "$first" = "$header" ] || { echo "FAIL: header is '$first'" >&2; exit 1; }
impls='\(stage\|broadcast\|dispatcher\|dispatcher-mmsg\|connected\)'
rows=$(printf '%s\n' "$out" | tail -n +2 | grep -c "^udp,$impls,[0-9]*,[1-9]")
[ "$rows" -eq 10 ] || { echo "FAIL: $rows good rows, expected 10:" >&2; echo "$out" >&2; exit 1; }
lost=$(printf '%s\n' "$out" | tail -n +2 | awk -F, '$5 != 0' | wc -l)
[ "$lost" -eq 0 ] || { echo "FAIL: rows with lost datagrams:" >&2; echo "$out" >&2; exit 1; }
printf '%s\n' "$out"
