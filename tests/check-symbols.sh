#!/bin/sh
# check-symbols.sh LIB MAP - the shared library exports exactly the map's functions, each at
# @@EXITLEFT_1.0, carries the SONAME libexitleft.so.1, and never imports exit() or abort()
# directly (uthash's fatal out-of-memory path is compiled out).
set -eu
lib=$1 map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort >"$tmp/exported"
sed -n 's/^[[:space:]]*\(exitleft_[a-z0-9_]*\);$/\1@@EXITLEFT_1.0/p' "$map" | sort >"$tmp/mapped"
if ! cmp -s "$tmp/exported" "$tmp/mapped"; then
	echo "exported symbols differ from $map (< exported, > map):"
	diff "$tmp/exported" "$tmp/mapped" || true
	exit 1
fi
other=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $2 != "T" { print $3 }')
if [ -n "$other" ]; then
	echo "unexpected exported objects: $other"
	exit 1
fi
readelf -d "$lib" | grep -q 'Library soname: \[libexitleft.so.1\]' || {
	echo "SONAME is not libexitleft.so.1"
	exit 1
}
if nm -D --undefined-only "$lib" | grep -Eq ' U (exit|_exit|abort)(@|$)'; then
	echo "the library imports exit or abort:"
	nm -D --undefined-only "$lib" | grep -E ' U (exit|_exit|abort)'
	exit 1
fi
echo "$(wc -l <"$tmp/exported") symbols, all @@EXITLEFT_1.0, SONAME libexitleft.so.1, no exit"
