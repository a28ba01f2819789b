#!/bin/sh
# update-abi.sh [BUILDDIR] - regenerate abi/libexitleft.so.1.abi, the ABI baseline that
# tests/check-abi.sh compares every build against. Run it ONLY when cutting a release, on a
# build with debug info (the default buildtype, debugoptimized): between releases the
# baseline is the last release's ABI, and a change that breaks it must fail the test.
#
# The flags keep the file free of machine paths (--short-locs, --no-comp-dir-path,
# --no-corpus-path) and limited to the public interface: types declared in the installed
# header only (--headers-dir with --drop-private-types: the opaque structs' insides may
# change freely) and the library's own symbols (--drop-undefined-syms).
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ninja -C "$build" >/dev/null
meson install -C "$build" --no-rebuild --destdir "$tmp/root" >/dev/null
header=$(find "$tmp/root" -name exitleft.h)
lib=$(find "$tmp/root" -name 'libexitleft.so.1.*' -type f)
mkdir -p abi
abidw --short-locs --no-comp-dir-path --no-corpus-path --drop-private-types \
	--drop-undefined-syms --headers-dir "$(dirname "$header")" \
	--out-file abi/libexitleft.so.1.abi "$lib"
echo "abi/libexitleft.so.1.abi: $(grep -c '<elf-symbol ' abi/libexitleft.so.1.abi) symbols" \
	"from $(basename "$lib")"
