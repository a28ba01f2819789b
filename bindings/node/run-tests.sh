#!/bin/sh
# run-tests.sh BUILDDIR - the Node binding's tests (node --test) against BUILDDIR's
# libexitleft.so.1. koffi comes from the npm registry: install it once with `npm ci` in
# this directory (package-lock.json pins it; it ships prebuilt binaries, no compiler).
# Exits 77 (skipped, with the reason) when node or koffi is missing.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 BUILDDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)

command -v node >/dev/null 2>&1 || {
	echo "SKIP: no node (apt-get install nodejs): the Node binding is not tested"
	exit 77
}
cd "$here"
node -e 'require("koffi")' 2>/dev/null || {
	echo "SKIP: koffi is not installed (run: cd bindings/node && npm ci): the Node binding is not tested"
	exit 77
}
[ -e "$build/libexitleft.so.1" ] || { echo "no libexitleft.so.1 in $build" >&2; exit 1; }
echo "node $(node --version), koffi $(node -p 'require("koffi").version')"
EXITLEFT_LIBRARY=$build/libexitleft.so.1 exec node --test
