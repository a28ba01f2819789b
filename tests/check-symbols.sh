#!/bin/sh
# check-symbols.sh LIB MAP HEADER - three lists of the public functions are the same set:
#   - the shared library's dynamic symbols, each at the default version (@@) of its node,
#   - the version script's nodes (EXITLEFT_1.0, then each later node inheriting the one
#     before it),
#   - the header's EXITLEFT_EXPORT declarations (and no exitleft_ prototype without it).
# The library also exports no objects, carries the SONAME libexitleft.so.1, and never
# imports exit() or abort() directly (uthash's fatal out-of-memory path is compiled out).
set -eu
lib=$1 map=$2 header=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "$*"; exit 1; }

nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$tmp/exported"
# name@@NODE for every name in the global part of each node; the nodes' chain into a file.
awk -v chain="$tmp/chain" '
	/^[A-Z0-9_.]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node); local = 0; next }
	node != "" && /^[[:space:]]*local:/ { local = 1; next }
	node != "" && /^[[:space:]]*global:/ { local = 0; next }
	node != "" && /^[[:space:]]*\}/ {
		parent = $0; sub(/^[[:space:]]*\}[[:space:]]*/, "", parent); sub(/;.*/, "", parent)
		print node, (parent == "" ? "-" : parent) >chain
		node = ""; next
	}
	node != "" && !local && /^[[:space:]]*exitleft_[a-z0-9_]*;/ {
		name = $1; sub(/;.*/, "", name); print name "@@" node
	}' "$map" | sort >"$tmp/mapped"
if ! cmp -s "$tmp/exported" "$tmp/mapped"; then
	echo "exported symbols differ from $map (< exported, > map):"
	diff "$tmp/exported" "$tmp/mapped" || true
	exit 1
fi
# The first node is EXITLEFT_1.0 and stands alone; every later one inherits its predecessor.
awk 'NR == 1 && !($1 == "EXITLEFT_1.0" && $2 == "-") { bad = 1 }
     NR > 1 && $2 != prev { bad = 1 }
     { prev = $1 } END { exit bad }' "$tmp/chain" ||
	fail "version nodes must chain: EXITLEFT_1.0, then each inheriting the one before:
$(cat "$tmp/chain")"

# Declarations: the function names on EXITLEFT_EXPORT lines. Any other line that starts a
# prototype of an exitleft_ function at column 0 lacks the export attribute.
sed -n 's/^EXITLEFT_EXPORT[^(]*[ *]\(exitleft_[a-z0-9_]*\)(.*/\1/p' "$header" | sort \
	>"$tmp/declared"
missing_attr=$(grep -E '^[a-z].*[ *]exitleft_[a-z0-9_]*\(' "$header" |
	grep -v '^EXITLEFT_EXPORT' || true)
[ -z "$missing_attr" ] || fail "declared without EXITLEFT_EXPORT: $missing_attr"
sed 's/@@.*//' "$tmp/exported" | sort >"$tmp/exported-names"
if ! cmp -s "$tmp/exported-names" "$tmp/declared"; then
	echo "exported symbols differ from the declarations in $header (< exported, > header):"
	diff "$tmp/exported-names" "$tmp/declared" || true
	exit 1
fi

other=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $2 != "T" { print $3 }')
[ -z "$other" ] || fail "unexpected exported objects: $other"
readelf -d "$lib" | grep -q 'Library soname: \[libexitleft.so.1\]' ||
	fail "SONAME is not libexitleft.so.1"
if nm -D --undefined-only "$lib" | grep -Eq ' U (exit|_exit|abort)(@|$)'; then
	echo "the library imports exit or abort:"
	nm -D --undefined-only "$lib" | grep -E ' U (exit|_exit|abort)'
	exit 1
fi
nodes=$(sed 's/.*@@//' "$tmp/exported" | sort | uniq -c |
	awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }')
echo "$(wc -l <"$tmp/exported") symbols exported, mapped and declared alike ($nodes);" \
	"SONAME libexitleft.so.1; no exit"
