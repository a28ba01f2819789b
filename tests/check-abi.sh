#!/bin/sh
# check-abi.sh BASELINE LIB INCLUDEDIR - the library's ABI is compatible with the stored
# baseline of the last release: abidiff reports nothing but added functions (which go into a
# new version node) and exits 0. Any other report (a changed parameter or return type, a
# changed public struct, a removed symbol, a symbol moved to another version) fails.
#
# abidiff needs the library's DWARF; a build without debug info (buildtype=release or plain
# without -g) cannot be checked, and the test is skipped rather than reduced to symbols.
set -eu
baseline=$1 lib=$2 incdir=$3
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
	echo "$lib has no debug info: cannot compare types; build with -g to check the ABI"
	exit 77
fi
# Same view of the library as the baseline's: public types only, the library's own symbols.
if abidiff --no-added-syms --fail-no-debug-info --drop-private-types \
	--headers-dir2 "$incdir" "$baseline" "$lib"; then
	echo "ABI compatible with $(basename "$baseline")"
	exit 0
else
	rc=$?
fi
echo "abidiff exited with $rc: the ABI of $(basename "$lib") breaks $(basename "$baseline")"
echo "(bits: 1 tool error, 2 usage error, 4 ABI change, 8 incompatible ABI change)"
exit 1
