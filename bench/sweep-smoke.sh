#!/bin/sh
# sweep-smoke.sh BENCH HEADER IMPLS ROWS ZERO - runs `BENCH --quick --csv` and checks its
# shape, not its figures: the header is exactly HEADER; there are ROWS rows, each with as
# many fields as the header, an impl matching the extended regex IMPLS and a positive count
# in the fourth field; field ZERO (lost datagrams, errors) is 0 in every row. A bench that
# exits 77 (a peer it needs is not installed) is a skip, its reason passed on.
set -u
bench=$1 header=$2 impls=$3 rows=$4 zero=$5
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$(timeout 50 "$bench" --quick --csv 2>"$err")
rc=$?
if [ "$rc" -eq 77 ]; then
	cat "$err"
	exit 77
fi
fail() {
	echo "FAIL: $*" >&2
	printf '%s\n' "$out" >&2
	cat "$err" >&2
	exit 1
}
[ "$rc" -eq 0 ] || fail "bench exited $rc"
first=$(printf '%s\n' "$out" | head -n 1)
[ "$first" = "$header" ] || fail "header is '$first', not '$header'"
fields=$(printf '%s\n' "$header" | awk -F, '{ print NF }')
good=$(printf '%s\n' "$out" | tail -n +2 | awk -F, -v n="$fields" -v z="$zero" \
	-v re="^($impls)\$" 'NF == n && $2 ~ re && $4 > 0 && $z == 0' | wc -l)
all=$(printf '%s\n' "$out" | tail -n +2 | grep -c .)
[ "$good" -eq "$rows" ] && [ "$all" -eq "$rows" ] ||
	fail "$good good rows of $all, expected $rows (field $zero must be 0)"
printf '%s\n' "$out"
