#!/bin/sh
# check-abi.sh ABIDIR LIB INCLUDEDIR - the library's ABI is compatible with the stored
# baseline of every release in ABIDIR (libexitleft-X.Y.Z.abi, made by scripts/update-abi.sh),
# the latest one included: abidiff reports nothing but added functions (which go into a new
# version node) and exits 0. Any other report (a changed parameter or return type, a changed
# public struct, a removed symbol, a symbol moved to another version) fails.
#
# abidiff needs the library's DWARF; a build without debug info (buildtype=release or plain
# without -g) cannot be checked, and the test is skipped rather than reduced to symbols.
set -eu
abidir=$1 lib=$2 incdir=$3
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
	echo "$lib has no debug info: cannot compare types; build with -g to check the ABI"
	exit 77
fi
baselines=$(find "$abidir" -name 'libexitleft-*.abi' | sort -V)
[ -n "$baselines" ] || { echo "no baseline in $abidir"; exit 1; }
status=0
for baseline in $baselines; do
	# Same view of the library as the baseline's: public types only, its own symbols.
	if abidiff --no-added-syms --fail-no-debug-info --drop-private-types \
		--headers-dir2 "$incdir" "$baseline" "$lib"; then
		echo "ABI compatible with $(basename "$baseline")"
	else
		rc=$?
		echo "abidiff exited with $rc: the ABI of $(basename "$lib") breaks" \
			"$(basename "$baseline")"
		echo "(bits: 1 tool error, 2 usage error, 4 ABI change, 8 incompatible ABI change)"
		status=1
	fi
done
latest=$(echo "$baselines" | tail -n 1)
echo "latest release checked: $(basename "$latest" .abi)"
exit $status
