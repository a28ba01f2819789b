#!/bin/sh
# update-abi.sh [BUILDDIR] - store abi/libexitleft-VERSION.abi, the ABI baseline of the
# release VERSION (meson.build's version) that tests/check-abi.sh compares every later build
# against, with the baselines of the releases before it. Run it ONLY when cutting a release,
# on a build with debug info (the default buildtype, debugoptimized): between releases the
# baselines are the released ABIs, and a change that breaks one must fail the test.
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
version=$(meson introspect --projectinfo "$build" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
out=abi/libexitleft-$version.abi
mkdir -p abi
abidw --short-locs --no-comp-dir-path --no-corpus-path --drop-private-types \
	--drop-undefined-syms --headers-dir "$(dirname "$header")" \
	--out-file "$out" "$lib"
echo "$out: $(grep -c '<elf-symbol ' "$out") symbols from $(basename "$lib")"
